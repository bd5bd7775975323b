"""Read queries staff need at a glance (the admin index): what goes out today and tomorrow, and who
signed up lately. A fixed number of queries, each served by an index, whatever the table sizes."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Delivery, Profile


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
    customers = Profile.objects.filter(created_at__gte=week_start).aggregate(
        week=Count("pk"), today=Count("pk", filter=Q(created_at__gte=midnight))
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
    )


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
