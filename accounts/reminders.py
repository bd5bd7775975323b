"""Reminder emails: one before each delivery, and one per low-balance shortfall.

`manage.py deliveries_remind` (hourly) sends whatever is due at that moment. A delivery is due from
DELIVERY_REMINDER_HOUR (Moscow time) DELIVERY_REMINDER_DAYS days before it, so a delivery booked
later than that moment is due at once; deliveries of today or earlier are never reminded.

Each reminder is claimed and its email queued in one transaction: a conditional UPDATE sets
`reminded_at` on a row that has none (one statement, so two overlapping runs cannot both claim it),
and the email becomes a row of the outbox (emails.outbox), which the worker sends and retries. So a
reminder is queued exactly once: a failure (a template or the database) rolls the claim back for
the next run, and no SMTP conversation holds the row lock, since the mail server is the worker's.

The low-balance email follows the same claim-then-send on `Profile.low_balance_emailed_at`, which
a later run clears once the balance covers the next delivery again: one email per shortfall. Both
kinds are updated with `QuerySet.update`, which sends no `post_save`: a reminder is nothing the CRM
needs to hear about. The preferences checkbox (`Profile.wants_reminders`) turns both off.
"""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone, translation

from accounts import skip_links
from accounts.models import Delivery, Profile

logger = logging.getLogger(__name__)


@dataclass
class Report:
    due: int = 0
    sent: int = 0
    failed: int = 0
    low_balance_due: int = 0
    low_balance_sent: int = 0
    low_balance_cleared: int = 0


def profile_reminders_set(*, profile: Profile, wants: bool, wants_notices: bool | None = None) -> Profile:
    """The customer's email checkboxes (reminders; delivery notices, accounts.notices); not a
    preference the CRM or the lead's history track."""
    wanted = {"wants_reminders": wants}
    if wants_notices is not None:
        wanted["wants_delivery_notices"] = wants_notices
    changed = {field: value for field, value in wanted.items() if getattr(profile, field) != value}
    if changed:
        Profile.objects.filter(pk=profile.pk).update(**changed)
        for field, value in changed.items():
            setattr(profile, field, value)
    return profile


def deliveries_due(*, now: datetime.datetime) -> QuerySet[Delivery]:
    """Scheduled deliveries whose reminder moment has come and that have had none."""
    local = timezone.localtime(now)
    days = settings.DELIVERY_REMINDER_DAYS - (0 if local.hour >= settings.DELIVERY_REMINDER_HOUR else 1)
    return Delivery.objects.filter(
        status=Delivery.Status.SCHEDULED,
        reminded_at__isnull=True,
        delivery_on__gt=local.date(),
        delivery_on__lte=local.date() + datetime.timedelta(days=days),
        profile__wants_reminders=True,
        profile__user__is_active=True,
    ).order_by("delivery_on", "pk")


def _short_of_next_delivery(*, today: datetime.date) -> QuerySet[Profile]:
    next_price = (
        Delivery.objects.filter(
            profile=OuterRef("pk"), status=Delivery.Status.SCHEDULED, delivery_on__gte=today
        )
        .order_by("delivery_on")
        .values("price")[:1]
    )
    # An invoice awaiting payment already asks for the money (the account page says how to pay, a
    # manager calls): "top up" on top of it would invite a second payment.
    return (
        Profile.objects.with_awaiting_sum()
        .annotate(next_price=Subquery(next_price))
        .filter(next_price__gt=F("account_sum") + F("awaiting_sum"))
    )


def low_balance_due(*, now: datetime.datetime) -> QuerySet[Profile]:
    """Profiles whose balance does not cover the next delivery and who have not been told yet."""
    if timezone.localtime(now).hour < settings.DELIVERY_REMINDER_HOUR:
        return Profile.objects.none()  # not at night: the same hour as the reminders
    return _short_of_next_delivery(today=timezone.localdate(now)).filter(
        low_balance_emailed_at__isnull=True, wants_reminders=True, user__is_active=True
    )


def reminders_send(
    *,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[Report], None] | None = None,
) -> Report:
    """Send every reminder and low-balance email due at `now`; safe to run twice, or side by side."""
    now = now or timezone.now()
    report = Report()
    due = list(deliveries_due(now=now).values_list("pk", flat=True))
    short = list(low_balance_due(now=now).values_list("pk", flat=True))
    report.due, report.low_balance_due = len(due), len(short)
    if dry_run:
        return report
    report.low_balance_cleared = (
        Profile.objects.filter(low_balance_emailed_at__isnull=False)
        .exclude(pk__in=_short_of_next_delivery(today=timezone.localdate(now)).values("pk"))
        .update(low_balance_emailed_at=None)
    )
    for delivery_id in due:
        claimed = _claim_and_send(Delivery, delivery_id, field="reminded_at", now=now, build=_reminder_email)
        report.sent += claimed is True
        report.failed += claimed is False
        if progress is not None:
            progress(report)
    for profile_id in short:
        claimed = _claim_and_send(
            Profile, profile_id, field="low_balance_emailed_at", now=now, build=_low_balance_email
        )
        report.low_balance_sent += claimed is True
        report.failed += claimed is False
    return report


def _claim_and_send(
    model: type[Delivery | Profile],
    pk: int,
    *,
    field: str,
    now: datetime.datetime,
    build: Callable[..., EmailMultiAlternatives],
) -> bool | None:
    """Claim the row (`field` from empty to `now`) and queue its email in one transaction: True
    queued, None another run has it, False failed (the rollback gives the claim back)."""
    try:
        with transaction.atomic():
            if not model.objects.filter(pk=pk, **{f"{field}__isnull": True}).update(**{field: now}):
                return None  # another run took it
            with translation.override(settings.LANGUAGE_CODE):
                build(_SELECTED[model].get(pk=pk), now=now).send()
    except Exception:  # one customer's bad data must not stop the rest
        logger.exception("accounts.reminder_failed kind=%s id=%s", build.__name__, pk)
        return False
    logger.info("accounts.reminder_queued kind=%s id=%s", build.__name__, pk)
    return True


# What each email's template reads, in one query.
_SELECTED = {
    Delivery: Delivery.objects.select_related("profile__user", "bouquet_category"),
    Profile: Profile.objects.select_related("user"),
}


def _email(name: str, context: dict, to: str) -> EmailMultiAlternatives:
    # allauth's: the subject prefix, the sender, the text body and the HTML one beside it.
    return get_adapter().render_mail(f"accounts/email/{name}", to, {**context, "site_url": settings.SITE_URL})


def _reminder_email(delivery: Delivery, *, now: datetime.datetime) -> EmailMultiAlternatives:
    profile = delivery.profile
    context = {
        "delivery": delivery,
        "profile": profile,
        "skip_url": skip_links.skip_url(delivery) if delivery.can_skip(today=timezone.localdate(now)) else "",
        "skip_deadline": delivery.skip_deadline(),
        # The account page's banner, in the email: a bouquet the balance does not cover yet.
        "is_short": not delivery.is_paid,
        "has_invoice": not profile.is_paid,
    }
    return _email("delivery_reminder", context, profile.user.email)


def _low_balance_email(profile: Profile, *, now: datetime.datetime) -> EmailMultiAlternatives:
    upcoming = profile.upcoming_deliveries(today=timezone.localdate(now), limit=1)
    delivery = upcoming[0] if upcoming else None
    context = {
        "profile": profile,
        "delivery": delivery,
        "missing": (delivery.price - profile.account_sum) if delivery else None,
    }
    return _email("low_balance", context, profile.user.email)
