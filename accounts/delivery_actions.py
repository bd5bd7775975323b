"""What customers (and staff) do to deliveries and to the subscription's course: skip, un-skip,
move, pause, resume, close, start again, mark delivered, and the daily roll. The rules live here;
views, the admin and commands call them."""

import contextlib
import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from accounts import history, ledger, notices, services
from accounts.models import Delivery, LedgerEntry, Profile
from accounts.signals import Action, Origin

# What a pause or a resume changes (the next delivery with the status).
PAUSE_FIELDS = ("account_status", "paused_until", "deliveries")


def deliveries_roll(*, today: datetime.date | None = None, dry_run: bool = False) -> dict[str, int]:
    """Daily: end pauses whose resume date has come and move every profile's window one day on."""
    today = today or timezone.localdate()
    resuming = Profile.objects.filter(account_status=Profile.AccountStatus.PAUSED, paused_until__lte=today)
    profiles = Profile.objects.exclude(account_status=Profile.AccountStatus.CLOSED).select_related(
        "bouquet_category"
    )
    counts = {"resumed": resuming.count(), "profiles": profiles.count()}
    if dry_run:
        return counts
    for profile in resuming.select_related("bouquet_category"):
        # A customer who resumed (or closed) it since the query left nothing to end.
        with contextlib.suppress(DeliveryError):
            profile_resume(profile=profile, today=today)
    for profile in profiles.iterator(chunk_size=200):
        services.deliveries_reschedule(profile=profile, today=today)
    return counts


class DeliveryError(Exception):
    """A customer or staff action the delivery's state does not allow; the message is for people."""


def _lock(profile: Profile) -> None:
    """Lock the profile's row and read it again, so that two tabs' status changes run one after the
    other and the second checks the status the first left (not the one its page was drawn from)."""
    profile.refresh_from_db(from_queryset=Profile.objects.select_for_update())


def _too_late(action: str) -> DeliveryError:
    days = settings.DELIVERY_SKIP_CUTOFF_DAYS
    messages = {
        "skip": ngettext(
            "It is too late to skip this delivery: skipping closes %(days)s day before it.",
            "It is too late to skip this delivery: skipping closes %(days)s days before it.",
            days,
        ),
        "unskip": ngettext(
            "It is too late to bring this delivery back: changes close %(days)s day before it.",
            "It is too late to bring this delivery back: changes close %(days)s days before it.",
            days,
        ),
        "move": ngettext(
            "It is too late to move this delivery: changes close %(days)s day before it.",
            "It is too late to move this delivery: changes close %(days)s days before it.",
            days,
        ),
    }
    return DeliveryError(messages[action] % {"days": days})


@transaction.atomic
def delivery_skip(*, profile: Profile, delivery_id: int, today: datetime.date | None = None) -> Delivery:
    """The customer skips one of their own deliveries, until the cut-off; another customer's is not found."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id, profile=profile)
    if delivery.status != Delivery.Status.SCHEDULED:
        raise DeliveryError(gettext("This delivery is not scheduled any more."))
    if not delivery.can_skip(today=today):
        raise _too_late("skip")
    delivery.status = Delivery.Status.SKIPPED
    delivery.save(update_fields=["status", "updated_at"])
    history.event_send(
        profile, Action.DELIVERY_SKIPPED, fields=["deliveries"], date=delivery.delivery_on.isoformat()
    )
    return delivery


@transaction.atomic
def delivery_unskip(*, profile: Profile, delivery_id: int, today: datetime.date | None = None) -> Delivery:
    """The customer takes back a skip, until the cut-off; the bouquet is planned as the profile now is."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id, profile=profile)
    if delivery.status != Delivery.Status.SKIPPED:
        raise DeliveryError(gettext("This delivery is not skipped."))
    if not delivery.can_unskip(today=today):
        raise _too_late("unskip")
    delivery.status = Delivery.Status.SCHEDULED
    # While skipped, the row kept the category and address it had; a scheduled one follows the profile.
    delivery.bouquet_category = profile.bouquet_category
    delivery.price = profile.bouquet_category.price
    delivery.delivery_address = profile.delivery_address
    delivery.save(update_fields=["status", "bouquet_category", "price", "delivery_address", "updated_at"])
    history.event_send(
        profile, Action.DELIVERY_UNSKIPPED, fields=["deliveries"], date=delivery.delivery_on.isoformat()
    )
    return delivery


