"""The LeadSync outbox: marking profiles pending (in the transaction that changed them, or before a
bulk enqueue), the retry rule after a transient failure, and which rows are due or selected for a
resync. The sync run itself is lead_sync's.
"""

import datetime
import random
from collections.abc import Callable, Iterable, Mapping, Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Profile
from amocrm.models import LeadSync

RETRY_BASE = datetime.timedelta(seconds=30)
RETRY_CAP = datetime.timedelta(hours=1)
# How much later than its own due time a retried row may go, so rows due close together share a run.
RETRY_SLOT = datetime.timedelta(seconds=5)
# Profiles per bulk task: one listing of the account's contacts serves them all on a first sync,
# and 20 batches of 50 (about 3 s at 7 requests/s) stay well inside the lease.
SYNC_TASK_SIZE = 1000


def retry_delay(attempts: int, *, jitter: Callable[[], float] = random.random) -> datetime.timedelta:
    """Exponential backoff with jitter after the n-th failure: 15–30 s, 30–60 s, … at most an hour."""
    ceiling = min(RETRY_CAP.total_seconds(), RETRY_BASE.total_seconds() * 2 ** min(max(attempts, 1) - 1, 20))
    return datetime.timedelta(seconds=ceiling / 2 + jitter() * ceiling / 2)


def retry_runs(
    *, due: Mapping[int, datetime.datetime], now: datetime.datetime | None = None
) -> list[tuple[datetime.datetime, list[int]]]:
    """The runs that retry these rows (profile id → next attempt), as (when, profile ids): rows due
    close together share one run at the latest of their times, so none goes early (a Retry-After
    holds) and none later than RETRY_SLOT, or a tenth of its wait when that is longer, after its
    own time. Jitter spreads a failed run's rows over minutes: the runs grow with how far apart the
    waits are (3 for 1,000 first retries, 8 for 1,000 at any later attempt), not with the rows."""
    now = now or timezone.now()
    runs: list[tuple[datetime.datetime, list[int]]] = []
    latest_start = now
    for profile_id, at in sorted(due.items(), key=lambda item: (item[1], item[0])):
        if runs and at <= latest_start:
            runs[-1] = (at, [*runs[-1][1], profile_id])
        else:
            runs.append((at, [profile_id]))
            latest_start = at + max(RETRY_SLOT, (at - now) / 10)
    return [(at, sorted(ids)) for at, ids in runs]


@transaction.atomic
def lead_sync_mark_pending(
    *, profile: Profile, site_changed: Iterable[str] = (), now: datetime.datetime | None = None
) -> LeadSync:
    """Record that the profile needs syncing, inside the transaction that saved it; `site_changed`:
    the field keys the site changed now (their conflict clock)."""
    now = now or timezone.now()
    sync, created = LeadSync.objects.select_for_update().get_or_create(
        profile=profile,
        defaults={
            "status": LeadSync.Status.PENDING,
            "pending_since": now,
            "next_attempt_at": now,
            "revision": 1,
        },
    )
    if not created:
        sync.mark_pending(now=now)
    sync.stamp_site_changes(site_changed, now=now)
    sync.save(
        update_fields=[
            "status",
            "pending_since",
            "attempts",
            "next_attempt_at",
            "revision",
            "site_changed_at",
            "updated_at",
        ]
    )
    return sync


def lead_sync_due(
    *, now: datetime.datetime | None = None, limit: int | None = None, of: Sequence[int] | None = None
) -> list[int]:
    """Profiles pending whose next attempt is due and that no worker holds (lost tasks, crashes, a
    backlog), the longest-due first; at most `limit` of them; only those in `of`, when given."""
    now = now or timezone.now()
    rows = LeadSync.objects.filter(profile_id__in=of) if of is not None else LeadSync.objects.all()
    due = (
        rows.filter(status=LeadSync.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("next_attempt_at", "pk")
        .values_list("profile_id", flat=True)
    )
    return list(due if limit is None else due[:limit])


def lead_sync_batch(*, profile_id: int) -> list[int]:
    """What one change's sync task takes: its profile, unless an earlier run has synced it since, and
    every other row already due (SYNC_TASK_SIZE in all), so a burst drains 50 leads a request and
    the tasks queued behind it cost two queries. Every reason to sync marks the row pending, so a
    row that is not has nothing to send."""
    done = LeadSync.objects.filter(profile_id=profile_id).exclude(status=LeadSync.Status.PENDING).exists()
    due = [pk for pk in lead_sync_due(limit=SYNC_TASK_SIZE) if pk != profile_id]
    return due if done else [profile_id, *due]


def lead_sync_select(*, which: str) -> list[int]:
    """Profile ids to resync: "failed" (failed, or lead deleted in amoCRM), "unsynced" (anything
    not synced, or never recorded), or "all". A resync of an unlinked profile creates a new lead."""
    if which == "all":
        return list(Profile.objects.order_by("pk").values_list("pk", flat=True))
    if which == "failed":
        rows = LeadSync.objects.filter(status__in=[LeadSync.Status.FAILED, LeadSync.Status.UNLINKED])
        return list(rows.order_by("profile_id").values_list("profile_id", flat=True))
    if which == "unsynced":
        return list(
            Profile.objects.exclude(lead_sync__status=LeadSync.Status.SYNCED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    raise ValueError(f"unknown selection: {which}")


def lead_sync_mark_queued(*, profile_ids: Sequence[int]) -> None:
    """Mark profiles pending before a bulk enqueue, so the admin shows what is queued; a failed or
    unlinked row gets a fresh start, its old error cleared (the page no longer asks staff to press
    «Повторить» for a run already queued; the run sets a new one if amoCRM refuses again)."""
    now = timezone.now()
    LeadSync.objects.filter(profile_id__in=profile_ids).exclude(status=LeadSync.Status.PENDING).update(
        status=LeadSync.Status.PENDING,
        attempts=0,
        pending_since=now,
        next_attempt_at=now,
        last_error="",
        error_kind="",
    )
