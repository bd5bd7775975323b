"""Lists staff work in (deliveries, profiles, failed syncs) use the whole screen.

At 1280 px Django's app sidebar (about 290 px) beside a list's filters left the table 600 px, and
an address or an error pushed it sideways. These lists go without the app sidebar, as a popup list
already does; the breadcrumbs and the index lead everywhere else. Their columns are chosen for the
width that is left (tests/e2e/test_admin_screenshots.py measures it).
"""

from django import forms
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

SHORT = 28  # characters of an email a list cell shows; the whole of it is its tooltip


class WideListMixin:
    @property
    def media(self) -> forms.Media:
        return super().media + forms.Media(css={"all": ["css/admin.css"]})  # a customer's email on one line

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})


def shortened(text: str, *, chars: int = SHORT) -> str:
    """A long text (an email) cut for a list cell, whole in its tooltip; "—" for none. Addresses and
    errors are never cut: their end is what staff read."""
    if not text:
        return "—"
    short = Truncator(text).chars(chars)
    return format_html('<span title="{}">{}</span>', text, short) if short != text else text
