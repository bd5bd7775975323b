"""/healthz and /readyz: is this instance alive, and able to do its whole job?

Liveness (/healthz, for the load balancer) only asks the database. Readiness also writes to it (a
full disk answers reads and refuses every signup), asks the cache (rate limits depend on it) and
how long the oldest profile change has waited for amoCRM: a growing backlog means the worker is
down or amoCRM refuses us, which customers would not notice but the business would.

Anyone gets the status and the names of the failing checks; what each check saw, and the warnings
(which name the amoCRM account's trouble and since when), only staff or a caller presenting
READYZ_TOKEN as `Authorization: Bearer <token>`.
"""

import datetime
import hmac
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from amocrm.models import LeadSync, ReconcileCursor
from amocrm.services.breaker import breaker_state
from amocrm.services.connection import is_enabled as amocrm_is_enabled
from flower_account.models import Heartbeat


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return False, "unavailable"
    return True, "ok"


def check_database_writes() -> tuple[bool, str]:
    """Readiness asks more than liveness: the database must also take a write."""
    ok, detail = check_database()
    if not ok:
        return ok, detail
    try:
        database_write_probe()
    except DatabaseError:
        return False, "not writable"
    return True, "ok"


def database_write_probe() -> None:
    """Write a row and commit it: a full disk still answers reads but fails the commit.

    One row, updated in place (the heartbeat's time), so the probe never grows the table.
    """
    with transaction.atomic():
        Heartbeat.objects.update_or_create(pk=Heartbeat.READYZ, defaults={"beat_at": timezone.now()})


def check_cache() -> tuple[bool, str]:
    # One key per probe: probes that overlap (several load balancers, several web processes) must
    # not read each other's value.
    key, value = f"readyz-probe:{uuid.uuid4().hex}", "1"
    try:
        cache.set(key, value, timeout=10)
        stored = cache.get(key)
        cache.delete(key)
    except Exception:  # noqa: BLE001 - any cache client error means "not ready"
        return False, "unavailable"
    if getattr(cache, "is_falling_back", False):
        return False, "unavailable (counting in each process's memory)"
    if stored != value:
        return False, "not storing values"
    return True, "ok"


def check_amocrm_backlog(*, now: datetime.datetime | None = None) -> tuple[bool, str]:
    if not amocrm_is_enabled():
        return True, "disabled"
    limit = settings.READYZ_SYNC_MAX_AGE
    try:
        oldest = LeadSync.objects.oldest_pending_since()
        if oldest is None:
            return True, "ok"
        age = ((now or timezone.now()) - oldest).total_seconds()
        # While amoCRM refuses us (the breaker is open) the backlog is expected to grow: that is the
        # breaker's warning, and this instance is still ready to serve customers. Read only when it
        # matters: load balancers ask this page all the time.
        ready = age <= limit or breaker_state().is_open
    except DatabaseError:
        return False, "unavailable"
    return ready, f"oldest pending {int(age)} s (limit {limit} s)"


def warn_amocrm_breaker() -> str | None:
    """Why amoCRM is not being called, and since when (None: it is)."""
    try:
        breaker = breaker_state()
    except DatabaseError:
        return None
    if not breaker.is_open:
        return None
    since = breaker.opened_at.isoformat(timespec="seconds") if breaker.opened_at else "?"
    return f"open since {since}: {breaker.reason} ({breaker.detail[:200]})"


CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "database": check_database_writes,
    "cache": check_cache,
    "amocrm_sync": check_amocrm_backlog,
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for the load balancer: 200 while the database answers, 503 when it does not."""
    ok, _ = check_database()
    if not ok:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def warn_amocrm_reconcile(*, now: datetime.datetime | None = None) -> str | None:
    """Reading back amoCRM's changes has not finished a run for three intervals (None: it has)."""
    if not amocrm_is_enabled():
        return None
    try:
        finished = (
            ReconcileCursor.objects.filter(entity=ReconcileCursor.Entity.LEADS)
            .values_list("last_finished_at", flat=True)
            .first()
        )
    except DatabaseError:
        return None
    interval = settings.AMOCRM_RECONCILE_INTERVAL
    if finished is None:
        return f"amocrm_reconcile has never finished a run (expected every {interval} s)"
    age = ((now or timezone.now()) - finished).total_seconds()
    if age <= 3 * interval:
        return None
    return f"amocrm_reconcile last finished {int(age)} s ago (expected every {interval} s)"


# Reported, never failing readiness: the site serves customers whatever amoCRM does.
WARNINGS: dict[str, Callable[[], str | None]] = {
    "amocrm_breaker": warn_amocrm_breaker,
    "amocrm_reconcile": warn_amocrm_reconcile,
}


def may_see_details(request: HttpRequest) -> bool:
    """Staff, or a caller presenting READYZ_TOKEN (monitoring), may read what each check saw."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.READYZ_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), token.encode())
    )


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results = {name: check() for name, check in CHECKS.items()}
    ready = all(ok for ok, _ in results.values())
    status = 200 if ready else 503
    body: dict[str, Any] = {"status": "ok" if ready else "error"}
    if not may_see_details(request):
        # Strangers learn only which check fails: the details name the amoCRM account's trouble.
        if not ready:
            body["failing"] = [name for name, (ok, _) in results.items() if not ok]
        return JsonResponse(body, status=status)
    body["checks"] = {name: detail for name, (_, detail) in results.items()}
    if warnings := {name: text for name, warn in WARNINGS.items() if (text := warn())}:
        body["warnings"] = warnings
    return JsonResponse(body, status=status)
