"""The circuit breaker: one switch for the whole deployment that stops every process calling amoCRM
while calling cannot help, and lets exactly one probe call decide when to start again.

Why: a blocked account (403, often an HTML page) answers every call with 403 until amoCRM's
support lifts the block, and each call prolongs it; a lapsed plan (402) is the same kind of state;
a long outage (5xx, timeouts) makes every task spend seconds in retries. Then:
  * a 403 or 402 opens it at once; AMOCRM_BREAKER_FAILURES 5xx/timeouts in a row open it too;
  * while it is open no call is made: the client raises AmoCRMCircuitOpen before sending, and the
    outbox rows wait untouched (not failed, no attempt counted) until `retry_at`;
  * after the cool-down the first caller takes the probe (an atomic UPDATE, so one process wins) and
    makes one real call: an answer closes the breaker, a failure opens it for another cool-down.
    Whatever waited then drains at the rate limit;
  * an outage (5xx, timeouts) is mostly short: the first cool-down is AMOCRM_BREAKER_FIRST_COOLDOWN
    and each failed probe doubles it, up to AMOCRM_BREAKER_COOLDOWN, so the sync starts again
    soon after amoCRM does (a fixed 300 s caught up 280 s after a 60 s outage). A block or a
    lapsed plan is lifted by people, not time, and each call may prolong a block: it waits
    twice AMOCRM_BREAKER_COOLDOWN every time.
The state is one database row every process shares, like the rate limiter's.
"""

import datetime
import logging

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from amocrm.exceptions import (
    AmoCRMCircuitOpen,
    AmoCRMError,
    AmoCRMForbidden,
    AmoCRMUnavailable,
)
from amocrm.models import CircuitBreaker

logger = logging.getLogger(__name__)

NAME = "amocrm"
BLOCK_COOLDOWN_FACTOR = 2  # a block is lifted by amoCRM's support, not by time: probe less often
PROBE_LEASE = datetime.timedelta(seconds=60)  # longer than one call with its timeout
PROBE_WAIT = datetime.timedelta(seconds=5)  # how soon the others look again while a probe runs


def breaker_state() -> CircuitBreaker:
    """The current state (a closed one when nothing ever opened it)."""
    return CircuitBreaker.objects.filter(pk=NAME).first() or CircuitBreaker(name=NAME)


def breaker_trip(error: AmoCRMError) -> None:
    """Open the breaker for a 403/402 seen outside a client call (the token endpoint)."""
    DatabaseBreaker().failed(error)


def next_cooldown(*, previous: int) -> int:
    """Seconds until the next probe of an outage: the first cool-down, then twice the last one, capped."""
    ceiling = settings.AMOCRM_BREAKER_COOLDOWN
    if previous <= 0:
        return min(settings.AMOCRM_BREAKER_FIRST_COOLDOWN, ceiling)
    return min(previous * 2, ceiling)


class DatabaseBreaker:
    """The breaker as the client sees it: `allow()` before a call, `succeeded()` / `failed()` after."""

    def __init__(self) -> None:
        self._probing = False
        self._clean = False  # closed with no failures counted when last read: success writes nothing

    def __repr__(self) -> str:
        return "<DatabaseBreaker>"

    def allow(self) -> None:
        """Return when a call may be made; raise AmoCRMCircuitOpen when it may not."""
        state = breaker_state()
        self._clean = not state.is_open and state.failures == 0
        if not state.is_open:
            return
        now = timezone.now()
        if state.retry_at is None or state.retry_at <= now:
            # One probe for everyone: the UPDATE that takes the lease succeeds in one process only.
            taken = (
                CircuitBreaker.objects.filter(pk=NAME, is_open=True)
                .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
                .filter(Q(probe_until__isnull=True) | Q(probe_until__lte=now))
                .update(probe_until=now + PROBE_LEASE, calls_while_open=F("calls_while_open") + 1)
            )
            if taken:
                self._probing = True
                logger.info("amocrm.breaker_probe reason=%s", state.reason)
                return
        retry_at = state.retry_at or now
        if retry_at <= now:
            # Another process is probing: look again shortly rather than at the end of its lease.
            retry_at = min(state.probe_until or now, now + PROBE_WAIT)
        raise AmoCRMCircuitOpen(
            f"amoCRM is not called until {timezone.localtime(retry_at):%Y-%m-%d %H:%M:%S}: "
            f"{state.get_reason_display()}",
            retry_at=retry_at,
            reason=state.reason,
        )

    def succeeded(self) -> None:
        """amoCRM answered (any answer but 402/403/5xx): it is there; close and forget failures."""
        if self._clean and not self._probing:
            return
        was_open = CircuitBreaker.objects.filter(pk=NAME, is_open=True).exists()
        CircuitBreaker.objects.filter(pk=NAME).update(
            is_open=False, failures=0, retry_at=None, probe_until=None, opened_at=None
        )
        self._probing, self._clean = False, True
        if was_open:
            logger.warning("amocrm.breaker_closed")

    def failed(self, error: AmoCRMError) -> None:
        if error.opens_breaker:
            reason = (
                CircuitBreaker.Reason.BLOCKED
                if isinstance(error, AmoCRMForbidden)
                else CircuitBreaker.Reason.PAYMENT
            )
            self._open(reason, error, factor=BLOCK_COOLDOWN_FACTOR if reason == "blocked" else 1)
        elif isinstance(error, AmoCRMUnavailable):
            if self._probing:
                self._open(CircuitBreaker.Reason.UNAVAILABLE, error)
                return
            CircuitBreaker.objects.get_or_create(pk=NAME)
            CircuitBreaker.objects.filter(pk=NAME).update(failures=F("failures") + 1)
            self._clean = False
            failures = CircuitBreaker.objects.filter(pk=NAME).values_list("failures", flat=True).first() or 0
            if failures >= settings.AMOCRM_BREAKER_FAILURES:
                self._open(CircuitBreaker.Reason.UNAVAILABLE, error)

    def _open(self, reason: str, error: AmoCRMError, *, factor: int = 1) -> None:
        now = timezone.now()
        state, _ = CircuitBreaker.objects.get_or_create(pk=NAME)
        if reason == CircuitBreaker.Reason.UNAVAILABLE:
            cooldown = next_cooldown(previous=state.cooldown_seconds if state.is_open else 0)
        else:
            cooldown = settings.AMOCRM_BREAKER_COOLDOWN * factor
        retry_at = now + datetime.timedelta(seconds=cooldown)
        # opened_at keeps the start of the trouble across failed probes.
        CircuitBreaker.objects.filter(pk=NAME, opened_at__isnull=True).update(opened_at=now)
        CircuitBreaker.objects.filter(pk=NAME).update(
            is_open=True,
            reason=reason,
            detail=str(error)[: CircuitBreaker._meta.get_field("detail").max_length],
            retry_at=retry_at,
            probe_until=None,
            cooldown_seconds=cooldown,
        )
        self._probing, self._clean = False, False
        logger.warning(
            "amocrm.breaker_open reason=%s status=%s retry_in_s=%d",
            reason,
            error.status,
            (retry_at - now).total_seconds(),
        )
