"""Writes to customers' profiles. Views and forms parse input; the rules live here."""

import datetime
import logging
from collections.abc import Iterable
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import history, notices, payments, referrals
from accounts.ledger import ledger_post
from accounts.models import BouquetCategory, Delivery, LedgerEntry, Profile, User
from accounts.signals import Action, Origin

logger = logging.getLogger(__name__)

# Where the referral landing page keeps the referrer's code until the visitor signs up.
REFERRAL_SESSION_KEY = "referral_code"

# Fields a customer may change from the site; account sum and status belong to staff (and the CRM).
CUSTOMER_EDITABLE_FIELDS = ("bouquet_category", "delivery_address", "delivery_interval", "wishes", "phone")

# Changing one of these reshapes the future scheduled deliveries.
SCHEDULE_FIELDS = {
    "bouquet_category",
    "delivery_address",
    "delivery_interval",
    "first_delivery_date",
    "account_status",
    "paused_until",
}

# Fields staff may change from outside the site (a back office): the customer's plus sum and status.
STAFF_EDITABLE_FIELDS = (*CUSTOMER_EDITABLE_FIELDS, "account_sum", "account_status")


def referrer_find(*, referral_code: str | UUID | None) -> Profile | None:
    """The profile behind a referral code, or None for a missing, malformed or unknown one."""
    if not referral_code:
        return None
    try:
        code = UUID(str(referral_code))
    except ValueError:
        return None
    return Profile.objects.filter(referral_code=code).first()


@transaction.atomic
def profile_create(
    *,
    user: User,
    bouquet_category: BouquetCategory,
    delivery_address: str,
    first_delivery_date: datetime.date,
    delivery_interval: str,
    wishes: str,
    invoice_amount: Decimal,
    phone: str = "",
    referred_by: Profile | None = None,
) -> Profile:
    """A new subscription: the profile, its first invoice (the balance stays 0 until it is paid) and
    its first weeks of deliveries."""
    profile = Profile(
        user=user,
        bouquet_category=bouquet_category,
        delivery_address=delivery_address,
        first_delivery_date=first_delivery_date,
        delivery_interval=delivery_interval,
        wishes=wishes,
        account_sum=Decimal("0.00"),
        phone=phone,
        referred_by=referred_by,
    )
    profile.full_clean()
    profile.save()
    deliveries_reschedule(profile=profile, is_first_plan=True)
    history.event_send(
        profile,
        Action.SIGNED_UP,
        fields=[*CUSTOMER_EDITABLE_FIELDS, "first_delivery_date", "deliveries", "invoices"],
        category=bouquet_category.name,
        interval=str(profile.get_delivery_interval_display()),
        first_date=first_delivery_date.isoformat(),
        sum=str(invoice_amount),
    )
    invoice = None
    if invoice_amount > 0:  # a free category's customer has nothing to pay
        invoice = payments.invoice_issue(profile=profile, amount=invoice_amount)
    notices.welcome_send(profile=profile, invoice=invoice)
    return profile


def _re_anchors(
    profile: Profile, next_delivery_date: datetime.date | None, *, interval_changed: bool
) -> bool:
    """True when the asked-for next date is not the one the customer gets anyway: the next scheduled
    delivery (same interval), or the schedule's own next date (with the interval as it now is)."""
    if next_delivery_date is None:
        return False
    if not interval_changed and next_delivery_date == profile.next_delivery_on():
        return False
    return next_delivery_date != profile.schedule_next_on()


