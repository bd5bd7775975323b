"""amoCRM as the tests play it: webhook bodies, delivering them, and the leads its API returns."""

import base64
import datetime
import json
from http import HTTPStatus

import responses
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from amocrm import mapping
from amocrm.models import LeadSync, WebhookEvent
from amocrm.services import webhook_events
from amocrm.services.fields import field_map_load
from tests.amocrm.conftest import BASE, FIELD_IDS, LEAD, WEBHOOK_SECRET
from tools.amocrm_standin import php_encode

ACCOUNT = {"subdomain": "flowers", "id": 31000001, "_links": {"self": BASE}}


def later(seconds: int = 60) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)


def stamp(seconds: int = 60) -> int:
    """`later` as the Unix time amoCRM writes."""
    return int(later(seconds).timestamp())


def cf(key: str, value=None, enum: int | None = None) -> dict:
    item = {"value": value}
    if enum is not None:
        item["enum"] = enum
    return {"id": FIELD_IDS[key], "name": mapping.FIELDS_BY_KEY[key].name, "values": [item]}


def lead(*custom_fields: dict, lead_id: int = LEAD, at: datetime.datetime | None = None, **extra) -> dict:
    stamp = int((at or later()).timestamp())
    data = {
        "id": lead_id,
        "name": "Подписка на цветы",
        "status_id": 60000003,
        "pipeline_id": 7000001,
        "last_modified": stamp,
        "updated_at": stamp,
        "account_id": ACCOUNT["id"],
        "custom_fields": list(custom_fields),
    }
    data.update(extra)
    return data


def full_lead(profile: Profile, field_map, *custom_fields: dict, **extra) -> dict:
    """A hook's lead item as amoCRM sends it: every field the lead holds (what the site sent), with
    `custom_fields` in place of theirs. amoCRM leaves only empty fields out (docs/amocrm-api.md)."""
    changed = {item["id"] for item in custom_fields}
    state = mapping.lead_state(profile, field_map)
    held = [
        {
            "id": state[spec.key]["field_id"],
            "values": [
                {"value": v.get("value"), "enum": v.get("enum_id")} for v in state[spec.key]["values"]
            ],
        }
        for spec in mapping.FIELDS
        if state[spec.key]["values"] is not None and state[spec.key]["field_id"] not in changed
    ]
    return lead(*held, *custom_fields, **extra)


def body(account: dict | None = ACCOUNT, **events: list[dict]) -> str:
    payload: dict = {"leads": events}
    if account is not None:
        payload["account"] = account
    return php_encode(payload)


def post(client, data: str | bytes, secret: str = WEBHOOK_SECRET):
    return client.post(
        reverse("amocrm:webhook", kwargs={"secret": secret}),
        data=data,
        content_type="application/x-www-form-urlencoded",
    )


def apply_all() -> dict:
    ids = WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).values_list("pk", flat=True)
    return webhook_events.webhook_events_apply(event_ids=list(ids))


def deliver(client, data: str) -> None:
    assert post(client, data).status_code == HTTPStatus.OK
    apply_all()


def as_amocrm_holds(profile: Profile, field_map, *, updated_at: int, **changes) -> dict:
    """The lead as GET /api/v4/leads returns it: what the site sent, with a manager's `changes`
    (field key → custom_fields_values item, or price / status_id)."""
    state = mapping.lead_state(profile, field_map)
    items = [state[spec.key] for spec in mapping.FIELDS if state[spec.key]["values"] is not None]
    for key, value in changes.items():
        if key in mapping.FIELDS_BY_KEY:
            items = [i for i in items if i["field_id"] != field_map.field_id(key)] + [value]
    return {
        "id": LEAD,
        "name": state["name"],
        "price": changes.get("price", state["price"]),
        "status_id": changes.get("status_id", 60000003),
        "pipeline_id": 7000001,
        "updated_at": updated_at,
        "custom_fields_values": items,
    }


def page(entity: str, items: list[dict]) -> dict:
    return {"_page": 1, "_embedded": {entity: items}}


# -- the lead sync ---------------------------------------------------------------------------


def complex_answer(lead_id: int = 30000001, contact_id: int = 40000001) -> list[dict]:
    return [
        {"id": lead_id, "contact_id": contact_id, "company_id": None, "request_id": ["0"], "merged": False}
    ]


def not_a_choice(path: str = "custom_fields_values.1.values.0.enum_id") -> dict:
    """amoCRM's 400 for a select value it does not offer, at `path`."""
    error = {
        "code": "NotSupportedChoice",
        "path": path,
        "detail": "The value you selected is not a valid choice.",
    }
    return {
        "title": "Bad Request",
        "status": 400,
        "detail": "Request validation failed",
        "validation-errors": [{"request_id": "0", "errors": [error]}],
    }


def patch_answer(*lead_ids: int) -> dict:
    return {"_embedded": {"leads": [{"id": i, "updated_at": 1763870000} for i in lead_ids]}}


def bodies(method: str, url: str) -> list:
    return [
        json.loads(c.request.body)
        for c in responses.calls
        if c.request.method == method and c.request.url.split("?")[0] == url
    ]


def by_field(items: list[dict]) -> dict[int, list | None]:
    return {item["field_id"]: item["values"] for item in items}


def synced(profile, lead_id: int = 30000001, contact_id: int = 40000001) -> LeadSync:
    """Mark the profile as synced the way a first sync leaves it."""
    state = mapping.lead_state(Profile.objects.get(pk=profile.pk), field_map_load())
    sync = LeadSync.objects.get(profile=profile)
    sync.mark_synced(
        values=state, lead_id=lead_id, contact_id=contact_id, revision=sync.revision, now=timezone.now()
    )
    sync.save()
    return sync


def jwt(claims: dict) -> str:
    """An access token as amoCRM shapes it (a JWT whose claims the client reads, unsigned here)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def patch_ok(request):
    """amoCRM's answer to a leads PATCH: every lead sent, by id."""
    ids = [item["id"] for item in json.loads(request.body)]
    return (200, {}, json.dumps({"_embedded": {"leads": [{"id": i} for i in ids]}}))
