"""Delivery date arithmetic: pure functions, no database.

Monthly dates are computed from the first date each time (not by stepping month to month), so a
subscription that starts on 31 January delivers on 29 February, 31 March, 30 April, 31 May ...
instead of drifting to the 28th or 29th for ever.
"""

import calendar
import datetime
from collections.abc import Iterator
from itertools import count, islice

WEEKLY = "weekly"
BIWEEKLY = "biweekly"
MONTHLY = "monthly"


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day of the month `months` later, clamped to the last day of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def nth_delivery_on(first: datetime.date, interval: str, n: int) -> datetime.date:
    """The n-th delivery date (0 is the first) of a schedule."""
    if interval == WEEKLY:
        return first + datetime.timedelta(weeks=n)
    if interval == BIWEEKLY:
        return first + datetime.timedelta(weeks=2 * n)
    if interval == MONTHLY:
        return add_months(first, n)
    raise ValueError(f"Unknown delivery interval: {interval!r}")


def dates_from(first: datetime.date, interval: str, *, start: datetime.date) -> Iterator[datetime.date]:
    """The schedule's dates on or after `start`, for ever."""
    # Jump close to `start` instead of walking from a first date that may lie years back.
    # Steps are at most this long, so every date before the jump is safely before `start`.
    days_per_step = {WEEKLY: 7, BIWEEKLY: 14, MONTHLY: 31}[interval]
    for n in count(max(0, (start - first).days // days_per_step - 1)):
        day = nth_delivery_on(first, interval, n)
        if day >= start:
            yield day


def upcoming_deliveries(
    first: datetime.date, interval: str, *, today: datetime.date, limit: int
) -> list[datetime.date]:
    """The next `limit` delivery dates on or after `today`."""
    return list(islice(dates_from(first, interval, start=today), max(limit, 0)))


def planned_deliveries(
    first: datetime.date, interval: str, *, start: datetime.date, until: datetime.date, at_least: int = 0
) -> list[datetime.date]:
    """The dates from `start` to `until` (inclusive), and at least `at_least` of them however far."""
    dates: list[datetime.date] = []
    for day in dates_from(first, interval, start=start):
        if day > until and len(dates) >= at_least:
            return dates
        dates.append(day)
    return dates  # pragma: no cover - dates_from() never ends
