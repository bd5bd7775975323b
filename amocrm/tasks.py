"""Background work on django.tasks (django-tasks-db; `manage.py db_worker` runs it).

Thin wrappers: they take ids, call a service (lead_sync_profiles, webhook_events_apply), and
enqueue their own follow-ups (everything else is enqueued by amocrm.services.enqueue): a rerun at
once for profiles saved again while syncing, and after a transient failure a retry at each row's
own `next_attempt_at` (rows due within a few seconds share one task: outbox.retry_runs). A backend
that cannot defer (the immediate one in tests) gets no retry task; `manage.py amocrm_sync_due`
(cron) re-enqueues due rows anyway.
"""

import logging
from typing import Any

from django.tasks import task

from amocrm.services import lead_sync, outbox, webhook_events
from amocrm.services.connection import is_enabled

logger = logging.getLogger(__name__)


@task
def sync_profile(profile_id: int) -> dict[str, Any]:
    """Sync one profile's lead, enqueued after every profile save, with every other row already due
    (outbox.lead_sync_batch): a lone signup goes at once, a burst 50 leads a request, and the tasks
    queued behind it find their rows done."""
    return _sync([profile_id], full=False, with_due=True)


@task
def sync_profiles(profile_ids: list[int], full: bool = False, due_only: bool = False) -> dict[str, Any]:
    """Sync many leads in batches of 50 a request (resync, the due-row sweep, reruns); `due_only`:
    a retry, which syncs only the rows still due (see `_sync`)."""
    return _sync(profile_ids, full=full, due_only=due_only)


def _sync(
    profile_ids: list[int], *, full: bool, with_due: bool = False, due_only: bool = False
) -> dict[str, Any]:
    if not is_enabled():
        # Off: the rows stay pending; amocrm_resync or amocrm_sync_due sends them once it is on.
        logger.info("amocrm.lead_sync_skipped reason=disabled profiles=%s", len(profile_ids))
        return {"disabled": True}
    if with_due:  # one change's task: its row and every other row already due, in one run
        profile_ids = outbox.lead_sync_batch(profile_id=profile_ids[0])
    if due_only:
        # A retry that comes after a later attempt (staff pressed "Retry", a resync) finds the row's
        # next attempt later still: it neither calls amoCRM early nor counts an attempt.
        profile_ids = outbox.lead_sync_due(of=profile_ids)
    report = lead_sync.lead_sync_profiles(profile_ids=profile_ids, full=full)
    if report.rerun:
        _enqueue(report.rerun)
    if report.retry and sync_profiles.get_backend().supports_defer:
        for run_after, retry_ids in outbox.retry_runs(due=report.retry):
            sync_profiles.using(run_after=run_after).enqueue(profile_ids=retry_ids, due_only=True)
    return report.as_dict()


def _enqueue(profile_ids: list[int]) -> None:
    if len(profile_ids) == 1:
        sync_profile.enqueue(profile_id=profile_ids[0])
    else:
        sync_profiles.enqueue(profile_ids=profile_ids)


# Managers' changes must not wait behind a signup backlog (they waited a median 282 s in one FIFO):
# the worker takes the highest priority first (django-tasks-db orders by priority, then age).
MANAGER_CHANGES_PRIORITY = 50


@task(priority=MANAGER_CHANGES_PRIORITY)
def webhook_apply(event_ids: list[int]) -> dict[str, int]:
    """Apply stored amoCRM webhook events: enqueued after the webhook view commits them."""
    report = webhook_events.webhook_events_apply(event_ids=event_ids)
    if report.relinked and is_enabled():
        _enqueue(report.relinked)  # a restored lead gets every field once
    return report.outcome
