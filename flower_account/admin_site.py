"""The project's admin site (Django's documented way: `AdminConfig.default_site`): the app list in
the order staff work (customers first, amoCRM's plumbing last) and "—" for an empty value."""

from django.contrib import admin
from django.http import HttpRequest

# Apps not named here go between these and amoCRM, alphabetically as Django sorts them.
FIRST = ["accounts", "emails"]
LAST = ["amocrm"]


def _place(app: dict) -> tuple[int, int | str]:
    label = app["app_label"]
    if label in FIRST:
        return (0, FIRST.index(label))
    if label in LAST:
        return (2, LAST.index(label))
    return (1, app["name"].lower())


class SiteAdmin(admin.AdminSite):
    empty_value_display = "—"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        return sorted(super().get_app_list(request, app_label), key=_place)
