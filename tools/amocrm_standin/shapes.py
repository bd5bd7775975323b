"""The JSON amoCRM shows for a stored record: API v4 for fields, leads, contacts, notes and pipelines,
and the older v2 shape that webhooks carry. Pure functions of the record, the entity's fields and the
base URL.
"""

import datetime
import time
import zoneinfo
from typing import Any

from tools.amocrm_standin.constants import (
    ACCOUNT_ID,
    ACCOUNT_NAME,
    API_USER_ID,
    COUNTRY,
    CURRENCY,
    CURRENCY_SYMBOL,
    DATE_TYPES,
    LOST,
    MANAGER_USER_ID,
    PIPELINES,
    WON,
    Fields,
)

# A webhook event: (subscription setting such as "update_lead" or "update_contact", the v2 item).
Event = tuple[str, dict[str, Any]]


def field_shape(entity: str, data: dict[str, Any], base_url: str, predefined: bool = False) -> dict[str, Any]:
    field_id = data["id"]
    return {
        "id": field_id,
        "name": data["name"],
        "type": data["type"],
        "account_id": ACCOUNT_ID,
        "code": data.get("code"),
        "sort": data.get("sort", 500),
        "is_api_only": bool(data.get("is_api_only", False)),
        "enums": data.get("enums"),
        "group_id": None,
        "required_statuses": [],
        "is_deletable": not predefined,
        "is_predefined": predefined,
        "entity_type": entity,
        "remind": None,
        "_links": {"self": {"href": f"{base_url}/api/v4/{entity}/custom_fields/{field_id}"}},
    }


def custom_fields_values(fields: Fields, cf: dict[int, list]) -> list | None:
    rendered = []
    for field_id, values in cf.items():
        spec = fields.get(field_id)
        if spec is None:
            continue
        rendered.append(
            {
                "field_id": field_id,
                "field_name": spec["name"],
                "field_code": spec["code"],
                "field_type": spec["type"],
                "values": [dict(v) for v in values],
            }
        )
    return rendered or None


def lead_shape(
    lead: dict[str, Any], fields: Fields, base_url: str, *, with_contacts: bool = False
) -> dict[str, Any]:
    body = {k: v for k, v in lead.items() if k not in ("cf", "tags", "contacts")}
    body.update(
        {
            "group_id": 0,
            "loss_reason_id": None,
            "closest_task_at": None,
            "is_deleted": False,
            "custom_fields_values": custom_fields_values(fields, lead["cf"]),
            "score": None,
            "account_id": ACCOUNT_ID,
            "labor_cost": None,
            "_links": {"self": {"href": f"{base_url}/api/v4/leads/{lead['id']}"}},
            "_embedded": {"tags": [dict(t, color=None) for t in lead["tags"]], "companies": []},
        }
    )
    if with_contacts:
        body["_embedded"]["contacts"] = [
            {
                "id": contact_id,
                "is_main": i == 0,
                "_links": {"self": {"href": f"{base_url}/api/v4/contacts/{contact_id}"}},
            }
            for i, contact_id in enumerate(lead["contacts"])
        ]
    return body


def contact_shape(contact: dict[str, Any], fields: Fields, base_url: str) -> dict[str, Any]:
    body = {k: v for k, v in contact.items() if k not in ("cf", "tags", "leads")}
    body.update(
        {
            "group_id": 0,
            "closest_task_at": None,
            "is_deleted": False,
            "is_unsorted": False,
            "custom_fields_values": custom_fields_values(fields, contact["cf"]),
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": f"{base_url}/api/v4/contacts/{contact['id']}"}},
            "_embedded": {"tags": [], "companies": []},
        }
    )
    return body


def note_href(base_url: str, note: dict[str, Any]) -> str:
    return f"{base_url}/api/v4/leads/{note['entity_id']}/notes/{note['id']}"


