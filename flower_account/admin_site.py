"""The project's admin site (Django's documented way: `AdminConfig.default_site`): the app list in
the order staff work (customers first, amoCRM's plumbing last), "—" for an empty value, and the
count under each list in Russian plurals ("26 доставок"; Django writes "26 доставки", the model's
plural name whatever the number), and a list named for what it holds where the model's name says less."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

# Apps not named here go between these and amoCRM, alphabetically as Django sorts them.
FIRST = ["accounts", "emails"]
LAST = ["amocrm"]

# The count under a list, by model; a list not named here says "Письма: 26".
COUNTS = {
    "accounts.profile": ngettext_lazy("%(count)s profile", "%(count)s profiles", "count"),
    "accounts.delivery": ngettext_lazy("%(count)s delivery", "%(count)s deliveries", "count"),
    "accounts.invoice": ngettext_lazy("%(count)s invoice", "%(count)s invoices", "count"),
    "accounts.user": ngettext_lazy("%(count)s staff account", "%(count)s staff accounts", "count"),
    "accounts.bouquetcategory": ngettext_lazy("%(count)s category", "%(count)s categories", "count"),
    "emails.email": ngettext_lazy("%(count)s email", "%(count)s emails", "count"),
    "amocrm.leadsync": ngettext_lazy("%(count)s lead sync", "%(count)s lead syncs", "count"),
    "amocrm.leadnote": ngettext_lazy("%(count)s note", "%(count)s notes", "count"),
    "amocrm.leadtask": ngettext_lazy("%(count)s task", "%(count)s tasks", "count"),
    "amocrm.webhookevent": ngettext_lazy("%(count)s webhook event", "%(count)s webhook events", "count"),
}

# A list's name in the app list and the sidebar, where it is not the model's plural name: the users
# list shows staff only (a customer's user is edited on the customer card, accounts.admin.UserAdmin).
LIST_NAMES = {"accounts.user": _("Staff accounts")}


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
        apps = sorted(super().get_app_list(request, app_label), key=_place)
        for app in apps:
            for model in app["models"]:
                model["name"] = LIST_NAMES.get(model["model"]._meta.label_lower, model["name"])
            app["models"].sort(key=lambda model: str(model["name"]))  # as Django sorts them
        return apps
