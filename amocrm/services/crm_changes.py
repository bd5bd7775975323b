"""Changes made in amoCRM, applied to the site: one lead or contact as amoCRM now holds it →
the profile, by the ownership in `mapping.FIELDS`. Webhook events (and any other reader of what
amoCRM holds) come through here. For a lead, `lead_plan` decides (a pure function, its rules
listed there) and the writers here write, one per action:

  * a lead or contact we do not know (no LeadSync with its id) is ignored;
  * what is applied is recorded as synced in the same transaction: nothing goes back to amoCRM
    but a derived value that now differs from what the lead holds (the budget after a new sum, the
    status field after a stage move), named in the log;
  * a change a later site change of the same field won over is recorded (`Applied.dropped`);
  * a deleted lead unlinks the profile (remembered in `deleted_lead_id`); a restored one links it
    again and is sent every field once;
  * the contact's phone follows amoCRM by the same clock rule (`contact_phone` is the value we last
    saw: our own echoed back changes nothing); its email never changes the customer's login: a
    different one is kept on LeadSync (`contact_email`) and shown to staff.
"""

import dataclasses
import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from accounts import emails, payments, phones
from accounts import services as accounts_services
from accounts.models import BouquetCategory, Invoice, Profile
from accounts.signals import Origin
from amocrm import mapping, webhooks
from amocrm.models import CustomField, LeadSync
from amocrm.services import lead_plan
from amocrm.services.outbox import lead_sync_mark_pending

logger = logging.getLogger(__name__)

Key = CustomField.Key
PHONE_LENGTH = LeadSync._meta.get_field("contact_phone").max_length
EMAIL_LENGTH = LeadSync._meta.get_field("contact_email").max_length


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
    """Apply what amoCRM holds for one lead; call inside a transaction (rows are locked). One
    writer per action: a restore, a delete, and everything else (add, update, status: the same
    rules, a status item moves the stage)."""
    if change.action == "restore":
        return _lead_restore(change.lead_id)
    locked = _lead_lock(change.lead_id)
    if locked is None:
        return Applied("ignored", errors={"lead": "no profile is linked to this lead"})
    profile, sync = locked
    if change.action == "delete":
        return _lead_delete(sync)
    return _lead_update(profile, sync, change, fields)


def _lead_lock(lead_id: int | None) -> tuple[Profile, LeadSync] | None:
    """The profile and sync row of the lead, locked; None when no profile is linked to it (or it
    was unlinked meanwhile)."""
    found = LeadSync.objects.filter(lead_id=lead_id).values_list("profile_id", flat=True).first()
    if found is None:
        return None
    # The profile's row first, then its sync row: the order a customer's save takes them in.
    profile = Profile.objects.select_for_update().select_related("user", "bouquet_category").get(pk=found)
    sync = LeadSync.objects.select_for_update().get(profile_id=found)
    return (profile, sync) if sync.lead_id == lead_id else None


def _lead_delete(sync: LeadSync) -> Applied:
    lead_unlink(sync)
    return Applied("processed", changes=["lead_sync"])


def _lead_update(
    profile: Profile, sync: LeadSync, change: webhooks.LeadChange, fields: mapping.FieldMap
) -> Applied:
    if change.modified_at and sync.crm_modified_at and change.modified_at < sync.crm_modified_at:
        return Applied("ignored", errors={"lead": "older than a change already applied to this lead"})
    if change.old_status_id is None and sync.crm_status_id is not None:
        # An item without old_status_id still moves the stage when it differs from the one last seen.
        change = dataclasses.replace(change, old_status_id=sync.crm_status_id)
    invoice = payments.awaiting_invoice(profile=profile)
    plan = lead_plan.lead_change_plan(
        change=change,
        fields=fields,
        current=mapping.profile_values(profile),
        synced=sync.synced_values or {},
        site_changed={key: sync.site_changed(key) for key in mapping.PREFERENCE_KEYS},
        categories={category.slug: category for category in BouquetCategory.objects.all()},
        balance=profile.account_sum,
        awaits_payment=invoice is not None,
        last_status_id=sync.crm_status_id,
        status_map=settings.AMOCRM_STATUS_MAP,
        today=timezone.localdate(),
    )
    for item in plan.dropped:
        logger.info("amocrm.crm_change_dropped lead_id=%s field=%s", change.lead_id, item["field"])
    paid = _payment_confirm(profile, invoice, plan, change) if invoice is not None else []
    changed, invalid = accounts_services.profile_apply_staff_changes(
        profile=profile, data=dict(plan.data), next_delivery_date=plan.next_delivery_date, origin=Origin.CRM
    )
    errors = {
        **plan.errors,
        **{mapping.KEYS_BY_PROFILE_FIELD.get(name, name): message for name, message in invalid.items()},
    }
    derived = _synced_record(profile, sync, change, plan, fields)
    if derived:
        # Values the site derives from what was applied (the budget from the sum, the status field
        # from the stage): amoCRM does not hold them yet, so they alone go back.
        logger.info("amocrm.derived_sent lead_id=%s keys=%s", change.lead_id, ",".join(sorted(derived)))
        lead_sync_mark_pending(profile=profile)
    return Applied(
        "processed",
        changes=[*paid, *changed],
        errors=errors,
        dropped=plan.dropped,
        sync_profile_id=profile.pk if derived else None,
    )