def move_window(
    *, today: datetime.date | None = None, by_staff: bool = False
) -> tuple[datetime.date, datetime.date]:
    """The first and last day a delivery may be moved to: after the cut-off (for staff, who hold the
    couriers' list, from today), within the planned weeks."""
    today = today or timezone.localdate()
    first = today if by_staff else Delivery.first_open_on(today=today)
    return first, today + datetime.timedelta(weeks=settings.DELIVERY_HORIZON_WEEKS)


def changes_reach(
    deliveries: list[Delivery], *, today: datetime.date | None = None
) -> tuple[list[Delivery], Delivery | None]:
    """Of the upcoming deliveries (in date order), the scheduled ones past the cut-off, which a change
    made now leaves as they are, and the first one it applies to (what the pages tell the customer)."""
    scheduled = [d for d in deliveries if d.status == Delivery.Status.SCHEDULED]
    locked = [d for d in scheduled if d.is_locked(today=today)]
    return locked, next((d for d in scheduled if not d.is_locked(today=today)), None)


@transaction.atomic
def delivery_move(
    *,
    profile: Profile,
    delivery_id: int,
    new_date: datetime.date,
    today: datetime.date | None = None,
    by_staff: bool = False,
) -> Delivery:
    """Move one scheduled delivery to another free day, both before their cut-offs and within the
    planned weeks. The row remembers the schedule's date it came from (`moved_from`), so the daily
    reschedule neither plans that date again nor cancels the moved bouquet.

    Staff (the deliveries sheet, `by_staff`) move deliveries already with the couriers too, to any
    free day from today; the customer hears of it as of a manager's move (history, email)."""
    today = today or timezone.localdate()
    delivery = Delivery.objects.select_for_update().get(pk=delivery_id, profile=profile)
    if delivery.status != Delivery.Status.SCHEDULED:
        raise DeliveryError(gettext("Only a scheduled delivery can be moved."))
    if not by_staff and not delivery.can_skip(today=today):
        raise _too_late("move")
    first, last = move_window(today=today, by_staff=by_staff)
    # What the customer is told of a staff move compares with it (a customer knows their own move).
    next_before = notices.next_scheduled_on(profile) if by_staff else None
    if new_date == delivery.delivery_on:
        raise DeliveryError(gettext("The delivery is already on that day."))
    if not first <= new_date <= last:
        raise DeliveryError(
            gettext("Choose a day from %(first)s to %(last)s.")
            % {"first": date_format(first, "j E"), "last": date_format(last, "j E Y")}
        )
    day_taken = gettext("There is already a delivery on that day; choose another one.")
    there = profile.deliveries.select_for_update().filter(delivery_on=new_date).first()
    if there is not None and there.status != Delivery.Status.CANCELLED:
        raise DeliveryError(day_taken)
    if there is not None:
        there.delete()  # a cancelled date holds no money (only delivered rows have ledger entries)
    old_date = delivery.delivery_on
    slot = delivery.moved_from or old_date
    delivery.delivery_on = new_date
    delivery.moved_from = None if new_date == slot else slot  # moved back home: an ordinary row again
    delivery.reminded_at = None  # a new date, a new reminder
    try:
        # A savepoint: another tab's move may have taken the free day since the check above (there
        # was no row to lock), and the database's one-delivery-a-day constraint is what says so.
        with transaction.atomic():
            delivery.save(update_fields=["delivery_on", "moved_from", "reminded_at", "updated_at"])
    except IntegrityError:
        raise DeliveryError(day_taken) from None
    history.event_send(
        profile,
        Action.DELIVERY_MOVED_BY_STAFF if by_staff else Action.DELIVERY_MOVED,
        fields=["deliveries"],
        origin=Origin.STAFF if by_staff else Origin.SITE,
        date=old_date.isoformat(),
        to=new_date.isoformat(),
    )
    if by_staff:
        notices.next_delivery_changed(profile=profile, before=next_before, origin=Origin.STAFF)
    return delivery


@transaction.atomic
def profile_pause(
    *, profile: Profile, resume_on: datetime.date | None = None, today: datetime.date | None = None
) -> Profile:
    """Pause the subscription until `resume_on` (deliveries from that date go on) or indefinitely."""
    today = today or timezone.localdate()
    _lock(profile)
    if profile.account_status == Profile.AccountStatus.CLOSED:
        raise DeliveryError(gettext("A closed subscription cannot be paused."))
    if profile.is_paused:
        raise DeliveryError(gettext("The subscription is already paused."))
    if resume_on is not None and resume_on <= today:
        raise DeliveryError(gettext("The resume date must be in the future."))
    profile.account_status = Profile.AccountStatus.PAUSED
    profile.paused_until = resume_on
    profile.save(update_fields=["account_status", "paused_until", "updated_at"])
    services.deliveries_reschedule(profile=profile, today=today)
    history.event_send(
        profile, Action.PAUSED, fields=PAUSE_FIELDS, until=resume_on.isoformat() if resume_on else None
    )
    return profile


