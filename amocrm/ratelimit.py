"""One request rate for the whole deployment, kept in the database every process already shares.

Each request reserves the next free start time ("slot") with a single UPDATE of one row, in its own
short transaction; slots are `1.1 / rate` seconds apart, so however many processes and machines
call, amoCRM sees at most `rate` requests in any one second (the 10% spacing margin absorbs
scheduling jitter between reserving a slot and the request leaving). Times come from the database
clock, so machines with skewed clocks still agree. The UPDATE comes first in the transaction: it
takes the row lock on PostgreSQL and the write lock on SQLite before anything is read.

Call it outside other transactions: inside one, the row stays locked until that one commits.
"""

import datetime
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest, Now

from amocrm.models import RateLimit

SPACING_MARGIN = 1.1
EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class DatabaseRateLimiter:
    def __init__(
        self, *, rate: float, name: str = "amocrm", sleep: Callable[[float], None] = time.sleep
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.name = name
        self.interval = datetime.timedelta(seconds=SPACING_MARGIN / rate)
        self.sleep = sleep

    def reserve(self) -> tuple[datetime.datetime, float]:
        """Take the next slot; return its start and how many seconds from now that is."""
        with transaction.atomic():
            # The write comes first: it takes the lock before anything is read.
            if not self._push():
                RateLimit.objects.get_or_create(name=self.name, defaults={"next_at": EPOCH})
                self._push()
            next_at, db_now = (
                RateLimit.objects.filter(name=self.name)
                .annotate(db_now=Now())
                .values_list("next_at", "db_now")
                .get()
            )
        slot = next_at - self.interval
        return slot, max(0.0, (slot - db_now).total_seconds())

    def _push(self) -> int:
        """Move the next free start one interval past max(next free start, now); rows updated."""
        return RateLimit.objects.filter(name=self.name).update(
            next_at=Greatest(F("next_at"), Now()) + self.interval
        )

    def acquire(self) -> datetime.datetime:
        """Block until this process may send one request; return the slot it got."""
        slot, wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return slot


class NoRateLimiter:
    """For callers that must not wait (benchmarks of the server side, single-flight tests)."""

    def acquire(self) -> None:
        return None
