"""Phrases of Django and other packages that their Russian catalogs lack, marked here so that
makemessages keeps them in locale/ru (LOCALE_PATHS is searched before the packages' own catalogs)."""

from django.utils.translation import gettext_noop, ngettext_lazy

STRINGS = [
    # django/contrib/admin/templates/admin/date_hierarchy.html: "Filter by дата создания" otherwise.
    gettext_noop("Filter by %(field_name)s"),
    # django/contrib/admin/options.py: Django's Russian puts the model's name first and agrees the
    # verb with a masculine one ("доставка … был успешно изменен"); ours says "Сохранено: доставка
    # «…»", right for every model.
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("You may edit it again below."),  # follows the line above on "save and continue"
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    ngettext_lazy(
        "%(count)s %(name)s was changed successfully.", "%(count)s %(name)s were changed successfully."
    ),
]