@transaction.atomic
def profile_resume(*, profile: Profile, today: datetime.date | None = None) -> Profile:
    """End a pause: the schedule goes on from today by the same first date and interval."""
    _lock(profile)
    if not profile.is_paused:
        raise DeliveryError(gettext("The subscription is not paused."))
    profile.account_status = Profile.AccountStatus.ACTIVE
    profile.paused_until = None
    profile.save(update_fields=["account_status", "paused_until", "updated_at"])
    services.deliveries_reschedule(profile=profile, today=today)
    upcoming = profile.next_delivery_on(today=today)
    history.event_send(
        profile, Action.RESUMED, fields=PAUSE_FIELDS, next=upcoming.isoformat() if upcoming else None
    )
    return profile


@transaction.atomic
def profile_close(*, profile: Profile, today: datetime.date | None = None) -> Profile:
    """End the subscription: no delivery is planned any more. Deliveries past the cut-off
    (`Delivery.first_open_on`) are on the couriers' list already and still come; the balance stays."""
    _lock(profile)
    if profile.account_status == Profile.AccountStatus.CLOSED:
        raise DeliveryError(gettext("The subscription is already closed."))
    profile.account_status = Profile.AccountStatus.CLOSED
    profile.paused_until = None
    profile.save(update_fields=["account_status", "paused_until", "updated_at"])
    services.deliveries_reschedule(profile=profile, today=today)
    still_coming = profile.upcoming_deliveries(today=today, limit=None)
    last = still_coming[-1].delivery_on if still_coming else None
    history.event_send(profile, Action.CLOSED, fields=PAUSE_FIELDS, last=last.isoformat() if last else None)
    return profile


@transaction.atomic
def profile_reopen(*, profile: Profile, today: datetime.date | None = None) -> Profile:
    """Start a closed subscription again: the schedule goes on from the first open day by the same
    first date and interval (the stored status says "active"; unpaid, it still reads "new")."""
    _lock(profile)
    if profile.account_status != Profile.AccountStatus.CLOSED:
        raise DeliveryError(gettext("The subscription is not closed."))
    profile.account_status = Profile.AccountStatus.ACTIVE
    profile.save(update_fields=["account_status", "updated_at"])
    services.deliveries_reschedule(profile=profile, today=today)
    upcoming = profile.next_delivery_on(today=today)
    history.event_send(
        profile, Action.REOPENED, fields=PAUSE_FIELDS, next=upcoming.isoformat() if upcoming else None
    )
    return profile


@transaction.atomic
def delivery_complete(*, delivery_id: int, now: datetime.datetime | None = None) -> bool:
    """Staff mark a delivery delivered, on its day or later (the site's day): debit its price once, then
    reward the referrer of a first one.

    True when completed now, False when it already was (a second click changes nothing). A price
    the balance cannot cover raises `InsufficientBalance` and nothing changes: staff top the balance
    up first (or correct it), then mark the delivery again.
    """
    delivery = Delivery.objects.select_for_update().select_related("profile").get(pk=delivery_id)
    if delivery.status == Delivery.Status.DELIVERED:
        return False
    if delivery.status != Delivery.Status.SCHEDULED:
        raise DeliveryError(gettext("Only a scheduled delivery can be marked delivered."))
    now = now or timezone.now()
    if not delivery.is_due(today=timezone.localdate(now)):  # the site's day, not the server's
        raise DeliveryError(
            gettext("The delivery is on %(day)s: it can be marked delivered from that day on.")
            % {"day": date_format(delivery.delivery_on, "j E Y")}
        )
    ledger.ledger_post(
        profile=delivery.profile,
        amount=-delivery.price,
        reason=LedgerEntry.Reason.DELIVERY,
        delivery=delivery,
        note=delivery.delivery_on.isoformat(),
    )
    delivery.status = Delivery.Status.DELIVERED
    delivery.delivered_at = now
    delivery.save(update_fields=["status", "delivered_at", "updated_at"])
    services.referral_reward_grant(delivery=delivery)
    history.event_send(
        delivery.profile,
        Action.DELIVERY_COMPLETED,
        fields=["account_sum", "deliveries"],
        origin=Origin.STAFF,
        date=delivery.delivery_on.isoformat(),
        amount=str(delivery.price),
    )
    notices.delivered_send(delivery=delivery)
    return True
