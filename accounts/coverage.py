"""What the balance covers: how many of the upcoming deliveries it pays for, in date order, and until
when (the account page, and the preferences page for each bouquet category before it is chosen).

Only confirmed money counts (the balance, not an invoice awaiting payment). The deliveries are the
scheduled rows, each at the price it was planned with; after the last row the schedule goes on at
the category's price (rows are planned `DELIVERY_HORIZON_WEEKS` ahead, a large balance lasts longer).
A category not chosen yet changes the price of every row a change made now reaches (past the
cut-off a row keeps its price: `Delivery.is_locked`).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from django.utils import timezone

from accounts import schedule
from accounts.models import BouquetCategory, Delivery, Profile

# How far a count goes: a year of weekly bouquets ("хватит на 52 доставки" is as far as anyone reads).
MAX_COUNTED = 52


@dataclass(frozen=True)
class Coverage:
    price: Decimal  # of the next delivery (the category's price when none is planned)
    count: int  # upcoming deliveries the balance pays for, in date order
    until: datetime.date | None  # the last of them
    next_on: datetime.date | None  # the next scheduled delivery

    @property
    def is_next_covered(self) -> bool:
        return self.next_on is None or self.count > 0


def covered(*, balance: Decimal, deliveries: list[tuple[datetime.date, Decimal]], price: Decimal) -> Coverage:
    """Walk `deliveries` (date, price), in date order, while the balance pays for them."""
    left, count, until = balance, 0, None
    for day, cost in deliveries:
        if cost > left:
            break
        left -= cost
        count, until = count + 1, day
    first = deliveries[0] if deliveries else None
    return Coverage(price=first[1] if first else price, count=count, until=until, next_on=first and first[0])


def planned(
    profile: Profile,
    *,
    category: BouquetCategory | None = None,
    today: datetime.date | None = None,
    upcoming: list[Delivery] | None = None,
) -> list[tuple[datetime.date, Decimal]]:
    """The upcoming deliveries as (date, price), `category` (when given) priced where a change reaches.
    `upcoming`: the profile's upcoming rows (up to MAX_COUNTED) already loaded by the caller."""
    today = today or timezone.localdate()
    if upcoming is None:
        upcoming = profile.upcoming_deliveries(today=today, limit=MAX_COUNTED)
    scheduled = [d for d in upcoming if d.status == Delivery.Status.SCHEDULED and d.delivery_on >= today]
    rows = [(d.delivery_on, d.price) for d in scheduled]
    if category is not None:
        first_open = Delivery.first_open_on(today=today)
        rows = [(day, price if day < first_open else category.price) for day, price in rows]
    if rows and len(rows) < MAX_COUNTED:  # no rows: paused indefinitely or closed, nothing goes on
        price = (category or profile.bouquet_category).price
        after = rows[-1][0] + datetime.timedelta(days=1)
        later = schedule.dates_from(profile.first_delivery_date, profile.delivery_interval, start=after)
        rows += [(day, price) for day in islice(later, MAX_COUNTED - len(rows))]
    return rows


def profile_coverage(
    profile: Profile,
    *,
    category: BouquetCategory | None = None,
    today: datetime.date | None = None,
    upcoming: list[Delivery] | None = None,
) -> Coverage:
    """What the profile's balance covers, with its category or with `category` instead."""
    return covered(
        balance=profile.account_sum,
        deliveries=planned(profile, category=category, today=today, upcoming=upcoming),
        price=(category or profile.bouquet_category).price,
    )