@transaction.atomic
def profile_update_preferences(
    *, profile: Profile, data: dict[str, Any], next_delivery_date: datetime.date | None = None
) -> Profile:
    """Apply a customer's preference changes; save only what changed, with `update_fields`.

    A new next delivery date re-anchors the schedule: it becomes the first delivery date, so the
    following deliveries are counted from it by the interval.
    """
    unknown = set(data) - set(CUSTOMER_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Customers cannot change: {', '.join(sorted(unknown))}")
    changed = [field for field, value in data.items() if getattr(profile, field) != value]
    before = {field: _shown(profile, field) for field in [*changed, "first_delivery_date"]}
    for field in changed:
        setattr(profile, field, data[field])
    if _re_anchors(profile, next_delivery_date, interval_changed="delivery_interval" in changed):
        profile.first_delivery_date = next_delivery_date
        changed.append("first_delivery_date")
    if not changed:
        return profile
    profile.full_clean()
    profile.save(update_fields=[*changed, "updated_at"])
    rescheduled = bool(set(changed) & SCHEDULE_FIELDS)
    if rescheduled:
        deliveries_reschedule(profile=profile)
    history.event_send(
        profile,
        Action.PREFERENCES_CHANGED,
        fields=[*changed, *(["deliveries"] if rescheduled else [])],
        changes={field: [before[field], _shown(profile, field)] for field in changed},
    )
    return profile


def _shown(profile: Profile, field: str) -> str:
    """A field's value as the history shows it: a choice's label, a category's name, a date."""
    value = getattr(profile, field)
    if field == "bouquet_category":
        return value.name
    if field == "delivery_interval":
        return str(profile.get_delivery_interval_display())
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


@transaction.atomic
def profile_apply_staff_changes(
    *,
    profile: Profile,
    data: dict[str, Any],
    origin: Origin = Origin.STAFF,
    next_delivery_date: datetime.date | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Apply changes staff made outside the site, field by field; (fields changed, errors by field).

    An invalid value (a negative sum, an address too long) is left out and reported, the rest is
    saved. A new next delivery date re-anchors the schedule as `profile_update_preferences` does.
    The change is told with its `origin` (from the CRM: the CRM holds it already).
    """
    unknown = set(data) - set(STAFF_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Staff cannot change from outside: {', '.join(sorted(unknown))}")
    original = {field: getattr(profile, field) for field in [*data, "first_delivery_date"]}
    next_before = notices.next_scheduled_on(profile)
    changed = [field for field, value in data.items() if getattr(profile, field) != value]
    for field in changed:
        setattr(profile, field, data[field])
    if _re_anchors(profile, next_delivery_date, interval_changed="delivery_interval" in changed):
        profile.first_delivery_date = next_delivery_date
        changed.append("first_delivery_date")
    errors: dict[str, str] = {}
    while changed:
        others = [f.name for f in Profile._meta.fields if f.name not in changed]
        try:
            profile.full_clean(exclude=others, validate_unique=False)
            break
        except ValidationError as e:
            bad = [field for field in e.message_dict if field in changed] or list(changed)
            for field in bad:
                errors[field] = " ".join(e.message_dict.get(field) or e.messages)
                setattr(profile, field, original[field])
                changed.remove(field)
    if "account_sum" in changed:
        # The sum changes through the ledger only: the manager's change is an entry for the difference.
        new_sum, profile.account_sum = profile.account_sum, original["account_sum"]
        ledger_post(
            profile=profile,
            amount=new_sum - original["account_sum"],
            reason=LedgerEntry.Reason.MANAGER,
            also_save=[field for field in changed if field != "account_sum"],
        )
    elif changed:
        profile.save(update_fields=[*changed, "updated_at"])
    rescheduled = bool(set(changed) & SCHEDULE_FIELDS)
    if rescheduled:
        deliveries_reschedule(profile=profile)
    if changed:
        history.event_send(
            profile, fields=[*changed, *(["deliveries"] if rescheduled else [])], origin=origin
        )
    if rescheduled:
        notices.next_delivery_changed(profile=profile, before=next_before, origin=origin)
    return changed, errors


# -- deliveries ------------------------------------------------------------------------------------


@transaction.atomic
def deliveries_reschedule(
    *, profile: Profile, today: datetime.date | None = None, is_first_plan: bool = False
) -> None:
    """Keep the next weeks of scheduled deliveries in step with the preferences and the pause.

    Only rows from the cut-off on (`Delivery.first_open_on`) that are still scheduled (or skipped) are
    touched: past, delivered and locked ones never, and no new row is planned before the cut-off either,
    since those days are on the couriers' list already; only a new subscription's first plan
    (`is_first_plan`) starts from today.

    A date that leaves the schedule is cancelled; a skipped date that stays on it stays skipped,
    one that leaves it is cancelled; a cancelled date that comes back is scheduled again (one row per
    day). Scheduled rows take the current category, its price and the address. A pause with a resume
    date plans nothing before that date; an indefinite pause (or a closed account) plans nothing.

    A delivery the customer moved (`moved_from`) follows the date it was moved from: that date stays
    taken (no new row there) and the moved row lives as long as that date is on the schedule (or has
    passed, the move standing) and deliveries are planned on its day at all; when the date leaves the
    schedule, or a pause or closing covers the moved row's day, it is cancelled like any other. When
    the schedule itself comes to want the moved row's day, the row becomes that day's ordinary one.
    A date that comes back after being cancelled is reminded again.
    """
    today = today or timezone.localdate()
    start = today
    if profile.account_status == Profile.AccountStatus.CLOSED or (
        profile.is_paused and profile.paused_until is None
    ):
        wanted: set[datetime.date] = set()
    else:
        if profile.is_paused:
            start = max(today, profile.paused_until)
        until = today + datetime.timedelta(weeks=settings.DELIVERY_HORIZON_WEEKS)
        wanted = set(
            profile.planned_dates(start=start, until=until, at_least=settings.UPCOMING_DELIVERIES_SHOWN)
        )
    category = profile.bouquet_category
    snapshot = {
        "bouquet_category": category,
        "price": category.price,
        "delivery_address": profile.delivery_address,
    }
    open_from = today if is_first_plan else Delivery.first_open_on(today=today)
    existing = {
        d.delivery_on: d for d in profile.deliveries.select_for_update().filter(delivery_on__gte=today)
    }
    # Schedule dates another live delivery was moved away from: a row moved onto one of them is
    # still that other date's bouquet, not the day's ordinary one (or the roll would undo its move).
    moved_away = {
        d.moved_from for d in existing.values() if d.moved_from and d.status != Delivery.Status.CANCELLED
    }
    for day, delivery in existing.items():
        fields: list[str] = []
        if delivery.status == Delivery.Status.DELIVERED or day < open_from:
            continue
        if delivery.moved_from is not None and day in wanted and day not in moved_away:
            delivery.moved_from = None  # the schedule wants this very day now: an ordinary row
            fields.append("moved_from")
        slot = delivery.moved_from or day
        # A move whose original date has passed stands, while deliveries are planned on its day.
        move_stands = slot < today and bool(wanted) and day >= start
        on_schedule = slot in wanted or move_stands
        if not on_schedule and delivery.status != Delivery.Status.CANCELLED:
            delivery.status = Delivery.Status.CANCELLED
            fields.append("status")
        elif on_schedule and delivery.status == Delivery.Status.CANCELLED:
            delivery.status = Delivery.Status.SCHEDULED
            delivery.reminded_at = None
            fields += ["status", "reminded_at"]
        if delivery.status == Delivery.Status.SCHEDULED:
            changed = [name for name, value in snapshot.items() if getattr(delivery, name) != value]
            for name in changed:
                setattr(delivery, name, snapshot[name])
            fields += changed
        if fields:
            delivery.save(update_fields=[*fields, "updated_at"])
    # Dates a live moved delivery still stands for, including one moved before today.
    taken = {
        d.moved_from for d in existing.values() if d.moved_from and d.status != Delivery.Status.CANCELLED
    } | set(
        profile.deliveries.filter(delivery_on__lt=today, moved_from__gte=today).values_list(
            "moved_from", flat=True
        )
    )
    Delivery.objects.bulk_create(
        [
            Delivery(profile=profile, delivery_on=day, **snapshot)
            for day in sorted(wanted - set(existing) - taken)
            if day >= open_from
        ]
    )


@transaction.atomic
def profile_save_by_staff(
    *, profile: Profile, is_new: bool, staff_email: str, changed: Iterable[str] = ()
) -> Profile:
    """Save a profile staff edited in the admin (`changed`: the fields the form changed). The sum
    changes through the ledger only: a new account sum becomes a staff entry for the difference,
    against the sum locked in the database."""
    wanted = profile.account_sum
    next_before = None if is_new else notices.next_scheduled_on(profile)
    profile.account_sum = (
        Profile._meta.get_field("account_sum").default
        if is_new
        else Profile.objects.select_for_update().values_list("account_sum", flat=True).get(pk=profile.pk)
    )
    profile.save()
    fields = [*CUSTOMER_EDITABLE_FIELDS, *STAFF_EDITABLE_FIELDS] if is_new else list(changed)
    corrected = wanted != profile.account_sum
    if corrected:
        amount = wanted - profile.account_sum
        ledger_post(
            profile=profile,
            amount=amount,
            reason=LedgerEntry.Reason.STAFF,
            note=gettext("Admin: %(email)s") % {"email": staff_email},
        )
        correction = {"amount": str(amount), "balance": str(profile.account_sum)}
        history.event_send(
            profile,
            Action.BALANCE_CORRECTED,
            fields=[*fields, "account_sum", "deliveries"],
            origin=Origin.STAFF,
            **correction,
        )
    deliveries_reschedule(profile=profile)
    if not corrected:
        history.event_send(profile, fields=[*fields, "deliveries"], origin=Origin.STAFF)
    notices.next_delivery_changed(profile=profile, before=next_before, origin=Origin.STAFF)
    return profile


@transaction.atomic
def profile_edited_by_staff(*, user: User, fields: Iterable[str]) -> None:
    """Staff saved the user (`email`) or its profile inline in the admin: tell what changed, once."""
    fields = list(fields)
    profile = Profile.objects.filter(user=user).first()
    if profile is not None and fields:
        history.event_send(profile, fields=fields, origin=Origin.STAFF)


@transaction.atomic
def manager_message_send(*, profile: Profile, text: str) -> None:
    """The customer wrote to their manager from the account page: told as an event (the history
    keeps it; a CRM mirror makes it a note and a task for the lead's responsible manager)."""
    history.event_send(profile, Action.MANAGER_MESSAGE, text=text)
    logger.info("accounts.manager_message profile_id=%s length=%s", profile.pk, len(text))


@transaction.atomic
def password_reset_requested(*, email: str) -> None:
    """A reset link was asked for this address (matched exactly as stored, so never a second account):
    the history of its subscription (if any) says so. Nothing is told to the asker either way."""
    for profile in Profile.objects.filter(
        user__email=User.objects.normalize_email(email), user__is_active=True
    ):
        history.event_send(profile, Action.PASSWORD_RESET_REQUESTED)


# -- referral rewards ------------------------------------------------------------------------------


@transaction.atomic
def referral_reward_grant(*, delivery: Delivery) -> LedgerEntry | None:
    """Credit the referrer once, for the referred customer's first delivered bouquet; email after commit.

    Withheld (and the reason kept for staff) when accounts.referrals refuses it."""
    friend = delivery.profile
    if friend.referred_by_id is None:
        return None
    if friend.deliveries.filter(status=Delivery.Status.DELIVERED).exclude(pk=delivery.pk).exists():
        return None  # not the first one
    if LedgerEntry.objects.filter(reason=LedgerEntry.Reason.REFERRAL, delivery__profile=friend).exists():
        return None
    referrer = Profile.objects.select_related("user").get(pk=friend.referred_by_id)
    refusal = referrals.reward_refusal(referrer=referrer, friend=friend)
    if refusal:
        # Kept on the friend's profile, where staff look for why the referrer got nothing.
        friend.referral_reward_withheld = refusal
        friend.save(update_fields=["referral_reward_withheld", "updated_at"])
        logger.info(
            "accounts.referral_reward_withheld profile_id=%s referrer_id=%s reason=%s",
            friend.pk,
            referrer.pk,
            refusal,
        )
        return None
    entry = ledger_post(
        profile=referrer,
        amount=settings.REFERRAL_REWARD_AMOUNT,
        reason=LedgerEntry.Reason.REFERRAL,
        delivery=delivery,
        note=f"profile {friend.pk}",
    )
    history.event_send(referrer, fields=["account_sum"])
    transaction.on_commit(partial(referral_reward_email_send, entry_id=entry.pk), robust=True)
    return entry


def referral_reward_email_send(*, entry_id: int) -> None:
    entry = LedgerEntry.objects.select_related("profile__user").get(pk=entry_id)
    context = {"amount": entry.amount, "profile": entry.profile, "site_url": settings.SITE_URL}
    get_adapter().render_mail("accounts/email/referral_reward", entry.profile.user.email, context).send()
    logger.info("accounts.referral_reward_emailed entry_id=%s profile_id=%s", entry.pk, entry.profile_id)
