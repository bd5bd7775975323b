"""Profile ↔ amoCRM payloads: pure functions, no database and no HTTP.

Writes name every field by its id (`FieldMap`, loaded from the ids `amocrm_setup_fields` stored):
numeric → a string with a dot ("5000.00"), select → {"enum_id": N}, date → an integer Unix timestamp
of midnight in the account's time zone (`FieldMap.zone`: amoCRM reads dates there), an empty value → "values":
null. The lead's own `price` is whole roubles as an integer. Reads take API v4
`custom_fields_values` ({field_id, values: [{value, enum_id}]}); the webhook's v2 shape is read by
`amocrm.webhooks` and decoded here by `decode_value`.
"""

import datetime
import enum
import operator
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Choices
from django.utils import translation

from accounts import emails
from accounts.models import Profile
from amocrm.exceptions import AmoCRMMappingError
from amocrm.models import CustomField
from amocrm.values import (  # re-exported: callers keep reading them here
    DEFAULT_ZONE,
    date_to_timestamp,
    decimal_to_numeric,
    numeric_to_decimal,
    timestamp_to_date,
)
from amocrm.webhooks import ContactChange, FieldChange, LeadChange

Key = CustomField.Key
TEXT_TYPES = {"text", "textarea", "url"}
TEXT_MAX_LENGTH = 256  # amoCRM's limit for `text` fields
LEAD_TAG = "flower-account"


class Owner(enum.Enum):
    """Who decides a field's value when the site and amoCRM disagree."""

    SITE = "site"  # written by the site only; amoCRM's value is never read back
    CRM = "crm"  # amoCRM always wins: managers keep the sum and the stage
    BOTH = "both"  # the customer's preferences: the newer change wins


@dataclass(frozen=True)
class FieldSpec:
    """A lead custom field the site syncs: how `amocrm_setup_fields` creates it, where its value
    lives on the profile, and who owns it. Adding a synced field is one row of FIELDS."""

    key: str
    name: str
    type: str
    code: str
    sort: int
    # Read from the profile (a dotted path; a method is called with `today`).
    profile_attr: str
    owner: Owner
    # The Profile field a change made in amoCRM is written to ("" when amoCRM never writes it).
    profile_field: str = ""
    # What else a site change names (accounts.signals) when it changes this field's value.
    changed_by: tuple[str, ...] = ()

    @property
    def may_be_empty(self) -> bool:
        """amoCRM may empty it on the site: the profile's own field allows blank (the model says)."""
        return bool(self.profile_field) and Profile._meta.get_field(self.profile_field).blank

    def read(self, profile: Profile, *, today: datetime.date | None = None) -> Any:
        value = operator.attrgetter(self.profile_attr)(profile)
        return value(today=today) if callable(value) else value


