"""Changes made in amoCRM, applied to the site: one lead or contact as amoCRM now holds it →
the profile, by the ownership in `mapping.FIELDS`. Webhook events (and any other reader of what
amoCRM holds) come through here, so the rules live in one place:

  * a lead or contact we do not know (no LeadSync with its id) is ignored;
  * a field counts as changed in amoCRM only when it differs from the value we last sent
    (`synced_values`; the contact's phone: `contact_phone`): our own updates echoed back change nothing;
  * CRM-owned fields (the account sum and status) always follow amoCRM; a preference or the
    contact's phone loses only to a site change of that very field made after amoCRM's change (its
    clock, `LeadSync.site_changed_at`); a change that loses is recorded (`Applied.dropped`);
  * what is applied is recorded as synced in the same transaction: nothing goes back to amoCRM
    but a derived value that now differs from what the lead holds (the budget after a new sum, the
    status field after a stage move), named in the log;
  * a bad value is recorded for its field, the other fields still apply;
  * while an invoice awaits payment, a new sum or a move to a stage mapped to `active` confirms its
    payment (`accounts.payments.invoice_pay`: one ledger entry, however often it is confirmed);
  * a stage change (a `leads[status]` hook, or an `update` item with `old_status_id`) maps the
    pipeline stage through AMOCRM_STATUS_MAP (unmapped: no change);
  * a deleted lead unlinks the profile (remembered in `deleted_lead_id`); a restored one links it
    again and is sent every field once;
  * the contact's email never changes the customer's login: a different one is kept on LeadSync
    (`contact_email`) and shown to staff.
"""

import dataclasses
import datetime
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts import payments, phones
from accounts import services as accounts_services
from accounts.models import BouquetCategory, Invoice, Profile
from accounts.signals import Origin
from amocrm import mapping, webhooks
from amocrm.exceptions import AmoCRMMappingError
from amocrm.models import LeadSync
from amocrm.services.outbox import lead_sync_mark_pending

logger = logging.getLogger(__name__)

Key = mapping.Key


@dataclass
class Applied:
    """The outcome of one change: "processed" or "ignored", what changed, the errors by field."""

    status: str
    changes: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # amoCRM's changes a later site change of the same field won over, for the webhook event.
    dropped: list[dict[str, str]] = field(default_factory=list)
    # Its profile's lead must be synced now: a restored lead (every field), or a derived value to send.
    sync_profile_id: int | None = None

    @property
    def error(self) -> str:
        return "\n".join(f"{key}: {message}" for key, message in sorted(self.errors.items()))


