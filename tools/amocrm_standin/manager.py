"""A manager working in amoCRM's UI, as the control API and the page play one: edits a lead, deletes
it, restores it from the trash, edits a contact. The page's flat form or a JSON body becomes a change
made as MANAGER_USER_ID, and the webhook events it fires.
"""

import datetime
import zoneinfo
from typing import Any

from tools.amocrm_standin.constants import DATE_TYPES, MANAGER_USER_ID, NUMBER_TYPES, PIPELINES
from tools.amocrm_standin.models import Account
from tools.amocrm_standin.shapes import Event
from tools.amocrm_standin.validation import ControlError, Errors, check_custom_fields, is_int


def edit_lead(account: Account, lead_id: int, data: dict[str, Any]) -> tuple[dict[str, Any], list[Event]]:
    """Price, status, name, custom fields: the lead as it is now, and the events to deliver."""
    changes = _changes(data)
    with account.lock:
        lead = account.leads.get(lead_id)
        if lead is None:
            raise ControlError(f"no lead {lead_id}")
        item = {k: changes[k] for k in ("name", "price", "status_id") if k in changes}
        errors = Errors()
        if "status_id" in item and item["status_id"] not in {s[0] for s in PIPELINES[0]["statuses"]}:
            raise ControlError(f"no status {item['status_id']}")
        fields = account.fields["leads"]
        cf = []
        for i, change in enumerate(changes.get("custom_fields", [])):
            cf += check_custom_fields(fields, [_field(change, fields, account.zone)], errors)
            if errors:
                raise ControlError(f"custom field {i}: {errors[0]['path']}: {errors[0]['detail']}")
        checked = {"cf": cf, "tags": [], "contact_ids": []}
        old = account.apply_update(lead, item, checked, by=MANAGER_USER_ID)
        return account.render_lead(lead, with_contacts=True), account.lead_events(lead, old)


def delete_lead(account: Account, lead_id: int) -> list[Event]:
    event = account.lead_delete(lead_id)
    if event is None:
        raise ControlError(f"no lead {lead_id}")
    return [event]


def restore_lead(account: Account, lead_id: int) -> tuple[dict[str, Any], list[Event]]:
    """The lead back from the trash (same id, same values) and its restore_lead event."""
    event = account.lead_restore(lead_id, by=MANAGER_USER_ID)
    if event is None:
        raise ControlError(f"lead {lead_id} is not in the trash")
    return account.lead_get(lead_id, with_contacts=True) or {}, [event]


def edit_contact(
    account: Account, contact_id: int, data: dict[str, Any]
) -> tuple[dict[str, Any], list[Event]]:
    """Name, first_name, last_name, phone, email (empty clears it): the contact now and its event.
    A phone or email replaces the field's values and keeps the first value's type (WORK, MOB, …)."""
    unknown = set(data) - {"name", "first_name", "last_name", "phone", "email"}
    if unknown:
        raise ControlError(
            f"a contact edit takes name, first_name, last_name, phone, email; not {sorted(unknown)}"
        )
    names = {k: str(data[k]) for k in ("name", "first_name", "last_name") if data.get(k) not in (None, "")}
    with account.lock:
        contact = account.contacts.get(contact_id)
        if contact is None:
            raise ControlError(f"no contact {contact_id}")
        fields = account.fields["contacts"]
        items = []
        for key, code in (("phone", "PHONE"), ("email", "EMAIL")):
            if key not in data:
                continue
            spec = next(f for f in fields.values() if f["code"] == code)
            if data[key] in (None, ""):
                items.append({"field_id": spec["id"], "values": None})
                continue
            kept = contact["cf"].get(spec["id"]) or [{"enum_id": None}]
            value = {"value": str(data[key])}
            value.update({"enum_id": kept[0]["enum_id"]} if kept[0]["enum_id"] else {"enum_code": "WORK"})
            items.append({"field_id": spec["id"], "values": [value]})
        errors = Errors()
        cf = check_custom_fields(fields, items, errors)
        if errors:
            raise ControlError(f"{errors[0]['path']}: {errors[0]['detail']}")
        event = account.apply_contact_update(contact, names, cf, by=MANAGER_USER_ID)
        return account.render_contact(contact), [event]


def _changes(data: dict[str, Any]) -> dict[str, Any]:
    """JSON ({"price", "status_id", "name", "custom_fields": [...]}) or the page's flat form."""
    changes: dict[str, Any] = {}
    try:
        for key in ("price", "status_id"):
            if data.get(key) not in (None, ""):
                changes[key] = int(data[key])
    except (TypeError, ValueError):
        raise ControlError("price and status_id must be whole numbers") from None
    if data.get("name"):
        changes["name"] = str(data["name"])
    fields = data.get("custom_fields") or []
    if data.get("field_id") not in (None, ""):
        fields = [*fields, {k: data.get(k) for k in ("field_id", "value", "enum_id") if k in data}]
    if not isinstance(fields, list):
        raise ControlError("custom_fields must be a list of {field_id, value | enum_id}")
    changes["custom_fields"] = fields
    return changes


def _field(change: Any, fields: dict[int, dict[str, Any]], zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """One custom field change as the API takes it: typed the way the field's type wants."""
    if not isinstance(change, dict):
        raise ControlError("a custom field change is {field_id, value | enum_id}")
    try:
        field_id = int(change["field_id"])
        enum_id = int(change["enum_id"]) if change.get("enum_id") not in (None, "") else None
    except (KeyError, TypeError, ValueError):
        raise ControlError("field_id and enum_id must be whole numbers") from None
    spec = fields.get(field_id)
    if spec is None:
        raise ControlError(f"no lead field {field_id}")
    value = change.get("value")
    if enum_id is not None:
        return {"field_id": field_id, "values": [{"enum_id": enum_id}]}
    if value in (None, ""):
        return {"field_id": field_id, "values": None}
    if spec["type"] in DATE_TYPES and not is_int(value):
        value = _date_timestamp(str(value), zone)
    elif spec["type"] == "checkbox":
        value = value is True or str(value).lower() in ("1", "true", "on")
    elif spec["type"] in NUMBER_TYPES:
        value = str(value).replace(",", ".").replace(" ", "")
    elif spec["type"] not in DATE_TYPES:
        value = str(value)
    return {"field_id": field_id, "values": [{"value": value}]}


def _date_timestamp(text: str, zone: zoneinfo.ZoneInfo) -> int:
    """A calendar date as amoCRM stores a `date`: midnight in the account's time zone."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = datetime.datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
        return int(datetime.datetime.combine(day, datetime.time.min, tzinfo=zone).timestamp())
    raise ControlError(f"not a date: {text[:32]!r} (YYYY-MM-DD or DD.MM.YYYY)")
