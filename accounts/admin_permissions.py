"""Permissions in Russian on the user's and the group's pages.

Django writes `Permission.name` once, at migrate, in English ("Can add delivery"), so translating it
is left to whoever shows it. Here the label is built when shown: the app and the model by their
(translated) verbose names, then what the permission allows: Django's four by their codename,
others (Meta.permissions, written with `_()`) through the catalogue. The model is named on its own,
so no case needs agreeing: "Клиенты | доставка | Может изменять". Staff who may only view a user or a
group read the same labels (Django's read-only field would print `str(permission)`, in English).

Deleting a user or a group lists, besides what goes with it, each link of its many-to-many tables
("Связь group-permission: Group_permissions object (1)"): those lines are left out (the links go,
the permissions and the other side stay).
"""

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils.html import format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DEFAULT_ACTIONS = {
    "add": _("Can add"),
    "change": _("Can change"),
    "delete": _("Can delete"),
    "view": _("Can view"),
}


def permission_label(permission: Permission) -> str:
    content_type = permission.content_type
    model = content_type.model_class()
    if model is None:  # a model removed from the code, its rows still in the table
        return str(permission)
    opts = model._meta
    action, _sep, model_name = permission.codename.partition("_")
    if model_name == opts.model_name and action in DEFAULT_ACTIONS:
        allows = str(DEFAULT_ACTIONS[action])
    else:
        allows = gettext(permission.name)
    # gettext() again: names other packages leave untranslated (django_tasks_db's) are in locale/ru.
    return " | ".join([gettext(str(opts.app_config.verbose_name)), gettext(str(opts.verbose_name)), allows])


def _links() -> tuple[set[str], set[str]]:
    """How Django's delete page names the auto-created many-to-many tables: in the list, in the summary."""
    tables = [m._meta for m in apps.get_models(include_auto_created=True) if m._meta.auto_created]
    return {str(capfirst(t.verbose_name)) for t in tables}, {str(t.verbose_name_plural) for t in tables}


def _without(items: list, names: set[str]) -> list:
    kept = []
    for item in items:
        if isinstance(item, list):
            kept.append(_without(item, names))
        elif str(item).split(":", 1)[0] not in names:
            kept.append(item)
    return kept


def _labels(permissions) -> str:
    labels = sorted(permission_label(p) for p in permissions.select_related("content_type"))
    return format_html_join("", "<div>{}</div>", ((label,) for label in labels)) or "—"


User = get_user_model()

# The permission fields and what a view-only page shows in their place.
READ_ONLY_LABELS = {"permissions": "permission_labels", "user_permissions": "user_permission_labels"}


class PermissionLabelsMixin:
    """For admins with a permissions widget (the user's and the group's)."""

    @admin.display(description=Group._meta.get_field("permissions").verbose_name)
    def permission_labels(self, obj) -> str:
        return _labels(obj.permissions)

    @admin.display(description=User._meta.get_field("user_permissions").verbose_name)
    def user_permission_labels(self, obj) -> str:
        return _labels(obj.user_permissions)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": [READ_ONLY_LABELS.get(f, f) for f in options["fields"]]})
            for name, options in fieldsets
        ]

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        names, plurals = _links()
        counts = {name: n for name, n in model_count.items() if str(name) not in plurals}
        return _without(to_delete, names), counts, perms_needed, protected

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request=request, **kwargs)
        if field is not None and db_field.remote_field.model is Permission:
            field.queryset = field.queryset.select_related("content_type")
            field.label_from_instance = permission_label
        return field