def lead_change_apply(*, change: webhooks.LeadChange, fields: mapping.FieldMap) -> Applied:
    """Apply what amoCRM holds for one lead; call inside a transaction (rows are locked)."""
    if change.action == "restore":
        return _lead_restore(change.lead_id)
    found = LeadSync.objects.filter(lead_id=change.lead_id).values_list("profile_id", flat=True).first()
    if found is None:
        return Applied("ignored", errors={"lead": "no profile is linked to this lead"})
    # The profile's row first, then its sync row: the order a customer's save takes them in.
    profile = Profile.objects.select_for_update().select_related("user", "bouquet_category").get(pk=found)
    sync = LeadSync.objects.select_for_update().get(profile_id=found)
    if sync.lead_id != change.lead_id:
        return Applied("ignored", errors={"lead": "no profile is linked to this lead"})  # unlinked meanwhile
    if change.action == "delete":
        lead_unlink(sync)
        return Applied("processed", changes=["lead_sync"])
    if change.modified_at and sync.crm_modified_at and change.modified_at < sync.crm_modified_at:
        return Applied("ignored", errors={"lead": "older than a change already applied to this lead"})
    if change.old_status_id is None and sync.crm_status_id is not None:
        # An item without old_status_id still moves the stage when it differs from the one last seen.
        change = dataclasses.replace(change, old_status_id=sync.crm_status_id)
    stage_overrides: dict[str, Any] = {}
    crm, errors = _crm_values(change, fields, stage_overrides)
    synced = dict(sync.synced_values or {})
    current = mapping.profile_values(profile)
    dropped: list[dict[str, str]] = []
    # No sum field in the body: the sum came from the lead's budget (whole roubles).
    sum_from_price = Key.ACCOUNT_SUM in crm and not change.has_field(fields.field_ids.get(Key.ACCOUNT_SUM))

    def crm_changed(key: str) -> bool:
        # Our own update echoed back equals what we last sent: it is not a change made in amoCRM.
        if key == Key.ACCOUNT_SUM and sum_from_price:
            return change.price != synced.get("price")
        return mapping.field_value(mapping.FIELDS_BY_KEY[key], crm[key], fields) != synced.get(key)

    data: dict[str, Any] = {}
    next_delivery_date = None
    for key, value in crm.items():
        if value == current[key] or not crm_changed(key):
            continue
        if key in mapping.PREFERENCE_KEYS and not _crm_wins(sync, key, change.modified_at, dropped):
            continue  # the customer changed this field after the manager did: the site wins
        if key == Key.DELIVERY_DATE:
            next_delivery_date = value
        elif key == Key.BOUQUET_CATEGORY:
            category = BouquetCategory.objects.filter(slug=value).first()
            if category is None:
                errors[key] = f"no bouquet category {value!r}"
                continue
            data["bouquet_category"] = category
        else:
            data[mapping.FIELDS_BY_KEY[key].profile_field] = value
    if Key.DELIVERY_INTERVAL in data and Key.DELIVERY_DATE in crm:
        # A new interval moves the next date; keep the one amoCRM shows.
        next_delivery_date = next_delivery_date or crm[Key.DELIVERY_DATE]
    if next_delivery_date is not None and next_delivery_date < timezone.localdate():
        errors[Key.DELIVERY_DATE] = f"{next_delivery_date.isoformat()} is in the past"
        next_delivery_date = None
    paid = _payment_confirm(profile, sync, change, crm, data, errors, stage_moved=bool(stage_overrides))
    changed, invalid = accounts_services.profile_apply_staff_changes(
        profile=profile, data=data, next_delivery_date=next_delivery_date, origin=Origin.CRM
    )
    changed = [*paid, *changed]
    errors.update(
        {mapping.KEYS_BY_PROFILE_FIELD.get(name, name): message for name, message in invalid.items()}
    )
    # No echo: amoCRM already holds the values just applied, so they go into `synced_values` here,
    # in the same transaction; only a derived value that now differs is sent (below).
    state = mapping.lead_state(profile, fields)
    now_values = mapping.profile_values(profile)
    for key, value in crm.items():
        if key in stage_overrides:
            # The status came from the stage; the lead's status field still holds its own value:
            # that is what amoCRM holds, so a later hook repeating it is not a change, and the sync
            # sends the stage's status to the field.
            if stage_overrides[key] is not None:
                synced[key] = mapping.field_value(mapping.FIELDS_BY_KEY[key], stage_overrides[key], fields)
        elif value == now_values[key] and not (key == Key.ACCOUNT_SUM and sum_from_price):
            synced[key] = state[key]
    if change.price is not None and change.price == state["price"]:
        synced["price"] = change.price
    updates = []
    if synced != sync.synced_values:
        sync.synced_values = synced
        updates.append("synced_values")
    if change.status_id is not None and change.status_id != sync.crm_status_id:
        sync.crm_status_id = change.status_id  # reading the lead back tells a stage change by it
        updates.append("crm_status_id")
    if change.modified_at and (sync.crm_modified_at is None or change.modified_at > sync.crm_modified_at):
        sync.crm_modified_at = change.modified_at
        updates.append("crm_modified_at")
    if updates:
        sync.save(update_fields=[*updates, "updated_at"])
    derived = mapping.lead_state_changes(state, synced)
    if derived:
        # Values the site derives from what was applied (the budget from the sum, the status field
        # from the stage): amoCRM does not hold them yet.
        logger.info("amocrm.derived_sent lead_id=%s keys=%s", change.lead_id, ",".join(sorted(derived)))
        lead_sync_mark_pending(profile=profile)
    return Applied(
        "processed",
        changes=changed,
        errors=errors,
        dropped=dropped,
        sync_profile_id=profile.pk if derived else None,
    )