FIELDS: tuple[FieldSpec, ...] = (
    # The balance plus invoices awaiting payment: the lead shows the sum invoiced from signup on.
    FieldSpec(
        Key.ACCOUNT_SUM, "Сумма счёта", "numeric", "FA_ACCOUNT_SUM", 500,
        profile_attr="invoiced_sum", owner=Owner.CRM, profile_field="account_sum", changed_by=("invoices",),
    ),
    FieldSpec(
        Key.BOUQUET_CATEGORY, "Выбор букета (категория)", "select", "FA_BOUQUET_CATEGORY", 510,
        profile_attr="bouquet_category.slug", owner=Owner.BOTH, profile_field="bouquet_category",
    ),
    FieldSpec(
        Key.DELIVERY_ADDRESS, "Адрес доставки", "text", "FA_DELIVERY_ADDRESS", 520,
        profile_attr="delivery_address", owner=Owner.BOTH, profile_field="delivery_address",
    ),
    # The next SCHEDULED delivery (skips and a pause move it; empty while paused indefinitely); a
    # new date from amoCRM re-anchors the schedule.
    FieldSpec(
        Key.DELIVERY_DATE, "Дата доставки", "date", "FA_DELIVERY_DATE", 530,
        profile_attr="next_delivery_on", owner=Owner.BOTH, profile_field="first_delivery_date",
        changed_by=("deliveries", "delivery_interval", "account_status", "paused_until"),
    ),
    FieldSpec(
        Key.DELIVERY_INTERVAL, "Интервал поставки букетов", "select", "FA_DELIVERY_INTERVAL", 540,
        profile_attr="delivery_interval", owner=Owner.BOTH, profile_field="delivery_interval",
    ),
    FieldSpec(
        Key.WISHES, "Пожелания к букетам", "textarea", "FA_WISHES", 550,
        profile_attr="wishes", owner=Owner.BOTH, profile_field="wishes",
    ),
    FieldSpec(
        Key.EMAIL, "Email", "text", "FA_EMAIL", 560, profile_attr="user.email", owner=Owner.SITE,
        changed_by=("email",),
    ),
    FieldSpec(
        Key.REFERRAL_URL, "Реферальная ссылка", "url", "FA_REFERRAL_URL", 570,
        profile_attr="referral_url", owner=Owner.SITE,
    ),
    # Also follows the lead's pipeline stage (AMOCRM_STATUS_MAP). Sends the one derived status (a
    # payment makes a new subscription active), as the account page's badge shows it.
    FieldSpec(
        Key.ACCOUNT_STATUS, "Статус аккаунта", "select", "FA_ACCOUNT_STATUS", 580,
        profile_attr="subscription_status", owner=Owner.CRM, profile_field="account_status",
        changed_by=("account_status", "invoices"),
    ),
)  # fmt: skip
FIELDS_BY_KEY = {spec.key: spec for spec in FIELDS}
# Derived from the table above, never listed by hand.
CRM_OWNED_KEYS = tuple(spec.key for spec in FIELDS if spec.owner is Owner.CRM)
PREFERENCE_KEYS = tuple(spec.key for spec in FIELDS if spec.owner is Owner.BOTH)
KEYS_BY_PROFILE_FIELD = {spec.profile_field: spec.key for spec in FIELDS if spec.profile_field}
# The contact's phone has a clock of its own beside the lead's fields (LeadSync.site_changed_at).
PHONE = "phone"


def keys_changed_by(fields: Iterable[str]) -> set[str]:
    """The field keys (and PHONE) whose value a site change of these profile facts may change."""
    named = set(fields)
    keys = {
        spec.key
        for spec in FIELDS
        if named & {spec.profile_field, spec.profile_attr.split(".")[0], *spec.changed_by} - {""}
    }
    return keys | ({PHONE} if PHONE in named else set())


@dataclass(frozen=True)
class FieldMap:
    """Our field keys → amoCRM field ids, per select field our values → amoCRM enum ids, and the
    account's time zone."""

    field_ids: Mapping[str, int]
    enum_ids: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    zone: zoneinfo.ZoneInfo = DEFAULT_ZONE  # the account's time zone: dates are its midnights

    def field_id(self, key: str) -> int:
        try:
            return self.field_ids[key]
        except KeyError:
            raise AmoCRMMappingError(
                f"amoCRM field {key!r} is not set up: run manage.py amocrm_setup_fields"
            ) from None

    def enum_id(self, key: str, value: str) -> int:
        try:
            return self.enum_ids[key][value]
        except KeyError:
            raise AmoCRMMappingError(
                f"{key} {value!r} has no amoCRM enum yet: run manage.py amocrm_setup_fields"
            ) from None

    def value_for_enum(self, key: str, enum_id: int) -> str:
        for value, candidate in self.enum_ids.get(key, {}).items():
            if candidate == enum_id:
                return value
        raise AmoCRMMappingError(f"amoCRM enum {enum_id} of {key} matches no value on the site")


# -- values ----------------------------------------------------------------------------------


def choice_enums(choices: type[Choices]) -> list[tuple[str, str]]:
    """(value, Russian label) of a model's choices: the enum texts staff see in amoCRM."""
    with translation.override("ru"):
        return [(str(value), str(label)) for value, label in choices.choices]