def note_shape(note: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A lead's note as GET /api/v4/leads/<id>/notes lists it."""
    return {
        "id": note["id"],
        "entity_id": note["entity_id"],
        "created_by": note["created_by"],
        "updated_by": note["updated_by"],
        "created_at": note["created_at"],
        "updated_at": note["updated_at"],
        "responsible_user_id": note["responsible_user_id"],
        "group_id": 0,
        "note_type": note["note_type"],
        "params": dict(note["params"]),
        "account_id": ACCOUNT_ID,
        "_links": {"self": {"href": note_href(base_url, note)}},
    }


def pipelines_shape() -> list[dict[str, Any]]:
    pipelines = []
    for p in PIPELINES:
        statuses = [
            {
                "id": status_id,
                "name": name,
                "sort": sort,
                "is_editable": status_id not in (WON, LOST),
                "pipeline_id": p["id"],
                "color": "#99ccff",
                "type": kind,
                "account_id": ACCOUNT_ID,
            }
            for status_id, name, sort, kind in p["statuses"]
        ]
        pipelines.append(
            {
                "id": p["id"],
                "name": p["name"],
                "sort": p["sort"],
                "is_main": p["is_main"],
                "is_unsorted_on": True,
                "is_archive": False,
                "account_id": ACCOUNT_ID,
                "_embedded": {"statuses": statuses},
            }
        )
    return pipelines


def _v2_custom_fields(cf: dict[int, list], fields: Fields) -> list[dict[str, Any]]:
    """Every filled field as webhooks carry it: `values` as {value, enum}, except a date's value,
    which comes bare (`[values][0]=1763931600`); `code` only on predefined fields (PHONE, EMAIL)."""
    rendered = []
    for field_id, values in cf.items():
        spec = fields.get(field_id)
        if spec is None:
            continue
        items: list[Any] = []
        for v in values:
            if spec["type"] in DATE_TYPES:
                items.append(v.get("value"))
                continue
            value = {"value": v.get("value")}
            if v.get("enum_id"):
                value["enum"] = v["enum_id"]
            items.append(value)
        entry: dict[str, Any] = {"id": field_id, "name": spec["name"], "values": items}
        if spec["code"] and spec["is_predefined"]:
            entry["code"] = spec["code"]
        rendered.append(entry)
    return rendered


def webhook_lead(
    lead: dict[str, Any], fields: Fields, *, old: dict[str, int] | None = None
) -> dict[str, Any]:
    """A lead in the v2 shape webhooks carry: custom_fields, enum, timestamps as digits; `old` holds
    `old_status_id` (and `old_pipeline_id` when the pipeline changed) for a lead that moved."""
    body = {
        "id": lead["id"],
        "name": lead["name"],
        "status_id": lead["status_id"],
        **(old or {}),
        "price": lead["price"],
        "responsible_user_id": lead["responsible_user_id"],
        "last_modified": lead["updated_at"],
        "modified_user_id": lead["updated_by"],
        "created_user_id": lead["created_by"],
        "date_create": lead["created_at"],
        "pipeline_id": lead["pipeline_id"],
        "tags": [dict(t) for t in lead["tags"]],
        "account_id": ACCOUNT_ID,
        "custom_fields": _v2_custom_fields(lead["cf"], fields),
        "created_at": lead["created_at"],
        "updated_at": lead["updated_at"],
    }
    return {k: v for k, v in body.items() if v not in ([], None)}


def webhook_contact(contact: dict[str, Any], fields: Fields, *, old_responsible: int | None = None) -> dict:
    """A contact in the v2 shape: PHONE/EMAIL select-like with their `code`, and its leads keyed by id
    (`linked_leads_id[30000001][ID]=30000001`), as real `contacts[update]` bodies show them."""
    body = {
        "id": contact["id"],
        "name": contact["name"],
        "responsible_user_id": contact["responsible_user_id"],
        "date_create": contact["created_at"],
        "last_modified": contact["updated_at"],
        "created_user_id": contact["created_by"],
        "modified_user_id": contact["updated_by"],
        "account_id": ACCOUNT_ID,
        "custom_fields": _v2_custom_fields(contact["cf"], fields),
        "linked_leads_id": {str(lead_id): {"ID": lead_id} for lead_id in contact["leads"]},
        "old_responsible_user_id": old_responsible,
        "created_at": contact["created_at"],
        "updated_at": contact["updated_at"],
        "type": "contact",
    }
    return {k: v for k, v in body.items() if v not in ([], {}, None)}


def update_events(
    lead: dict[str, Any], old: dict[str, Any], fields: Fields, *, status_hook: bool = True
) -> list[Event]:
    """What amoCRM fires for a changed lead: update_lead (with `old_status_id` when it moved) and,
    when `status_hook` (real accounts do not always send it), status_lead for a move too."""
    moved: dict[str, int] = {}
    if old["old_status_id"] != lead["status_id"] or old["old_pipeline_id"] != lead["pipeline_id"]:
        moved["old_status_id"] = old["old_status_id"]
        if old["old_pipeline_id"] != lead["pipeline_id"]:
            moved["old_pipeline_id"] = old["old_pipeline_id"]
    events = [("update_lead", webhook_lead(lead, fields, old=moved))]
    if moved and status_hook:
        events.append(("status_lead", webhook_lead(lead, fields, old=moved)))
    return events


def account_shape(facts: dict[str, Any], base_url: str, *, with_: set[str]) -> dict[str, Any]:
    """GET /api/v4/account as API v4 answers it: the time zone is not a top-level key but
    `_embedded.datetime_settings.timezone`, sent only `with=datetime_settings` (amocrm-api-php's
    AccountModel::fromArray and DateTimeSettings read it there)."""
    body: dict[str, Any] = {
        "id": ACCOUNT_ID,
        "name": ACCOUNT_NAME,
        "subdomain": facts["subdomain"],
        "created_at": facts["created_at"],
        "created_by": API_USER_ID,
        "updated_at": facts["updated_at"],
        "updated_by": API_USER_ID,
        "current_user_id": API_USER_ID,
        "country": COUNTRY,
        "currency": CURRENCY,
        "currency_symbol": CURRENCY_SYMBOL,
        "customers_mode": "disabled",
        "is_unsorted_on": True,
        "mobile_feature_version": 0,
        "is_loss_reason_enabled": True,
        "is_helpbot_enabled": False,
        "is_technical_account": False,
        "contact_name_display_order": 1,
        "_links": {"self": {"href": f"{base_url}/api/v4/account"}},
    }
    if "datetime_settings" in with_:
        offset = datetime.datetime.now(tz=zoneinfo.ZoneInfo(facts["timezone"])).strftime("%z")
        body["_embedded"] = {
            "datetime_settings": {
                "date_pattern": "d.m.Y H:i",
                "short_date_pattern": "d.m.Y",
                "short_time_pattern": "H:i",
                "date_format": "d.m.Y",
                "time_format": "H:i:s",
                "timezone": facts["timezone"],
                "timezone_offset": f"{offset[:3]}:{offset[3:]}",  # "+03:00"
            }
        }
    return body


def account_domain(subdomain: str) -> dict[str, Any]:
    """GET /oauth2/account/current/subdomain: the fields amocrm-api-php's AccountDomainModel reads."""
    return {
        "id": ACCOUNT_ID,
        "subdomain": subdomain,
        "domain": f"{subdomain}.amocrm.ru",
        "top_level_domain": "ru",
    }


def lead_event_shape(kind: str, lead_id: int, number: int, *, by: int = MANAGER_USER_ID) -> dict[str, Any]:
    """A lead's `lead_deleted` / `lead_restored` as GET /api/v4/events lists it (Kommo "Events list")."""
    return {
        "id": f"01j{number:023d}",
        "type": kind,
        "entity_id": lead_id,
        "entity_type": "lead",
        "created_by": by,
        "created_at": int(time.time()),
        "value_after": [],
        "value_before": [],
        "account_id": ACCOUNT_ID,
    }