def _payment_confirm(
    profile: Profile,
    sync: LeadSync,
    change: webhooks.LeadChange,
    crm: dict[str, Any],
    data: dict[str, Any],
    errors: dict[str, str],
    *,
    stage_moved: bool,
) -> list[str]:
    """The manager confirms the payment of the invoice awaiting it: by setting the sum (the customer
    paid the difference between it and the balance; `data` then loses the sum, the payment is the
    change) or by moving the lead to a stage AMOCRM_STATUS_MAP maps to active. Our own values echoed
    back never get here: `data` holds only real changes, and the stage must differ from the last seen."""
    invoice = payments.awaiting_invoice(profile=profile)
    if invoice is None:
        return []
    if "account_sum" in data:
        new_sum = data.pop("account_sum")
        received = new_sum - profile.account_sum
        if received <= 0:
            errors[Key.ACCOUNT_SUM] = f"an invoice awaits payment: {new_sum} is not above the balance"
            return []
    elif (
        stage_moved
        and crm.get(Key.ACCOUNT_STATUS) == Profile.AccountStatus.ACTIVE
        and change.status_id != sync.crm_status_id
    ):
        received = None  # the invoice's own amount
    else:
        return []
    paid, paid_now = payments.invoice_pay(
        invoice=invoice, amount=received, source=Invoice.Source.CRM, confirmed_by=f"lead {change.lead_id}"
    )
    if not paid_now:
        return []  # paid meanwhile (a staff click): nothing changed here
    profile.account_sum = paid.profile.account_sum  # posted on another copy of the locked row
    return ["invoice"]


def _crm_wins(
    sync: LeadSync, key: str, modified_at: datetime.datetime | None, dropped: list[dict[str, str]]
) -> bool:
    """amoCRM's change of `key` came after the site last changed that field (its clock); when it did
    not, the change is recorded in `dropped`. amoCRM counts whole seconds: within the same second
    amoCRM wins, and both sides still end up holding its value."""
    site_at = sync.site_changed(key)
    if modified_at is not None and (site_at is None or site_at.replace(microsecond=0) <= modified_at):
        return True
    dropped.append(
        {
            "field": key,
            "crm_changed_at": modified_at.isoformat() if modified_at else "",
            "site_changed_at": site_at.isoformat() if site_at else "",
        }
    )
    logger.info(
        "amocrm.crm_change_dropped lead_id=%s profile_id=%s field=%s", sync.lead_id, sync.profile_id, key
    )
    return False