def _synced_record(
    profile: Profile,
    sync: LeadSync,
    change: webhooks.LeadChange,
    plan: lead_plan.LeadPlan,
    fields: mapping.FieldMap,
) -> list[str]:
    """No echo: amoCRM already holds the values just applied, so they go into `synced_values` in
    this transaction, with the stage and the time seen. The keys that still differ: derived values."""
    synced = dict(sync.synced_values or {})
    state = mapping.lead_state(profile, fields)
    now_values = mapping.profile_values(profile)
    for key, value in plan.crm.items():
        if key in plan.status_field:
            # The status came from the stage; the lead's status field still holds its own value:
            # that is what amoCRM holds, so a later hook repeating it is not a change, and the sync
            # sends the stage's status to the field.
            if plan.status_field[key] is not None:
                synced[key] = mapping.field_value(mapping.FIELDS_BY_KEY[key], plan.status_field[key], fields)
        elif value == now_values[key] and not (key == Key.ACCOUNT_SUM and plan.sum_from_price):
            synced[key] = state[key]
    for key in plan.kept:
        # amoCRM holds the field empty and the site may not: the sync puts the site's value back.
        synced[key] = mapping.field_value(mapping.FIELDS_BY_KEY[key], None, fields)
    if change.price is not None and change.price == state["price"]:
        synced["price"] = change.price
    if change.status_id is not None and state["status_id"] is not None and plan.status_field:
        synced["status_id"] = state["status_id"]  # the manager closed it: no move back and forth
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
    if change.contact_id and change.contact_id != sync.contact_id:
        # A manager relinked the lead to another contact, or merged ours into one: that contact's
        # hooks apply from now on. Its phone is not known yet (None: recorded, not applied).
        logger.info("amocrm.contact_relinked lead_id=%s contact_id=%s", change.lead_id, change.contact_id)
        sync.contact_id, sync.contact_phone, sync.contact_modified_at = change.contact_id, None, None
        updates += ["contact_id", "contact_phone", "contact_modified_at"]
    if updates:
        sync.save(update_fields=[*updates, "updated_at"])
    return mapping.lead_state_changes(state, synced)


def _payment_confirm(
    profile: Profile, invoice: Invoice, plan: lead_plan.LeadPlan, change: webhooks.LeadChange
) -> list[str]:
    """Confirm the payment the plan found (`accounts.payments.invoice_pay`: one ledger entry,
    however often it is confirmed)."""
    if plan.payment is None:
        return []
    received = None if plan.payment == lead_plan.INVOICE_AMOUNT else plan.payment
    paid, paid_now = payments.invoice_pay(
        invoice=invoice, amount=received, source=Invoice.Source.CRM, confirmed_by=f"lead {change.lead_id}"
    )
    if not paid_now:
        return []  # paid meanwhile (a staff click): nothing changed here
    profile.account_sum = paid.profile.account_sum  # posted on another copy of the locked row
    return ["invoice"]


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


def _phone_wins(sync: LeadSync, modified_at: datetime.datetime | None, dropped: list[dict[str, str]]) -> bool:
    """amoCRM's phone came after the site last changed the phone; when not, the change is dropped."""
    site_at = sync.site_changed(mapping.PHONE)
    if lead_plan.crm_wins(site_at, modified_at):
        return True
    dropped.append(lead_plan.dropped_change(mapping.PHONE, modified_at, site_at))
    return False


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
            mismatch = "" if emails.same(change.email, profile.user.email) else change.email[:EMAIL_LENGTH]
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
                and _phone_wins(sync, change.modified_at, applied.dropped)
            ):
                changed, invalid = accounts_services.profile_apply_staff_changes(
                    profile=profile, data={"phone": phone[:PHONE_LENGTH]}, origin=Origin.CRM
                )
                applied.changes.extend(changed)
                applied.errors.update({f"phone ({profile.pk})": m for m in invalid.values()})
            sync.contact_phone = phone[:PHONE_LENGTH]
            updates.append("contact_phone")
        if updates:
            sync.save(update_fields=[*updates, "updated_at"])
    return applied
