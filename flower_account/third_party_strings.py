"""Phrases of Django and other packages that their Russian catalogs lack, marked here so that
makemessages keeps them in locale/ru (LOCALE_PATHS is searched before the packages' own catalogs)."""

from django.utils.translation import gettext_noop

STRINGS = [
    # django/contrib/admin/templates/admin/date_hierarchy.html: "Filter by дата создания" otherwise.
    gettext_noop("Filter by %(field_name)s"),
]
