"""Putting amoCRM work on the queue: the one module that imports amocrm.tasks.

Work is enqueued only after the transaction that recorded it commits, so a task always finds the
rows it was given (`robust`: a queue that is down loses nothing, the rows stay pending and the
amocrm_sync_due sweep finds them). The tasks themselves enqueue only their own follow-ups.
"""

import logging
from collections.abc import Sequence
from functools import partial

from django.db import transaction

from amocrm import tasks
from amocrm.client import chunks
from amocrm.services.outbox import SYNC_TASK_SIZE, lead_sync_mark_queued

logger = logging.getLogger(__name__)

WEBHOOK_TASK_SIZE = 100  # events per re-queued task: one task stays short


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


def webhook_events_after_commit(*, event_ids: Sequence[int]) -> None:
    """Apply stored webhook events in the worker once they are committed."""
    if event_ids:
        transaction.on_commit(partial(tasks.webhook_apply.enqueue, event_ids=list(event_ids)), robust=True)


def webhook_events_enqueue(*, event_ids: Sequence[int]) -> int:
    """Queue stored events again (their task was lost); applying one twice changes nothing."""
    for chunk in chunks(list(event_ids), WEBHOOK_TASK_SIZE):
        tasks.webhook_apply.enqueue(event_ids=chunk)
    return len(event_ids)
