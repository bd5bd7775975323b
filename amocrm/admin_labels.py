"""Site events, webhook events and the fields they changed by the names staff know, not by their
codes ("delivery_completed", "update", "wishes"): labels and list filters for amocrm.admin."""

import datetime

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts import formatting
from accounts.models import Profile
from accounts.signals import Action
from amocrm import mapping
from amocrm.exceptions import AmoCRMMappingError
from amocrm.models import CustomField
from amocrm.services.fields import field_map_load
from amocrm.webhooks import ACTION_LABELS


class _ActionFilter(admin.SimpleListFilter):
    """The `action` column by its labels (the column stores codes and has no choices of its own)."""

    title = _("event")
    parameter_name = "action"
    actions: list[tuple[str, str]] = []  # (code, label); not `choices`, the filter's own method

    def lookups(self, request, model_admin):
        return self.actions

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class NoteKindFilter(_ActionFilter):
    actions = Action.choices


class WebhookActionFilter(_ActionFilter):
    actions = list(ACTION_LABELS.items())


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


# The lead's own fields the site sets besides its custom fields (mapping.lead_state).
LEAD_KEYS = {"name": _("lead name"), "price": _("lead budget"), "status_id": _("lead stage id")}


def values_sent(values: dict | None) -> str:
    """What amoCRM was last sent (mapping.lead_state: the lead's name, budget and stage, and per field
    its `custom_fields_values` item), one field a line, by name and as staff read the value."""
    fields = field_map_load()  # once for all the lines: the enum ids and the account's time zone
    lines = []
    for key, value in (values or {}).items():
        name = CustomField.Key(key).label if key in CustomField.Key.values else LEAD_KEYS.get(key, key)
        if key == "price":
            shown = formatting.rubles(value)
        else:
            shown = value_label(key, _sent_value(key, value, fields) if isinstance(value, dict) else value)
        lines.append(f"{capfirst(name)}: {shown}")
    return "\n".join(lines) or formatting.NOTHING


def _sent_value(key: str, item: dict, fields: mapping.FieldMap) -> object:
    """The site's value in a `custom_fields_values` item, read back as the sync reads amoCRM's (a date
    in the account's time zone, a choice by its site value); amoCRM's value or enum id when that fails."""
    spec = mapping.FIELDS_BY_KEY.get(key)
    pairs = [(v.get("value"), v.get("enum_id")) for v in item.get("values") or [] if isinstance(v, dict)]
    try:
        return mapping.decode_value(spec, pairs, fields) if spec else item
    except (AmoCRMMappingError, ValueError):
        # decode_value fails only on a pair that holds something: the first such pair, as amoCRM has it
        value, enum_id = next(pair for pair in pairs if any(part not in (None, "") for part in pair))
        return value if enum_id in (None, "") else enum_id


def value_label(key: str, value: object) -> str:
    """A synced field's value as staff read it: a date by name, a sum in roubles, a choice by its label."""
    spec = mapping.FIELDS_BY_KEY.get(key)
    if value is None or value == "":
        return formatting.NOTHING
    if isinstance(value, dict | list):  # not a shape the site sends: as it is
        return str(value)
    if spec is not None and spec.type == "date":
        try:
            return date_format(datetime.date.fromisoformat(str(value)), "DATE_FORMAT")
        except ValueError:
            return str(value)
    if spec is not None and spec.type == "numeric":
        return formatting.rubles(value)
    if spec is not None and spec.type == "select" and spec.profile_field:
        field = Profile._meta.get_field(spec.profile_field)
        if field.is_relation:  # the category, sent by its slug
            return str(field.related_model.objects.filter(slug=value).first() or value)
        return str(dict(field.flatchoices).get(value, value))
    return str(value)
