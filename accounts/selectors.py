"""Read queries staff need at a glance (the admin index): what goes out today and tomorrow, who
signed up lately, and which invoices still await payment. Two queries whatever the table sizes."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, FilteredRelation, Min, Q, Sum
from django.utils import timezone

from accounts.models import Delivery, Invoice, Profile


@dataclass(frozen=True)
class StaffOverview:
    today: datetime.date
    tomorrow: datetime.date
    # "Lately" is the admin date filter's "past 7 days" (a week before today's midnight until
    # tomorrow's), so the figure and the list it links to count the same profiles.
    midnight: datetime.datetime
    week_start: datetime.datetime
    next_midnight: datetime.datetime
    deliveries_today: int  # still scheduled: the bouquets that go out
    deliveries_tomorrow: int
    customers_today: int
    customers_week: int
    invoices_awaiting: int
    invoices_awaiting_sum: Decimal
    oldest_awaiting_at: datetime.datetime | None


def staff_overview(*, today: datetime.date | None = None) -> StaffOverview:
    today = today or timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    deliveries = Delivery.objects.filter(
        delivery_on__in=[today, tomorrow], status=Delivery.Status.SCHEDULED
    ).aggregate(
        today=Count("pk", filter=Q(delivery_on=today)), tomorrow=Count("pk", filter=Q(delivery_on=tomorrow))
    )
    midnight = _start_of(today)
    week_start = midnight - datetime.timedelta(days=7)
    # New customers and the invoices awaiting payment in one query (the index stays within its
    # query budget): each profile row joined to its awaiting invoices, counted once per profile.
    customers = (
        Profile.objects.annotate(
            awaiting=FilteredRelation("invoices", condition=Q(invoices__status=Invoice.Status.AWAITING))
        )
        .filter(Q(created_at__gte=week_start) | Q(awaiting__isnull=False))
        .aggregate(
            week=Count("pk", filter=Q(created_at__gte=week_start), distinct=True),
            today=Count("pk", filter=Q(created_at__gte=midnight), distinct=True),
            invoices=Count("awaiting"),
            invoiced=Sum("awaiting__amount"),
            oldest=Min("awaiting__created_at"),
        )
    )
    return StaffOverview(
        today=today,
        tomorrow=tomorrow,
        midnight=midnight,
        week_start=week_start,
        next_midnight=_start_of(tomorrow),
        deliveries_today=deliveries["today"],
        deliveries_tomorrow=deliveries["tomorrow"],
        customers_today=customers["today"],
        customers_week=customers["week"],
        invoices_awaiting=customers["invoices"],
        invoices_awaiting_sum=customers["invoiced"] or Decimal("0.00"),
        oldest_awaiting_at=customers["oldest"],
    )


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
