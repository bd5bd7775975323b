"""Site events, webhook events and the fields they changed by the names staff know, not by their
codes ("delivery_completed", "update", "wishes"): labels and list filters for amocrm.admin."""

import datetime

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from accounts import formatting
from accounts.models import Profile
from accounts.signals import Action
from amocrm.models import CustomField
from amocrm.webhooks import ACTION_LABELS


class NoteKindFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return Action.choices

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class WebhookActionFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return list(ACTION_LABELS.items())

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


def field_label(name: str) -> str:
    """A field an event changed, as staff know it: the profile's field, or the amoCRM field's key."""
    try:
        return str(Profile._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        pass
    return str(CustomField.Key(name).label) if name in CustomField.Key.values else name


def webhook_action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code, code))


def iso_moment(value: object) -> str:
    """A time stored as ISO text (in JSON), as staff read it."""
    try:
        return formatting.moment(datetime.datetime.fromisoformat(str(value)))
    except ValueError:
        return formatting.NOTHING
