"""The account's state: custom fields, leads (their notes in notes.py), contacts and webhook
subscriptions (subscriptions.py), in memory (moto's models.py). Methods check like amoCRM first
(raising `Invalid` before anything changes), then change the records and return copies or API
shapes, plus the webhook events amoCRM would fire; no HTTP here.

Every method takes `lock`, an RLock the stand-in shares with its other state, so a caller may hold it
around several calls. Shapes carry `_links` under `base_url`, read when the shape is made.
"""

import json
import threading
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from tools.amocrm_standin.constants import (
    ACCOUNT_ID,
    API_USER_ID,
    CONTACT_FIELDS,
    DEFAULT_TIMEZONE,
    FIRST_WORKING_STATUS,
    PIPELINE_ID,
    SUBDOMAIN,
)
from tools.amocrm_standin.notes import Notes
from tools.amocrm_standin.shapes import (
    Event,
    account_domain,
    account_shape,
    contact_shape,
    field_shape,
    lead_event_shape,
    lead_shape,
    update_events,
    webhook_contact,
    webhook_lead,
)
from tools.amocrm_standin.subscriptions import Subscriptions
from tools.amocrm_standin.tasks import Tasks
from tools.amocrm_standin.validation import (
    Errors,
    check_account_settings,
    check_contact,
    check_contact_update,
    check_field_change,
    check_lead,
    check_link,
    check_new_fields,
    validate_batch,
)

# The account's own settings (its facts, and how it behaves as amoCRM), changed by the control API.
ACCOUNT_SETTINGS = {
    "subdomain": SUBDOMAIN,  # an admin can rename it; webhooks then carry the new one, same account[id]
    "timezone": DEFAULT_TIMEZONE,  # `date` fields are midnights in this zone
    "duplicate_control": False,  # a complex lead whose new contact's EMAIL is known is merged
    "status_hooks": True,  # a stage change also fires status_lead (real accounts do not always)
    "deliver_webhooks": True,  # false: every hook is lost (a failed delivery, a disabled endpoint)
    "api_user_is_admin": True,  # false: admin-only calls (webhooks, field set-up) answer a JSON 403
}


def _now() -> int:
    return int(time.time())


def _matches(record: dict[str, Any], query: str | None, names: tuple[str, ...]) -> bool:
    if not query:
        return True
    needle = query.casefold()
    texts = [str(record.get(n) or "") for n in names] + [str(record["id"])]
    texts += [str(v.get("value", "")) for values in record["cf"].values() for v in values]
    return any(needle in text.casefold() for text in texts)


