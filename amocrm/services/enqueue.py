"""Putting amoCRM work on the queue: the one module that imports amocrm.tasks.

Work is enqueued only after the transaction that recorded it commits, so a task always finds the
rows it was given (`robust`: a queue that is down loses nothing, the rows stay pending and the
amocrm_sync_due sweep finds them). The tasks themselves enqueue only their own follow-ups.
"""

import logging
from collections.abc import Iterable, Sequence
from functools import partial

from django.db import transaction
from django.utils import timezone

from accounts.models import Profile
from amocrm import tasks
from amocrm.client import chunks
from amocrm.models import LeadSync
from amocrm.services.connection import is_enabled
from amocrm.services.outbox import SYNC_TASK_SIZE, lead_sync_mark_pending, lead_sync_mark_queued

logger = logging.getLogger(__name__)

WEBHOOK_TASK_SIZE = 100  # events per re-queued task: one task stays short


def lead_sync_request(*, profile: Profile, site_changed: Iterable[str] = ()) -> LeadSync:
    """The lead needs the profile's values: mark the outbox row pending in the caller's transaction
    (stamping the clock of the fields the site changed) and queue its sync after commit.

    With no CRM configured the pending state is still recorded (one cheap row), but nothing is
    enqueued: `make run` stays quiet, and once amoCRM is connected `manage.py amocrm_resync` (or
    the amocrm_sync_due cron) catches up. A retry already scheduled is not hurried by a new change.
    """
    sync = lead_sync_mark_pending(profile=profile, site_changed=site_changed)
    if is_enabled() and not sync.is_waiting_for_retry(now=timezone.now()):
        lead_sync_after_commit(profile_id=profile.pk)
    return sync


def lead_sync_after_commit(*, profile_id: int) -> None:
    """Sync one profile's lead once the transaction that changed it commits."""
    transaction.on_commit(partial(tasks.sync_profile.enqueue, profile_id=profile_id), robust=True)


def lead_sync_enqueue(*, profile_ids: Sequence[int], full: bool = False) -> int:
    """Mark the profiles pending and queue bulk sync tasks (SYNC_TASK_SIZE each); the number of tasks.

    Every profile is marked pending right away, so the admin shows what is queued.
    """
    ids = sorted(set(profile_ids))
    lead_sync_mark_queued(profile_ids=ids)
    count = 0
    for chunk in chunks(ids, SYNC_TASK_SIZE):
        tasks.sync_profiles.enqueue(profile_ids=chunk, full=full)
        count += 1
    logger.info("amocrm.lead_sync_enqueued profiles=%s tasks=%s full=%s", len(ids), count, full)
    return count


def lead_sync_waiting_enqueue() -> int:
    """After staff (re)connect amoCRM: every pending profile goes out now, those that waited while
    the connection was revoked included; the number of profiles."""
    ids = list(
        LeadSync.objects.filter(status=LeadSync.Status.PENDING)
        .order_by("profile_id")
        .values_list("profile_id", flat=True)
    )
    LeadSync.objects.filter(profile_id__in=ids).update(next_attempt_at=timezone.now())
    if ids:
        lead_sync_enqueue(profile_ids=ids)
    return len(ids)


def webhook_events_after_commit(*, event_ids: Sequence[int]) -> None:
    """Apply stored webhook events in the worker once they are committed."""
    if event_ids:
        transaction.on_commit(partial(tasks.webhook_apply.enqueue, event_ids=list(event_ids)), robust=True)


def webhook_events_enqueue(*, event_ids: Sequence[int]) -> int:
    """Queue stored events again (their task was lost); applying one twice changes nothing."""
    for chunk in chunks(list(event_ids), WEBHOOK_TASK_SIZE):
        tasks.webhook_apply.enqueue(event_ids=chunk)
    return len(event_ids)
