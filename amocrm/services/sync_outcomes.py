"""One sync run's jobs and what becomes of them: each profile's job ends in one Outcome, and
`outcomes_record` stores it on the outbox row by looking the outcome up (`_RECORD`); what follows a
failure is a fact of the error's class (`transient`, `opens_breaker`). The run itself is lead_sync's.
"""

import datetime
import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Profile
from amocrm.exceptions import AmoCRMCircuitOpen, AmoCRMError, AmoCRMLeadTaken, AmoCRMRevoked
from amocrm.models import LeadSync
from amocrm.services.breaker import breaker_state
from amocrm.services.outbox import retry_delay

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one run did, by profile id."""

    synced: list[int] = field(default_factory=list)
    requests_saved: int = 0  # profiles whose values equalled the last ones sent: no request
    failed: list[int] = field(default_factory=list)
    retry: dict[int, datetime.datetime] = field(default_factory=dict)
    rerun: list[int] = field(default_factory=list)  # saved again while syncing: sync once more
    skipped: list[int] = field(default_factory=list)  # another worker holds them
    total: int = 0  # profiles this run holds
    recorded: int = 0  # of them, outcomes stored so far
    progress: Callable[[int, int], None] | None = field(default=None, repr=False)  # (recorded, total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "synced": len(self.synced),
            "unchanged": self.requests_saved,
            "failed": len(self.failed),
            "retry": len(self.retry),
            "rerun": len(self.rerun),
            "skipped": len(self.skipped),
        }


class Outcome(enum.Enum):
    """Where one profile's sync stands in a run; `_record` stores it by looking it up."""

    OPEN = "open"  # not sent yet (a run interrupted before its turn leaves it pending)
    SENT = "sent"  # the lead was updated or created
    UNCHANGED = "unchanged"  # nothing differed from the values last sent: no request
    MERGED = "merged"  # created, but merged into a lead nobody owned: what it holds is unknown
    FAILED = "failed"  # `error` says why; its class says what happens next


@dataclass
class SyncJob:
    sync: LeadSync
    profile: Profile
    revision: int
    deleted_lead_id: int | None = None  # deleted in amoCRM: it may be back from the trash
    lead_id: int | None = None
    contact_id: int | None = None
    status_id: int | None = None  # the stage of a lead found or created: its first "last seen"
    state: dict[str, Any] | None = None
    baseline: dict[str, Any] = field(default_factory=dict)  # what amoCRM is known to hold
    contact: dict[str, Any] | None = None
    outcome: Outcome = Outcome.OPEN
    error: AmoCRMError | None = None
    recorded: bool = False  # stored by `_record` (a run records its creates batch by batch)

    @property
    def request_id(self) -> str:
        """Ours, sent with each item of a batch create: answers are matched by it, not by position."""
        return str(self.profile.pk)

    @property
    def interrupted(self) -> bool:
        """A create was started earlier and its answer never recorded."""
        return self.sync.lead_id is None and self.sync.create_started_at is not None

    @property
    def is_open(self) -> bool:
        return self.outcome is Outcome.OPEN

    def fail(self, error: AmoCRMError) -> None:
        self.outcome, self.error = Outcome.FAILED, error


@dataclass(frozen=True)
class _Recording:
    """What every outcome of one `_record` call is stored against."""

    now: datetime.datetime
    report: SyncReport
    jitter: Callable[[], float]
    blocked_until: datetime.datetime | None  # the breaker is open until then


def outcomes_record(jobs: Iterable[SyncJob], report: SyncReport, jitter: Callable[[], float]) -> None:
    """Store each job's outcome and release its lease, under the row locks."""
    jobs = [job for job in jobs if not job.recorded]
    if not jobs:
        return
    breaker = breaker_state()
    context = _Recording(timezone.now(), report, jitter, breaker.retry_at if breaker.is_open else None)
    with transaction.atomic():
        rows = LeadSync.objects.select_for_update().in_bulk([job.sync.pk for job in jobs])
        for job in jobs:
            job.recorded = True
            row = rows.get(job.sync.pk)
            if row is None:
                continue  # the profile was deleted meanwhile
            if job.sync.lead_id is not None and row.lead_id != job.sync.lead_id:
                # Unlinked (or relinked) by amoCRM's change while this run sent: that change stands.
                row.claimed_until = None
                row.save(update_fields=["claimed_until", "updated_at"])
                continue
            if job.lead_id and row.lead_id != job.lead_id:
                _remember_lead(row, job)
            _RECORD[job.outcome](row, job, context)
            row.save()
    report.recorded += len(jobs)
    if report.progress is not None:
        report.progress(report.recorded, report.total)