class Account(Subscriptions):
    """One amoCRM account in memory; `reset()` empties it back to the predefined contact fields."""

    def __init__(self, *, lock: threading.RLock, base_url: Callable[[], str]) -> None:
        self.lock = lock
        self._base_url = base_url
        self.notes = Notes(lock=lock, base_url=base_url, leads=lambda: self.leads)
        self.tasks = Tasks(lock=lock, base_url=base_url, leads=lambda: self.leads)
        self.reset()

    @property
    def base_url(self) -> str:
        return self._base_url()

    def reset(self) -> None:
        with self.lock:
            self.settings: dict[str, Any] = dict(ACCOUNT_SETTINGS)
            self.created_at = self.updated_at = _now()
            self.webhooks: dict[str, dict[str, Any]] = {}
            self.hook_failures: dict[str, list[float]] = {}  # destination → times of failed deliveries
            self.leads: dict[int, dict[str, Any]] = {}
            self.trash: dict[int, dict[str, Any]] = {}  # deleted leads, as they were, for a restore
            self.event_log: list[dict[str, Any]] = []  # deletes and restores, for GET /api/v4/events
            self.contacts: dict[int, dict[str, Any]] = {}
            self.notes.reset()
            self.tasks.reset()
            self.ids = {"lead": 30000001, "contact": 20000001, "field": 600001, "enum": 900001, "hook": 1}
            self.fields: dict[str, dict[int, dict[str, Any]]] = {"leads": {}, "contacts": {}}
            for spec in CONTACT_FIELDS:
                enums = None
                if spec["enums"]:
                    enums = [
                        {"id": self._next("enum"), "value": v, "sort": (i + 1) * 2}
                        for i, v in enumerate(spec["enums"])
                    ]
                self.fields["contacts"][spec["id"]] = field_shape(
                    "contacts", {**spec, "enums": enums}, self.base_url, predefined=True
                )

    # -- the account's settings ----------------------------------------------------------------

    def configure(self, **data: Any) -> dict[str, Any]:
        checked = check_account_settings(data)
        with self.lock:
            self.settings.update(checked)
            if checked:
                self.updated_at = _now()
            return dict(self.settings)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.settings["timezone"])

    def account_get(self, with_: set[str]) -> dict[str, Any]:
        with self.lock:
            facts = {**self.settings, "created_at": self.created_at, "updated_at": self.updated_at}
        return account_shape(facts, self.base_url, with_=with_)

    def domain(self) -> dict[str, Any]:
        with self.lock:
            return account_domain(self.settings["subdomain"])

    def webhook_account(self) -> dict[str, Any]:
        """The `account[…]` part of every webhook body."""
        with self.lock:
            subdomain = self.settings["subdomain"]
        return {"subdomain": subdomain, "id": ACCOUNT_ID, "_links": {"self": self.base_url}}

    def _next(self, kind: str) -> int:
        value = self.ids[kind]
        self.ids[kind] += 1
        return value

    # -- custom fields -----------------------------------------------------------------------

    def field_list(self, entity: str) -> list[dict[str, Any]]:
        with self.lock:
            fields = sorted(self.fields[entity].values(), key=lambda f: (f["sort"], f["id"]))
            return json.loads(json.dumps(fields))

    def field_get(self, entity: str, field_id: int) -> dict[str, Any] | None:
        with self.lock:
            found = self.fields[entity].get(field_id)
            return None if found is None else json.loads(json.dumps(found))

    def fields_create(self, entity: str, body: list[Any]) -> list[dict[str, Any]]:
        with self.lock:
            codes = {f["code"] for f in self.fields[entity].values() if f["code"]}
            created = []
            for item, item_enums in check_new_fields(body, codes):
                enums = None
                if item_enums is not None:
                    enums = [
                        {"id": self._next("enum"), "value": e["value"], "sort": e["sort"]} for e in item_enums
                    ]
                data = {**item, "id": self._next("field"), "enums": enums}
                shape = field_shape(entity, data, self.base_url)
                self.fields[entity][shape["id"]] = shape
                created.append(shape)
            return json.loads(json.dumps(created))

    def field_update(self, entity: str, field_id: int, data: dict[str, Any]) -> dict[str, Any] | None:
        """The changed field, or None when there is no such field."""
        with self.lock:
            found = self.fields[entity].get(field_id)
            if found is None:
                return None
            enums = check_field_change(data, found)
            for key in ("name", "sort"):
                if key in data:
                    found[key] = data[key]
            if enums is not None:
                # amoCRM replaces the list: enums sent without an id are new, enums left out are deleted.
                found["enums"] = [{**e, "id": e["id"] or self._next("enum")} for e in enums]
                self._drop_lost_enum_values(entity, found)
            return json.loads(json.dumps(found))

    def _drop_lost_enum_values(self, entity: str, changed: dict[str, Any]) -> None:
        """A deleted enum takes the value it held on every lead with it."""
        live = {e["id"]: e["value"] for e in changed["enums"]}
        for record in (self.leads if entity == "leads" else self.contacts).values():
            values = record["cf"].get(changed["id"])
            if values is None:
                continue
            kept = [dict(v, value=live[v["enum_id"]]) for v in values if v.get("enum_id") in live]
            if kept:
                record["cf"][changed["id"]] = kept
            else:
                del record["cf"][changed["id"]]

    # -- leads ---------------------------------------------------------------------------------

    def _check_lead(
        self,
        item: Any,
        errors: Errors,
        *,
        update: bool,
        complex_: bool = False,
        rejected: Mapping[int, str] | None = None,
    ) -> dict:
        return check_lead(
            item,
            errors,
            fields=self.fields,
            leads=self.leads,
            contacts=self.contacts,
            update=update,
            complex_=complex_,
            rejected=rejected,
        )

    def lead_events(self, lead: dict[str, Any], old: dict[str, Any]) -> list[Event]:
        """The events a change of `lead` fires (`old` from `apply_update`)."""
        return update_events(lead, old, self.fields["leads"], status_hook=self.settings["status_hooks"])

    def leads_create(self, body: list[Any]) -> tuple[list[dict[str, Any]], list[Event]]:
        with self.lock:
            checked = validate_batch(body, lambda item, errors: self._check_lead(item, errors, update=False))
            leads = [self._lead_new(item, c, by=API_USER_ID) for item, c in zip(body, checked, strict=True)]
            events: list[Event] = [("add_lead", webhook_lead(lead, self.fields["leads"])) for lead in leads]
            return leads, events

    def leads_create_complex(self, body: list[Any]) -> tuple[list[dict[str, Any]], list[Event]]:
        """Each lead with its new (or named) contact, in the /leads/complex answer's shape. With
        duplicate control on, an item whose new contact's EMAIL is a known contact's that has a lead
        makes nothing: the answer names that lead and contact with `merged: true` (and when that lead
        was made by this very request, its answer item gets this item's request_id too)."""
        with self.lock:
            checked = validate_batch(
                body, lambda item, errors: self._check_lead(item, errors, update=False, complex_=True)
            )
            answer: list[dict[str, Any]] = []
            events: list[Event] = []
            made: dict[int, dict[str, Any]] = {}  # this request's answer items by lead id
            for index, (item, lead_checked) in enumerate(zip(body, checked, strict=True)):
                request_id = str(item.get("request_id", index))
                duplicate = self._duplicate_of(lead_checked["new_contact"])
                if duplicate is not None:
                    lead_id, contact_id = duplicate
                    if lead_id in made:
                        made[lead_id]["request_id"].append(request_id)
                        made[lead_id]["merged"] = True
                        continue
                    answer.append(
                        {
                            "id": lead_id,
                            "contact_id": contact_id,
                            "company_id": None,
                            "request_id": [request_id],
                            "merged": True,
                        }
                    )
                    continue
                contact_id = None
                if lead_checked["new_contact"] is not None:
                    contact = self._contact_new(lead_checked["new_contact"])
                    lead_checked["contact_ids"] = [contact["id"]]
                if lead_checked["contact_ids"]:
                    contact_id = lead_checked["contact_ids"][0]
                lead = self._lead_new(item, lead_checked, by=API_USER_ID)
                events.append(("add_lead", webhook_lead(lead, self.fields["leads"])))
                if lead_checked["new_contact"] is not None:
                    events.append(("add_contact", webhook_contact(contact, self.fields["contacts"])))
                made[lead["id"]] = {
                    "id": lead["id"],
                    "contact_id": contact_id,
                    "company_id": None,
                    "request_id": [request_id],
                    "merged": False,
                }
                answer.append(made[lead["id"]])
            return answer, events

    def _duplicate_of(self, new_contact: dict[str, Any] | None) -> tuple[int, int] | None:
        """(lead id, contact id) a new contact duplicates under duplicate control, or None: the
        newest lead of the first contact whose EMAIL equals one of its emails (case-insensitively)."""
        if new_contact is None or not self.settings["duplicate_control"]:
            return None
        email_ids = {f["id"] for f in self.fields["contacts"].values() if f["code"] == "EMAIL"}
        emails = {
            str(v["value"]).casefold()
            for field_id, values in new_contact["cf"]
            if field_id in email_ids
            for v in values or []
        }
        for contact in self.contacts.values():
            known = {str(v["value"]).casefold() for f in email_ids for v in contact["cf"].get(f, [])}
            if contact["leads"] and emails & known:
                return contact["leads"][-1], contact["id"]
        return None

    def leads_update(
        self, items: list[Any], *, rejected: Mapping[int, str] | None = None
    ) -> tuple[list[dict[str, Any]], list[Event]]:
        """A PATCH of each lead (by its id), in the answer's shape; a lead in `rejected` fails
        validation with its message (an injected failure)."""
        with self.lock:
            checked = validate_batch(
                items, lambda item, errors: self._check_lead(item, errors, update=True, rejected=rejected)
            )
            answer: list[dict[str, Any]] = []
            events: list[Event] = []
            for index, (item, lead_checked) in enumerate(zip(items, checked, strict=True)):
                lead = self.leads[item["id"]]
                old = self.apply_update(lead, item, lead_checked, by=API_USER_ID)
                events += self.lead_events(lead, old)
                answer.append(
                    {
                        "id": lead["id"],
                        "updated_at": lead["updated_at"],
                        "request_id": str(item.get("request_id", index)),
                        "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/{lead['id']}"}},
                    }
                )
            return answer, events

    def has_lead(self, lead_id: int) -> bool:
        with self.lock:
            return lead_id in self.leads

    def lead_get(self, lead_id: int, *, with_contacts: bool = False) -> dict[str, Any] | None:
        with self.lock:
            lead = self.leads.get(lead_id)
            return None if lead is None else self.render_lead(lead, with_contacts=with_contacts)

    def leads_search(self, ids: set[int] | None, query: str | None, *, with_contacts: bool) -> list[dict]:
        with self.lock:
            return [
                self.render_lead(lead, with_contacts=with_contacts)
                for lead in self.leads.values()
                if (ids is None or lead["id"] in ids) and _matches(lead, query, ("name",))
            ]

    def lead_link(self, lead_id: int, body: list[Any]) -> list[dict[str, Any]] | None:
        """The links made to existing contacts, or None when there is no such lead."""
        with self.lock:
            lead = self.leads.get(lead_id)
            if lead is None:
                return None
            validate_batch(body, lambda item, errors: check_link(item, errors, contacts=self.contacts))
            links = []
            for item in body:
                self._link(lead, item["to_entity_id"])
                links.append(
                    {
                        "entity_id": lead["id"],
                        "entity_type": "leads",
                        "to_entity_id": item["to_entity_id"],
                        "to_entity_type": "contacts",
                        "metadata": {"is_main": lead["contacts"][0] == item["to_entity_id"]},
                    }
                )
            return links

    def lead_delete(self, lead_id: int) -> Event | None:
        """The delete_lead event, or None when there is no such lead. The lead goes to the trash."""
        with self.lock:
            lead = self.leads.pop(lead_id, None)
            if lead is None:
                return None
            for contact in self.contacts.values():
                if lead_id in contact["leads"]:
                    contact["leads"].remove(lead_id)
            self.trash[lead_id] = lead  # keeps its contacts for a restore
            self.event_log.append(lead_event_shape("lead_deleted", lead_id, len(self.event_log)))
            return (
                "delete_lead",
                {"id": lead_id, "status_id": lead["status_id"], "pipeline_id": lead["pipeline_id"]},
            )

    def lead_restore(self, lead_id: int, *, by: int) -> Event | None:
        """The restore_lead event (the whole lead, like an update), or None when it is not in the
        trash. Same id, same values; linked again to those of its contacts that still exist."""
        with self.lock:
            lead = self.trash.pop(lead_id, None)
            if lead is None:
                return None
            lead["contacts"] = [c for c in lead["contacts"] if c in self.contacts]
            for contact_id in lead["contacts"]:
                self.contacts[contact_id]["leads"].append(lead_id)
            lead["updated_at"], lead["updated_by"] = _now(), by
            self.leads[lead_id] = lead
            self.event_log.append(lead_event_shape("lead_restored", lead_id, len(self.event_log), by=by))
            return ("restore_lead", webhook_lead(lead, self.fields["leads"]))

    def render_lead(self, lead: dict[str, Any], *, with_contacts: bool = False) -> dict[str, Any]:
        return lead_shape(lead, self.fields["leads"], self.base_url, with_contacts=with_contacts)

    # -- contacts ------------------------------------------------------------------------------

    def contacts_create(self, body: list[Any]) -> tuple[list[dict[str, Any]], list[Event]]:
        with self.lock:
            checked = validate_batch(
                body, lambda item, errors: check_contact(item, errors, fields=self.fields["contacts"])
            )
            contacts = [self._contact_new(c) for c in checked]
            events: list[Event] = [
                ("add_contact", webhook_contact(c, self.fields["contacts"])) for c in contacts
            ]
            return contacts, events

    def apply_contact_update(
        self, contact: dict[str, Any], names: dict[str, str], cf: list[tuple[int, list | None]], *, by: int
    ) -> Event:
        """Apply checked changes (names, custom field values) to `contact`; its update_contact event."""
        old_responsible = contact["responsible_user_id"]
        contact.update(names)
        self._apply_cf(contact, cf)
        contact["updated_at"], contact["updated_by"] = _now(), by
        item = webhook_contact(contact, self.fields["contacts"], old_responsible=old_responsible)
        return ("update_contact", item)

    def contacts_update(self, items: list[Any]) -> tuple[list[dict[str, Any]], list[Event]]:
        """A PATCH of each contact (by its id), in the answer's shape, with update_contact events."""
        with self.lock:
            checked = validate_batch(
                items,
                lambda item, errors: check_contact_update(
                    item, errors, fields=self.fields["contacts"], contacts=self.contacts
                ),
            )
            answer: list[dict[str, Any]] = []
            events: list[Event] = []
            for index, (item, contact_checked) in enumerate(zip(items, checked, strict=True)):
                contact = self.contacts[item["id"]]
                names, cf = contact_checked["names"], contact_checked["cf"]
                events.append(self.apply_contact_update(contact, names, cf, by=API_USER_ID))
                answer.append(
                    {
                        "id": contact["id"],
                        "name": contact["name"],
                        "updated_at": contact["updated_at"],
                        "request_id": str(item.get("request_id", index)),
                        "_links": {"self": {"href": f"{self.base_url}/api/v4/contacts/{contact['id']}"}},
                    }
                )
            return answer, events

    def contact_get(self, contact_id: int) -> dict[str, Any] | None:
        with self.lock:
            contact = self.contacts.get(contact_id)
            return None if contact is None else self.render_contact(contact)

    def contacts_search(self, ids: set[int] | None, query: str | None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                self.render_contact(contact)
                for contact in self.contacts.values()
                if (ids is None or contact["id"] in ids)
                and _matches(contact, query, ("name", "first_name", "last_name"))
            ]

    def render_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        return contact_shape(contact, self.fields["contacts"], self.base_url)

    # -- storage -------------------------------------------------------------------------------

    def _apply_cf(self, record: dict[str, Any], changes: list[tuple[int, list | None]]) -> None:
        for field_id, values in changes:
            if values is None:
                record["cf"].pop(field_id, None)
            else:
                record["cf"][field_id] = values

    def _lead_new(self, item: dict[str, Any], checked: dict[str, Any], *, by: int) -> dict[str, Any]:
        now = _now()
        lead_id = self._next("lead")
        pipeline_id = item.get("pipeline_id") or PIPELINE_ID
        lead = {
            "id": lead_id,
            "name": item.get("name") or f"Сделка #{lead_id}",
            "price": item.get("price") or 0,
            "responsible_user_id": item.get("responsible_user_id") or API_USER_ID,
            "status_id": item.get("status_id") or FIRST_WORKING_STATUS,
            "pipeline_id": pipeline_id,
            "created_by": by,
            "updated_by": by,
            "created_at": item.get("created_at") or now,
            "updated_at": item.get("updated_at") or now,
            "closed_at": item.get("closed_at"),
            "cf": {},
            "tags": [],
            "contacts": [],
        }
        self._apply_cf(lead, checked["cf"])
        self._add_tags(lead, checked["tags"] + list(item.get("tags_to_add") or []))
        for contact_id in checked["contact_ids"]:
            self._link(lead, contact_id)
        self.leads[lead_id] = lead
        return lead

    def _add_tags(self, record: dict[str, Any], tags: list[dict[str, Any]]) -> None:
        for tag in tags:
            name = tag.get("name") or f"tag-{tag.get('id')}"
            if name not in [t["name"] for t in record["tags"]]:
                record["tags"].append({"id": 100000 + len(name) * 97 + sum(map(ord, name)), "name": name})

    def _link(self, lead: dict[str, Any], contact_id: int) -> None:
        if contact_id not in lead["contacts"]:
            lead["contacts"].append(contact_id)
        contact = self.contacts[contact_id]
        if lead["id"] not in contact["leads"]:
            contact["leads"].append(lead["id"])

    def _contact_new(self, checked: dict[str, Any]) -> dict[str, Any]:
        item, now = checked["item"], _now()
        contact_id = self._next("contact")
        first, last = item.get("first_name") or "", item.get("last_name") or ""
        contact = {
            "id": contact_id,
            "name": item.get("name") or " ".join(p for p in (first, last) if p) or f"Контакт #{contact_id}",
            "first_name": first,
            "last_name": last,
            "responsible_user_id": item.get("responsible_user_id") or API_USER_ID,
            "created_by": API_USER_ID,
            "updated_by": API_USER_ID,
            "created_at": now,
            "updated_at": now,
            "cf": {},
            "tags": [],
            "leads": [],
        }
        self._apply_cf(contact, checked["cf"])
        self.contacts[contact_id] = contact
        return contact

    def apply_update(self, lead: dict[str, Any], item: dict[str, Any], checked: dict, *, by: int) -> dict:
        """Apply a checked PATCH (only what it mentions); the old status and pipeline, for the events."""
        old_status, old_pipeline = lead["status_id"], lead["pipeline_id"]
        for key in ("name", "price", "status_id", "pipeline_id", "responsible_user_id", "closed_at"):
            if key in item and item[key] is not None:
                lead[key] = item[key]
        self._apply_cf(lead, checked["cf"])
        self._add_tags(lead, checked["tags"] + list(item.get("tags_to_add") or []))
        drop = {t.get("name") for t in item.get("tags_to_delete") or []}
        lead["tags"] = [t for t in lead["tags"] if t["name"] not in drop]
        for contact_id in checked["contact_ids"]:
            self._link(lead, contact_id)
        lead["updated_at"] = item.get("updated_at") or _now()
        lead["updated_by"] = by
        return {"old_status_id": old_status, "old_pipeline_id": old_pipeline}
