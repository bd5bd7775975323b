"""The JSON amoCRM shows for a stored record: API v4 for fields, leads, contacts and pipelines, and the
older v2 shape that webhooks carry. Pure functions of the record, the entity's fields and the base URL.
"""

from typing import Any

from tools.amocrm_standin.constants import ACCOUNT_ID, LOST, PIPELINES, WON, Fields

# A webhook event: (subscription setting such as "update_lead", the v2 lead, extra keys for it).
Event = tuple[str, dict[str, Any], dict[str, Any]]


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


def webhook_lead(lead: dict[str, Any], fields: Fields) -> dict[str, Any]:
    """A lead in the v2 shape webhooks carry: custom_fields, enum, timestamps as digits."""
    custom_fields = []
    for field_id, values in lead["cf"].items():
        spec = fields.get(field_id)
        if spec is None:
            continue
        rendered = []
        for v in values:
            value = {"value": v.get("value")}
            if v.get("enum_id"):
                value["enum"] = v["enum_id"]
            rendered.append(value)
        entry = {"id": field_id, "name": spec["name"], "values": rendered}
        if spec["code"]:
            entry["code"] = spec["code"]
        custom_fields.append(entry)
    body = {
        "id": lead["id"],
        "name": lead["name"],
        "status_id": lead["status_id"],
        "price": lead["price"],
        "responsible_user_id": lead["responsible_user_id"],
        "last_modified": lead["updated_at"],
        "modified_user_id": lead["updated_by"],
        "created_user_id": lead["created_by"],
        "date_create": lead["created_at"],
        "pipeline_id": lead["pipeline_id"],
        "tags": [dict(t) for t in lead["tags"]],
        "account_id": ACCOUNT_ID,
        "custom_fields": custom_fields,
        "created_at": lead["created_at"],
        "updated_at": lead["updated_at"],
    }
    return {k: v for k, v in body.items() if v not in ([], None)}


def update_events(lead: dict[str, Any], old: dict[str, Any], fields: Fields) -> list[Event]:
    """What amoCRM fires for a changed lead: always update_lead, status_lead when it moved."""
    events = [("update_lead", webhook_lead(lead, fields), {})]
    if old["old_status_id"] != lead["status_id"] or old["old_pipeline_id"] != lead["pipeline_id"]:
        events.append(("status_lead", webhook_lead(lead, fields), old))
    return events
