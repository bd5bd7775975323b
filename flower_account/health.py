"""/healthz and /readyz: is this instance alive, and able to do its whole job?

Liveness (/healthz, for the load balancer) only asks the database. Readiness also asks the cache (rate
limits and sessions depend on it) and how long the oldest profile change has waited for amoCRM:
a growing backlog means the worker is down or amoCRM refuses us, which customers would not
notice but the business would. Every check is reported, so monitoring shows which one failed.
"""

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from amocrm.models import LeadSync, ReconcileCursor
from amocrm.services.breaker import breaker_state
from amocrm.services.connection import is_enabled as amocrm_is_enabled


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return False, "unavailable"
    return True, "ok"


def check_cache() -> tuple[bool, str]:
    key, value = "readyz-probe", uuid.uuid4().hex
    try:
        cache.set(key, value, timeout=10)
        if cache.get(key) != value:
            return False, "not storing values"
    except Exception:  # noqa: BLE001 - any cache client error means "not ready"
        return False, "unavailable"
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
    "database": check_database,
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


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results = {name: check() for name, check in CHECKS.items()}
    ready = all(ok for ok, _ in results.values())
    body: dict[str, Any] = {
        "status": "ok" if ready else "error",
        "checks": {name: detail for name, (_, detail) in results.items()},
    }
    if warnings := {name: text for name, warn in WARNINGS.items() if (text := warn())}:
        body["warnings"] = warnings
    return JsonResponse(body, status=200 if ready else 503)
