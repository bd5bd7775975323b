"""What one lead change from amoCRM does to the site, decided before anything is written: a pure
function of the change and of what the site holds (no database, no HTTP), so each rule reads as a
row of a table (tests/amocrm/test_lead_plan.py). `crm_changes` reads the rows, asks this, writes.

  * a field counts as changed in amoCRM only when it differs from the value we last sent
    (`synced`): our own updates echoed back change nothing;
  * CRM-owned fields (the account sum and status) always follow amoCRM; a preference loses only to
    a site change of that very field made after amoCRM's change (`site_changed`), and is `dropped`;
  * in the same whole second as the site's change of a preference (amoCRM stamps no fraction) a
    stale value never undoes the newer one: amoCRM wins only with a value that differs from the
    synced baseline (a manager's edit); an echo, or no baseline, leaves the site's change standing.
    Once the site's PATCH has landed that baseline cannot tell an older echo from an edit, so the
    caller reads such a lead back first (`same_second_keys`) and plans with what amoCRM holds now;
  * a bad value is an error for its field, the other fields still apply;
  * a full item (add, update, status; a lead read back) that lacks a preference we sent a value
    for was cleared by a manager: amoCRM leaves empty fields out. A field the site may hold empty
    (the wishes) is cleared by the same clock rule; one it may not keeps the site's value, which
    goes back to the lead (`kept`);
  * while an invoice awaits payment, a new sum (the difference is what was paid) or a move to a
    stage mapped to `active` confirms its payment instead of changing the sum;
  * a stage change maps the pipeline stage through the status map (unmapped: no change); the
    status field's own value is kept in `status_field` (what amoCRM holds there).
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import BouquetCategory, Profile
from amocrm import mapping, webhooks
from amocrm.exceptions import AmoCRMMappingError
from amocrm.models import CustomField

Key = CustomField.Key
# The payment confirmed is the invoice's own amount (a stage move says "paid", not how much).
INVOICE_AMOUNT = "invoice"
KEPT_EMPTY = "empty in amoCRM: kept the site's value"


@dataclass(frozen=True)
class LeadPlan:
    """The decision: what amoCRM holds (`crm`, by key), what to write to the profile, the errors by
    key, the changes a later site change won over, and the payment to confirm (None: none)."""

    crm: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)  # Profile field → value
    next_delivery_date: datetime.date | None = None
    errors: dict[str, str] = field(default_factory=dict)
    dropped: list[dict[str, str]] = field(default_factory=list)
    payment: Decimal | str | None = None  # the amount received, or INVOICE_AMOUNT
    status_field: dict[str, Any] = field(default_factory=dict)  # key → the field's value, on a stage move
    sum_from_price: bool = False  # no sum field in the body: the sum is the lead's budget
    kept: tuple[str, ...] = ()  # keys amoCRM holds empty and the site may not: its value goes back


def lead_change_plan(
    *,
    change: webhooks.LeadChange,
    fields: mapping.FieldMap,
    current: Mapping[str, Any],
    synced: Mapping[str, Any],
    site_changed: Mapping[str, datetime.datetime | None],
    categories: Mapping[str, BouquetCategory],
    balance: Decimal,
    awaits_payment: bool,
    last_status_id: int | None,
    status_map: Mapping[int, str],
    today: datetime.date,
) -> LeadPlan:
    """Decide what `change` does, given the profile's values (`current`), the values last sent
    (`synced`), each field's site clock, the categories by slug, the balance, whether an invoice
    awaits payment, the stage last seen and the status map."""
    status_field: dict[str, Any] = {}
    crm, errors = _crm_values(change, fields, status_map, status_field, _cleared(change, fields, synced))
    sum_from_price = Key.ACCOUNT_SUM in crm and not change.has_field(fields.field_ids.get(Key.ACCOUNT_SUM))

    def crm_changed(key: str) -> bool:
        # Our own update echoed back equals what we last sent: it is not a change made in amoCRM.
        if key == Key.ACCOUNT_SUM and sum_from_price:
            return change.price != synced.get("price")
        return mapping.field_value(mapping.FIELDS_BY_KEY[key], crm[key], fields) != synced.get(key)

    data: dict[str, Any] = {}
    dropped: list[dict[str, str]] = []
    next_delivery_date = None
    for key, value in crm.items():
        if value == current[key]:
            continue
        if key in mapping.PREFERENCE_KEYS and same_second(site_changed.get(key), change.modified_at):
            tie = _same_second_tie(key, crm_changed=crm_changed(key), synced=synced)
            dropped.append(dropped_change(key, change.modified_at, site_changed.get(key), reason=tie))
            if tie != TIE_CRM_EDIT:
                continue  # the site's change stands: the hook may predate it
        elif not crm_changed(key):
            continue
        elif key in mapping.PREFERENCE_KEYS and not crm_wins(site_changed.get(key), change.modified_at):
            dropped.append(dropped_change(key, change.modified_at, site_changed.get(key)))
            continue  # the customer changed this field after the manager did: the site wins
        if key == Key.DELIVERY_DATE:
            next_delivery_date = value
        elif key == Key.BOUQUET_CATEGORY:
            if value not in categories:
                errors[key] = f"no bouquet category {value!r}"
                continue
            data["bouquet_category"] = categories[value]
        else:
            data[mapping.FIELDS_BY_KEY[key].profile_field] = value
    if Key.DELIVERY_INTERVAL in data and Key.DELIVERY_DATE in crm:
        # A new interval moves the next date; keep the one amoCRM shows.
        next_delivery_date = next_delivery_date or crm[Key.DELIVERY_DATE]
    if next_delivery_date is not None and next_delivery_date < today:
        errors[Key.DELIVERY_DATE] = f"{next_delivery_date.isoformat()} is in the past"
        next_delivery_date = None
    payment = None
    if awaits_payment:
        payment = _payment(change, crm, data, errors, balance, last_status_id, stage_moved=bool(status_field))
    kept = tuple(key for key, message in errors.items() if message == KEPT_EMPTY)
    return LeadPlan(
        crm, data, next_delivery_date, errors, dropped, payment, status_field, sum_from_price, kept
    )


def _cleared(
    change: webhooks.LeadChange, fields: mapping.FieldMap, synced: Mapping[str, Any]
) -> tuple[str, ...]:
    """The preferences a full item leaves out although we sent amoCRM a value for them: cleared
    there (amoCRM answers and hooks leave an empty field out)."""
    if not change.is_full:
        return ()
    return tuple(
        key
        for key in mapping.PREFERENCE_KEYS
        if not change.has_field(fields.field_ids.get(key))
        and fields.field_ids.get(key) is not None
        and (synced.get(key) or {}).get("values")
    )


def crm_wins(site_at: datetime.datetime | None, modified_at: datetime.datetime | None) -> bool:
    """amoCRM's change of a field came after the site last changed that field. amoCRM counts whole
    seconds: within the same second amoCRM wins, and both sides still end up holding its value."""
    return modified_at is not None and (site_at is None or site_at.replace(microsecond=0) <= modified_at)


# A hook stamped in the same whole second as the site's change of a field: the order is unknown.
TIE_ECHO = "same second, echo of an older value"
TIE_NO_BASELINE = "same second, no synced value to tell an echo from an edit"
TIE_CRM_EDIT = "same second, a manager's edit won over the site's change"


def same_second(site_at: datetime.datetime | None, modified_at: datetime.datetime | None) -> bool:
    """The site changed the field in the very second amoCRM stamps its change with."""
    return site_at is not None and modified_at is not None and site_at.replace(microsecond=0) == modified_at


def same_second_keys(
    *,
    change: webhooks.LeadChange,
    fields: mapping.FieldMap,
    current: Mapping[str, Any],
    synced: Mapping[str, Any],
    site_changed: Mapping[str, datetime.datetime | None],
) -> tuple[str, ...]:
    """The preferences `change` would set to a value other than the site's, in the very second the
    site changed them: their order is unknown. Once the site's PATCH has landed, an older echo of
    that second differs from the synced value and would pass for a manager's edit, so the caller
    reads the lead back and plans with what amoCRM holds now instead."""
    crm, _ = _crm_values(change, fields, {}, {}, _cleared(change, fields, synced))
    return tuple(
        key
        for key in mapping.PREFERENCE_KEYS
        if key in crm and crm[key] != current[key] and same_second(site_changed.get(key), change.modified_at)
    )


def _same_second_tie(key: str, *, crm_changed: bool, synced: Mapping[str, Any]) -> str:
    """Which side a same-second hook's differing value of `key` loses to, as the reason staff see.
    A stale value must never undo a newer one: the hook's value equal to what we last sent is an
    echo of our older state (amoCRM has not seen the site's change yet), and without a synced value
    an echo cannot be told from an edit, so the site's change stands in both. Only a value that
    differs from the synced baseline is a manager's real edit: it wins, the site's change is noted."""
    if key not in synced:
        return TIE_NO_BASELINE
    return TIE_CRM_EDIT if crm_changed else TIE_ECHO


def dropped_change(
    key: str,
    crm_at: datetime.datetime | None,
    site_at: datetime.datetime | None,
    *,
    reason: str = "",
) -> dict[str, str]:
    """A change amoCRM made to `key` at `crm_at` that lost to the site's of `site_at`, for staff;
    on a same-second tie, `reason` says which side lost (TIE_CRM_EDIT: the site's change)."""
    dropped = {
        "field": key,
        "crm_changed_at": crm_at.isoformat() if crm_at else "",
        "site_changed_at": site_at.isoformat() if site_at else "",
    }
    if reason:
        dropped["reason"] = reason
    return dropped


def _payment(
    change: webhooks.LeadChange,
    crm: dict[str, Any],
    data: dict[str, Any],
    errors: dict[str, str],
    balance: Decimal,
    last_status_id: int | None,
    *,
    stage_moved: bool,
) -> Decimal | str | None:
    """The manager confirms the payment of the invoice awaiting it: by setting the sum (the customer
    paid the difference between it and the balance; `data` then loses the sum, the payment is the
    change) or by moving the lead to a stage the status map maps to active. Our own values echoed
    back never get here: `data` holds only real changes, and the stage must differ from the last seen."""
    if "account_sum" in data:
        new_sum = data.pop("account_sum")
        received = new_sum - balance
        if received <= 0:
            errors[Key.ACCOUNT_SUM] = f"an invoice awaits payment: {new_sum} is not above the balance"
            return None
        return received
    if stage_moved and crm.get(Key.ACCOUNT_STATUS) == Profile.AccountStatus.ACTIVE:
        return INVOICE_AMOUNT if change.status_id != last_status_id else None
    return None


def _crm_values(
    change: webhooks.LeadChange,
    fields: mapping.FieldMap,
    status_map: Mapping[int, str],
    status_field: dict[str, Any],
    cleared: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Field key → value amoCRM holds, for the keys amoCRM may change (CRM-owned and preferences);
    errors by key. `cleared` keys count as emptied. A stage change overrides the status field:
    `status_field` gets the field's own value (None when the item has none)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    wanted = (*mapping.CRM_OWNED_KEYS, *mapping.PREFERENCE_KEYS)
    keys_by_id = {field_id: key for key, field_id in fields.field_ids.items()}
    items = [(keys_by_id.get(item.field_id), item.values) for item in change.fields]
    for key, raw in [*items, *((key, ()) for key in cleared)]:
        if key not in wanted:
            continue  # a field the site does not take from amoCRM
        spec = mapping.FIELDS_BY_KEY[key]
        try:
            value = mapping.decode_value(spec, raw, fields)
        except (AmoCRMMappingError, ValueError, TypeError, AttributeError) as e:
            errors[key] = str(e)[:200]
            continue
        if value is None or value == "" and not spec.may_be_empty:
            errors[key] = KEPT_EMPTY
            continue
        if key == Key.ACCOUNT_SUM and value < 0:
            errors[key] = f"negative sum {value}"
            continue
        values[key] = value
    if Key.ACCOUNT_SUM not in values and Key.ACCOUNT_SUM not in errors and change.price is not None:
        # No exact sum field: the lead's budget, whole roubles.
        values[Key.ACCOUNT_SUM] = Decimal(change.price).quantize(Decimal("0.01"))
    if change.stage_changed:
        status = status_map.get(change.status_id)
        if status is not None and status not in Profile.AccountStatus.values:
            errors[Key.ACCOUNT_STATUS] = f"AMOCRM_STATUS_MAP maps {change.status_id} to unknown {status!r}"
        elif status is not None:
            status_field[Key.ACCOUNT_STATUS] = values.get(Key.ACCOUNT_STATUS)
            values[Key.ACCOUNT_STATUS] = status
    return values, errors