def _crm_values(
    change: webhooks.LeadChange, fields: mapping.FieldMap, stage_overrides: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Field key → value amoCRM holds, for the keys amoCRM may change (CRM-owned and preferences);
    errors by key. A stage change overrides the status field: `stage_overrides` gets the field's own
    value (None when the item has none)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    wanted = (*mapping.CRM_OWNED_KEYS, *mapping.PREFERENCE_KEYS)
    keys_by_id = {field_id: key for key, field_id in fields.field_ids.items()}
    for item in change.fields:
        key = keys_by_id.get(item.field_id)
        if key not in wanted:
            continue  # a field the site does not take from amoCRM
        try:
            value = mapping.decode_value(mapping.FIELDS_BY_KEY[key], item.values, fields)
        except (AmoCRMMappingError, ValueError, TypeError, AttributeError) as e:
            errors[key] = str(e)[:200]
            continue
        if value is None or value == "" and key != Key.WISHES:
            errors[key] = "empty in amoCRM: kept the site's value"
            continue
        if key == Key.ACCOUNT_SUM and value < 0:
            errors[key] = f"negative sum {value}"
            continue
        values[key] = value
    if Key.ACCOUNT_SUM not in values and Key.ACCOUNT_SUM not in errors and change.price is not None:
        # No exact sum field: the lead's budget, whole roubles.
        values[Key.ACCOUNT_SUM] = Decimal(change.price).quantize(Decimal("0.01"))
    if change.stage_changed:
        status = settings.AMOCRM_STATUS_MAP.get(change.status_id)
        if status is not None and status not in Profile.AccountStatus.values:
            errors[Key.ACCOUNT_STATUS] = f"AMOCRM_STATUS_MAP maps {change.status_id} to unknown {status!r}"
        elif status is not None:
            stage_overrides[Key.ACCOUNT_STATUS] = values.get(Key.ACCOUNT_STATUS)
            values[Key.ACCOUNT_STATUS] = status
    return values, errors


def lead_unlink(sync: LeadSync) -> None:
    """The lead was deleted in amoCRM: forget it; the next profile change or a resync makes a new one."""
    logger.info("amocrm.lead_unlinked lead_id=%s profile_id=%s", sync.lead_id, sync.profile_id)
    sync.mark_unlinked()
    sync.save()


def _lead_restore(lead_id: int | None) -> Applied:
    """A lead brought back from amoCRM's trash (same id): link its profile to it again."""
    if LeadSync.objects.filter(lead_id=lead_id).exists():
        return Applied("ignored", errors={"lead": "the lead is linked already"})
    sync = LeadSync.objects.select_for_update().filter(deleted_lead_id=lead_id, lead_id__isnull=True).first()
    if sync is None:
        return Applied("ignored", errors={"lead": "no profile is linked to this lead"})
    lead_relink(sync)
    return Applied("processed", changes=["lead_sync"], sync_profile_id=sync.profile_id)


def lead_relink(sync: LeadSync) -> None:
    """The deleted lead is back: link it again; the sync that follows sends every field once."""
    logger.info("amocrm.lead_relinked lead_id=%s profile_id=%s", sync.deleted_lead_id, sync.profile_id)
    sync.mark_relinked(now=timezone.now())
    sync.save()


def _phone_e164(phone: str | None, *, profile_id: int, errors: dict[str, str]) -> str | None:
    """amoCRM's phone as E.164, as the site stores it; None (the site's kept) when it does not
    parse: a manager may type anything on the card, and the webhook must not fail for it."""
    if not phone:
        return None
    try:
        return phones.to_e164(phone)
    except phones.InvalidPhone:
        logger.warning("amocrm.contact_phone_unparseable profile_id=%s", profile_id)
        errors[f"phone ({profile_id})"] = "the phone on the amoCRM contact is not a valid number"
        return None


def contact_change_apply(*, change: webhooks.ContactChange) -> Applied:
    """Apply what amoCRM holds for one contact to the profiles linked to it (phone; email noted)."""
    profile_ids = list(
        LeadSync.objects.filter(contact_id=change.contact_id)
        .order_by("profile_id")
        .values_list("profile_id", flat=True)
    )
    if not profile_ids:
        return Applied("ignored", errors={"contact": "no profile is linked to this contact"})
    applied = Applied("processed")
    for profile_id in profile_ids:
        # The profile's row first, then its sync row: the order a customer's save takes them in.
        profile = Profile.objects.select_for_update().select_related("user").get(pk=profile_id)
        sync = LeadSync.objects.select_for_update().get(profile_id=profile_id)
        stamp = change.modified_at
        if sync.contact_id != change.contact_id or (
            stamp and sync.contact_modified_at and stamp < sync.contact_modified_at
        ):
            continue  # relinked meanwhile, or older than what was applied
        updates: list[str] = []
        if stamp and stamp != sync.contact_modified_at:
            sync.contact_modified_at = stamp
            updates.append("contact_modified_at")
        if change.email is not None:
            mismatch = "" if change.email == profile.user.email.lower() else change.email[:254]
            if mismatch != sync.contact_email:
                sync.contact_email = mismatch
                updates.append("contact_email")
                applied.changes.append("contact_email")
        # The phone changed in amoCRM (not our own value echoed back) after the site last changed it.
        phone = _phone_e164(change.phone, profile_id=profile.pk, errors=applied.errors)
        if phone and phone != sync.contact_phone:
            # An unknown baseline (None: a contact that was linked, not made by us) is only recorded:
            # its phone may be older than the customer's.
            if (
                sync.contact_phone is not None
                and phone != profile.phone
                and _crm_wins(sync, mapping.PHONE, change.modified_at, applied.dropped)
            ):
                changed, invalid = accounts_services.profile_apply_staff_changes(
                    profile=profile, data={"phone": phone[:32]}, origin=Origin.CRM
                )
                applied.changes.extend(changed)
                applied.errors.update({f"phone ({profile.pk})": m for m in invalid.values()})
            sync.contact_phone = phone[:32]
            updates.append("contact_phone")
        if updates:
            sync.save(update_fields=[*updates, "updated_at"])
    return applied