def lead_price(profile: Profile) -> int:
    """The lead's budget: amoCRM takes whole numbers only, so the sum (balance plus invoices awaiting
    payment, as the sum field) rounded to roubles."""
    return int(profile.invoiced_sum().quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def profile_values(profile: Profile, *, today: datetime.date | None = None) -> dict[str, Any]:
    """What the site sends for each field key, as Python values (see FIELDS for where each comes from)."""
    return {spec.key: spec.read(profile, today=today) for spec in FIELDS}


# -- profile → amoCRM ------------------------------------------------------------------------


def field_value(spec: FieldSpec, value: Any, fields: FieldMap) -> dict[str, Any]:
    """One `custom_fields_values` item; an empty value clears the field ("values": null)."""
    item: dict[str, Any] = {"field_id": fields.field_id(spec.key)}
    if value is None or value == "":
        item["values"] = None
    elif spec.type == "numeric":
        item["values"] = [{"value": decimal_to_numeric(Decimal(value))}]
    elif spec.type == "select":
        item["values"] = [{"enum_id": fields.enum_id(spec.key, str(value))}]
    elif spec.type == "date":
        item["values"] = [{"value": date_to_timestamp(value, fields.zone)}]
    elif spec.type == "text":
        item["values"] = [{"value": str(value)[:TEXT_MAX_LENGTH]}]
    else:
        item["values"] = [{"value": str(value)}]
    return item


def profile_to_custom_fields(
    profile: Profile,
    fields: FieldMap,
    *,
    keys: Iterable[str] | None = None,
    today: datetime.date | None = None,
) -> list[dict[str, Any]]:
    """`custom_fields_values` for a lead: every synced field, or only `keys` (a PATCH sends what changed)."""
    values = profile_values(profile, today=today)
    wanted = set(keys) if keys is not None else None
    return [
        field_value(spec, values[spec.key], fields) for spec in FIELDS if wanted is None or spec.key in wanted
    ]


def lead_name(profile: Profile) -> str:
    return f"Подписка на цветы — {profile.user.email}"


def lead_payload(profile: Profile, fields: FieldMap, *, today: datetime.date | None = None) -> dict[str, Any]:
    return {
        "name": lead_name(profile),
        "price": lead_price(profile),
        "custom_fields_values": profile_to_custom_fields(profile, fields, today=today),
        "_embedded": {"tags": [{"name": LEAD_TAG}]},
    }


def lead_state(profile: Profile, fields: FieldMap, *, today: datetime.date | None = None) -> dict[str, Any]:
    """Everything the site puts on a lead, JSON-ready: `name`, `price`, and per field key its
    `custom_fields_values` item. Stored after a sync, it is what the next sync compares against."""
    state: dict[str, Any] = {"name": lead_name(profile), "price": lead_price(profile)}
    items = profile_to_custom_fields(profile, fields, today=today)
    state.update({spec.key: item for spec, item in zip(FIELDS, items, strict=True)})
    state["status_id"] = lead_stage(profile)
    return state


def lead_stage(profile: Profile) -> int | None:
    """The stage the site moves the lead to: the first stage `AMOCRM_STATUS_MAP` maps to closed once
    the subscription is closed; otherwise None (the stage is the managers' to choose)."""
    if profile.subscription_status != Profile.AccountStatus.CLOSED:
        return None
    closed = (
        stage
        for stage, status in settings.AMOCRM_STATUS_MAP.items()
        if status == profile.AccountStatus.CLOSED
    )
    return next(closed, None)


def lead_state_changes(state: Mapping[str, Any], synced: Mapping[str, Any]) -> list[str]:
    """The keys of `state` whose value differs from the last one sent (all of them the first time)."""
    return [key for key, value in state.items() if synced.get(key) != value]


def lead_update_payload(lead_id: int, state: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """One item of PATCH /api/v4/leads: the lead id and only the listed keys of `state`."""
    keys = list(keys)
    payload: dict[str, Any] = {"id": int(lead_id)}
    payload.update({key: state[key] for key in ("name", "price") if key in keys})
    if "status_id" in keys and state.get("status_id"):
        payload["status_id"] = state["status_id"]  # None (not closed): the lead stays where it is
    custom = [state[spec.key] for spec in FIELDS if spec.key in keys]
    if custom:
        payload["custom_fields_values"] = custom
    return payload


def lead_create_payload(
    state: Mapping[str, Any],
    *,
    contact: dict[str, Any],
    pipeline_id: int | None = None,
    status_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """One item of POST /api/v4/leads/complex: the lead with its one contact (new, or {"id": N});
    amoCRM echoes `request_id` in its answer."""
    payload: dict[str, Any] = {
        "name": state["name"],
        "price": state["price"],
        "custom_fields_values": [state[spec.key] for spec in FIELDS],
        "_embedded": {"tags": [{"name": LEAD_TAG}], "contacts": [contact]},
    }
    if pipeline_id:
        payload["pipeline_id"] = int(pipeline_id)
    if status_id:
        payload["status_id"] = int(status_id)
    if request_id:
        payload["request_id"] = request_id
    return payload


def lead_mentions(lead: Mapping[str, Any], text: str) -> bool:
    """True when one of the lead's custom field values contains `text` (e.g. a referral code)."""
    for item in _as_list(lead.get("custom_fields_values")):
        for value in _as_list(item.get("values") if isinstance(item, Mapping) else None):
            if isinstance(value, Mapping) and text in str(value.get("value") or ""):
                return True
    return False


def lead_contact_id(lead: Mapping[str, Any]) -> int | None:
    """The main (else the first) contact of a lead read `with=contacts`."""
    contacts = [c for c in _as_list((lead.get("_embedded") or {}).get("contacts")) if isinstance(c, Mapping)]
    main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
    return int(main["id"]) if main and main.get("id") else None


def lead_status_id(lead: Mapping[str, Any]) -> int | None:
    """The pipeline stage of a lead as the API returns it."""
    return _int(lead.get("status_id"))


def contact_payload(profile: Profile) -> dict[str, Any]:
    """A new contact with the standard EMAIL (and PHONE) fields, named by codes as amoCRM predefines them."""
    user = profile.user
    values: list[dict[str, Any]] = [
        {"field_code": "EMAIL", "values": [{"value": user.email, "enum_code": "WORK"}]}
    ]
    if profile.phone:
        values.append({"field_code": "PHONE", "values": [{"value": profile.phone, "enum_code": "MOB"}]})
    contact: dict[str, Any] = {"name": user.get_full_name() or user.email, "custom_fields_values": values}
    if user.first_name:
        contact["first_name"] = user.first_name
    return contact


def contact_values_update(
    contact: Mapping[str, Any] | None,
    code: str,
    new: str,
    old: Iterable[str],
    same: Callable[[str, str], bool],
) -> dict[str, Any]:
    """One `custom_fields_values` item of a contact PATCH for its PHONE or EMAIL (`code`): amoCRM
    replaces a field's values as a whole, so the customer's `new` value goes first and the other
    values the contact holds stay, except the `old` ones it replaces."""
    enum_code = "MOB" if code == "PHONE" else "WORK"
    values: list[dict[str, Any]] = [{"value": new, "enum_code": enum_code}]
    replaced = [new, *[o for o in old if o]]
    for item in _as_list((contact or {}).get("custom_fields_values")):
        if not isinstance(item, Mapping) or item.get("field_code") != code:
            continue
        for value in _as_list(item.get("values")):
            text = str((value or {}).get("value") or "").strip()
            if text and not any(same(text, r) for r in replaced):
                kept = {"value": text}
                if value.get("enum_id"):
                    kept["enum_id"] = value["enum_id"]
                values.append(kept)
    return {"field_code": code, "values": values}


# -- amoCRM → profile ------------------------------------------------------------------------


def decode_value(spec: FieldSpec, values: Iterable[tuple[Any, Any]], fields: FieldMap) -> Any:
    """The Python value of one field from its (value, enum id) pairs, whichever API they came from;
    "" (text) or None for a cleared field. Raises AmoCRMMappingError / ValueError on a bad value."""
    present = [
        (value, _enum(enum_id))
        for value, enum_id in values
        if enum_id not in (None, "") or value not in (None, "")
    ]
    if not present:
        return "" if spec.type in TEXT_TYPES else None
    value, enum_id = present[0]
    if spec.type == "numeric":
        return numeric_to_decimal(value)
    if spec.type == "select":
        if enum_id is None:
            raise AmoCRMMappingError(f"amoCRM value of {spec.key} has no enum id")
        return fields.value_for_enum(spec.key, enum_id)
    if spec.type == "date":
        return timestamp_to_date(value, fields.zone)
    return str(value)


def _as_list(value: Any) -> list[Any]:
    # PHP-style form bodies decode to dicts keyed "0", "1", ... instead of lists.
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return list(value)


def _enum(raw: Any) -> int | None:
    return int(raw) if raw not in (None, "") else None


def custom_fields_to_values(custom_fields_values: Any, fields: FieldMap) -> dict[str, Any]:
    """Our field keys → Python values from API v4 `custom_fields_values`; "" / None for a cleared field."""
    keys_by_id = {field_id: key for key, field_id in fields.field_ids.items()}
    decoded: dict[str, Any] = {}
    for item in _as_list(custom_fields_values):
        field_id = item.get("field_id")
        key = keys_by_id.get(int(field_id)) if str(field_id).isdigit() else None
        if key is None:
            continue  # a field the site does not sync
        values = [(v.get("value"), v.get("enum_id")) for v in _as_list(item.get("values"))]
        decoded[key] = decode_value(FIELDS_BY_KEY[key], values, fields)
    return decoded


# -- what amoCRM holds now, read back (API v4) ------------------------------------------------


def lead_change_from_api(lead: Mapping[str, Any], *, last_status_id: int | None) -> LeadChange:
    """A lead as `GET /api/v4/leads` returns it, as the same LeadChange a webhook makes: decided by
    the same rules. The stage counts as changed when it differs from the one last seen; with none
    seen, the lead's stage counts as reached, as a status hook would say (its mapping applies
    once: the stage is then recorded as last seen)."""
    fields = tuple(
        FieldChange(
            field_id=_int(item.get("field_id")),
            values=tuple((v.get("value"), v.get("enum_id")) for v in _as_list(item.get("values"))),
            code=str(item.get("field_code") or ""),
        )
        for item in _as_list(lead.get("custom_fields_values"))
        if isinstance(item, Mapping)
    )
    return LeadChange(
        action="update" if last_status_id is not None else "status",
        lead_id=_int(lead.get("id")),
        modified_at=_moment(lead.get("updated_at")),
        price=_int(lead.get("price")),
        status_id=_int(lead.get("status_id")),
        old_status_id=last_status_id,
        fields=fields,
        contact_id=lead_contact_id(lead),
    )


def contact_change_from_api(contact: Mapping[str, Any]) -> ContactChange:
    """A contact as `GET /api/v4/contacts` returns it: its phone and email (first values)."""
    by_code = {
        str(item.get("field_code")): [
            v.get("value") for v in _as_list(item.get("values")) if isinstance(v, Mapping)
        ]
        for item in _as_list(contact.get("custom_fields_values"))
        if isinstance(item, Mapping)
    }

    def first(code: str) -> str | None:
        if code not in by_code:
            return None
        return next((str(v).strip() for v in by_code[code] if v not in (None, "")), "")

    email = first("EMAIL")
    return ContactChange(
        contact_id=_int(contact.get("id")),
        modified_at=_moment(contact.get("updated_at")),
        phone=first("PHONE"),
        email=emails.normalize(email) if email is not None else None,
        lead_ids=(),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _moment(value: Any) -> datetime.datetime | None:
    stamp = _int(value)
    return datetime.datetime.fromtimestamp(stamp, tz=datetime.UTC) if stamp is not None else None