def _remember_lead(row: LeadSync, job: SyncJob) -> None:
    """A lead found or created is remembered even when the rest failed, unless it is another's."""
    owner = LeadSync.objects.filter(lead_id=job.lead_id).exclude(pk=row.pk).first()
    if owner is not None:
        job.fail(_lead_taken(job, owner))
        job.lead_id = None
        row.create_started_at = None
        return
    row.lead_id, row.contact_id, row.create_started_at = job.lead_id, job.contact_id, None
    row.deleted_lead_id = None
    # Without it, a stage move that only reconciliation reads would not count as one.
    row.crm_status_id = job.status_id
    row.synced_values = job.baseline
    # A contact we made holds the profile's phone; a linked one's is unknown.
    made_contact = job.contact is not None and "id" not in job.contact and job.outcome is not Outcome.MERGED
    row.contact_phone = job.profile.phone if made_contact else None


def _record_synced(row: LeadSync, job: SyncJob, context: _Recording) -> None:
    pid = row.profile_id
    if row.mark_synced(
        values=job.state or {},
        lead_id=job.lead_id,
        contact_id=job.contact_id,
        revision=job.revision,
        now=context.now,
    ):
        context.report.synced.append(pid)
        context.report.requests_saved += job.outcome is Outcome.UNCHANGED
    else:
        context.report.rerun.append(pid)


def _record_merged(row: LeadSync, job: SyncJob, context: _Recording) -> None:
    # Merged into a lead that was nobody's: ours now, but what it holds is unknown.
    row.mark_linked(lead_id=job.lead_id, contact_id=job.contact_id, now=context.now)
    context.report.rerun.append(row.profile_id)


def _record_failed(row: LeadSync, job: SyncJob, context: _Recording) -> None:
    """What follows a failure is a fact of the error's class: wait for the breaker, retry, or fail."""
    pid, error = row.profile_id, job.error
    not_called = isinstance(error, AmoCRMCircuitOpen | AmoCRMRevoked)
    if not_called or (context.blocked_until and error.opens_breaker):
        # Not called (the breaker is open, or the connection was revoked), or refused by the block
        # that opened the breaker: wait untouched (no attempt counted), and go as soon as it closes
        # (or staff reconnect).
        until = error.retry_at if not_called else context.blocked_until
        row.mark_waiting(error=str(error), kind=error.kind, until=until)
        context.report.retry[pid] = row.next_attempt_at
    elif error.transient:
        delay = retry_delay(row.attempts + 1, jitter=context.jitter)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            delay = max(delay, datetime.timedelta(seconds=retry_after))
        row.mark_retry(error=str(error), kind=error.kind, delay=delay, now=context.now)
        context.report.retry[pid] = row.next_attempt_at
        logger.warning(
            "amocrm.lead_sync_retry profile_id=%s attempts=%s delay_s=%d status=%s",
            pid,
            row.attempts,
            delay.total_seconds(),
            error.status,
        )
    elif row.revision != job.revision:
        # Saved again while this sync failed: the new values may not fail. Their own task
        # was skipped (the row was claimed), so rerun now rather than wait for staff.
        row.claimed_until = None
        context.report.rerun.append(pid)
    else:
        row.mark_failed(error=str(error), kind=error.kind)
        context.report.failed.append(pid)
        logger.warning(
            "amocrm.lead_sync_failed profile_id=%s lead_id=%s status=%s error=%s",
            pid,
            row.lead_id,
            error.status,
            type(error).__name__,
        )


def _record_released(row: LeadSync, job: SyncJob, context: _Recording) -> None:
    row.claimed_until = None  # interrupted before its turn: still pending


_RECORD: dict[Outcome, Callable[[LeadSync, SyncJob, _Recording], None]] = {
    Outcome.SENT: _record_synced,
    Outcome.UNCHANGED: _record_synced,
    Outcome.MERGED: _record_merged,
    Outcome.FAILED: _record_failed,
    Outcome.OPEN: _record_released,
}


def _lead_taken(job: SyncJob, owner: LeadSync) -> AmoCRMLeadTaken:
    return AmoCRMLeadTaken(
        f"amoCRM merged this customer's new lead into lead {job.lead_id}, which belongs to profile "
        f"{owner.profile_id}: not linked. Check both in amoCRM (its duplicate control merges by contact), "
        "then resync this profile to give it its own lead."
    )
