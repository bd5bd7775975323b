"""The lead sync (profile → lead) from the `LeadSync` outbox: mark pending, then claim → recover /
update / create → record, and which rows are due.

A profile save marks its LeadSync row pending (lead_sync_mark_pending, same transaction) and
amocrm.signals has it enqueued after commit (services.enqueue). lead_sync_profiles is the one
engine behind every task, bulk or single:
  1. claim: in a short transaction, take the rows (select_for_update) and set a lease, so two
     workers never sync one profile at once; no transaction is held open during HTTP;
  2. read the profiles as they are now (ten quick edits → the first run sends the latest values,
     the others find nothing changed and send nothing);
  3. leads we know: PATCH only what differs from `synced_values`, 50 leads a request;
     a create that was started and never recorded: look the lead up by referral code first;
     new leads: find the contact by email, commit `create_started_at`, then one leads/complex
     call per 50 leads (the existing contact by id, else a new one);
  4. record each outcome; a save that happened meanwhile leaves the row pending for a rerun.
Errors whose class says `transient` (5xx, timeouts, 429, 402/403, auth, see amocrm.exceptions) back
off exponentially up to an hour and retry without end; permanent ones (400, a lead deleted in
amoCRM, fields not set up) mark the row failed with amoCRM's message, for staff (admin,
amocrm_resync --failed).
"""

import datetime
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Profile
from amocrm import mapping
from amocrm.client import AmoCRMClient, chunks
from amocrm.exceptions import (
    AmoCRMError,
    AmoCRMMappingError,
    AmoCRMNotFound,
    AmoCRMUnavailable,
    AmoCRMValidationError,
)
from amocrm.models import LeadSync
from amocrm.services.connection import client_get
from amocrm.services.fields import field_map_load

logger = logging.getLogger(__name__)

SYNC_LEASE = datetime.timedelta(minutes=5)  # longer than the client's own bounded retries of a batch
RETRY_BASE = datetime.timedelta(seconds=30)
RETRY_CAP = datetime.timedelta(hours=1)
SYNC_TASK_SIZE = 250  # profiles per bulk task: 5 batches of 50, well inside the lease


def retry_delay(attempts: int, *, jitter: Callable[[], float] = random.random) -> datetime.timedelta:
    """Exponential backoff with jitter after the n-th failure: 15–30 s, 30–60 s, … at most an hour."""
    ceiling = min(RETRY_CAP.total_seconds(), RETRY_BASE.total_seconds() * 2 ** min(max(attempts, 1) - 1, 20))
    return datetime.timedelta(seconds=ceiling / 2 + jitter() * ceiling / 2)


@transaction.atomic
def lead_sync_mark_pending(*, profile: Profile, now: datetime.datetime | None = None) -> LeadSync:
    """Record that the profile needs syncing, inside the transaction that saved it."""
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
        sync.save(
            update_fields=["status", "pending_since", "attempts", "next_attempt_at", "revision", "updated_at"]
        )
    return sync


@dataclass
class SyncReport:
    """What one run did, by profile id."""

    synced: list[int] = field(default_factory=list)
    requests_saved: int = 0  # profiles whose values equalled the last ones sent: no request
    failed: list[int] = field(default_factory=list)
    retry: dict[int, datetime.datetime] = field(default_factory=dict)
    rerun: list[int] = field(default_factory=list)  # saved again while syncing: sync once more
    skipped: list[int] = field(default_factory=list)  # another worker holds them

    def as_dict(self) -> dict[str, Any]:
        return {
            "synced": len(self.synced),
            "unchanged": self.requests_saved,
            "failed": len(self.failed),
            "retry": len(self.retry),
            "rerun": len(self.rerun),
            "skipped": len(self.skipped),
        }


@dataclass
class _Job:
    sync: LeadSync
    profile: Profile
    revision: int
    interrupted: bool  # a create was started earlier and its answer never recorded
    lead_id: int | None = None
    contact_id: int | None = None
    state: dict[str, Any] | None = None
    baseline: dict[str, Any] = field(default_factory=dict)  # what amoCRM is known to hold
    contact: dict[str, Any] | None = None
    done: bool = False
    unchanged: bool = False
    error: AmoCRMError | None = None
    recorded: bool = False

    @property
    def is_open(self) -> bool:
        return not self.done and self.error is None


def _claim(profile_ids: Sequence[int], report: SyncReport, now: datetime.datetime) -> list[_Job]:
    ids = sorted(set(profile_ids))
    with transaction.atomic():
        existing = set(LeadSync.objects.filter(profile_id__in=ids).values_list("profile_id", flat=True))
        missing = Profile.objects.filter(pk__in=[i for i in ids if i not in existing]).values_list(
            "pk", flat=True
        )
        LeadSync.objects.bulk_create(
            [LeadSync(profile_id=pk, pending_since=now, next_attempt_at=now) for pk in missing],
            ignore_conflicts=True,
        )
        rows = list(LeadSync.objects.select_for_update().filter(profile_id__in=ids).order_by("pk"))
        claimed = []
        for row in rows:
            if row.is_claimed(now=now):
                report.skipped.append(row.profile_id)
            else:
                claimed.append(row)
        LeadSync.objects.filter(pk__in=[row.pk for row in claimed]).update(claimed_until=now + SYNC_LEASE)
    # Read after the claim: every save from here on bumps the revision and causes a rerun.
    profiles = Profile.objects.select_related("user", "bouquet_category").in_bulk(
        [r.profile_id for r in claimed]
    )
    return [
        _Job(
            sync=row,
            profile=profiles[row.profile_id],
            revision=row.revision,
            interrupted=row.lead_id is None and row.create_started_at is not None,
            lead_id=row.lead_id,
            contact_id=row.contact_id,
            baseline=dict(row.synced_values or {}),
        )
        for row in claimed
        if row.profile_id in profiles
    ]


def _record(jobs: Iterable[_Job], report: SyncReport, jitter: Callable[[], float]) -> None:
    """Store each job's outcome and release its lease, under the row locks."""
    jobs = [job for job in jobs if not job.recorded]
    if not jobs:
        return
    now = timezone.now()
    with transaction.atomic():
        rows = LeadSync.objects.select_for_update().in_bulk([job.sync.pk for job in jobs])
        for job in jobs:
            job.recorded = True
            row = rows.get(job.sync.pk)
            if row is None:
                continue  # the profile was deleted meanwhile
            pid = row.profile_id
            if job.lead_id and row.lead_id != job.lead_id:
                # A lead found or created is remembered even when the rest failed.
                row.lead_id, row.contact_id, row.create_started_at = job.lead_id, job.contact_id, None
                row.synced_values = job.baseline
            if job.done:
                if row.mark_synced(
                    values=job.state or {},
                    lead_id=job.lead_id,
                    contact_id=job.contact_id,
                    revision=job.revision,
                    now=now,
                ):
                    report.synced.append(pid)
                    report.requests_saved += job.unchanged
                else:
                    report.rerun.append(pid)
            elif job.error is not None and job.error.transient:
                delay = retry_delay(row.attempts + 1, jitter=jitter)
                retry_after = getattr(job.error, "retry_after", None)
                if retry_after:
                    delay = max(delay, datetime.timedelta(seconds=retry_after))
                row.mark_retry(error=str(job.error), delay=delay, now=now)
                report.retry[pid] = row.next_attempt_at
                logger.warning(
                    "amocrm.lead_sync_retry profile_id=%s attempts=%s delay_s=%d status=%s",
                    pid,
                    row.attempts,
                    delay.total_seconds(),
                    job.error.status,
                )
            elif job.error is not None and row.revision != job.revision:
                # Saved again while this sync failed: the new values may not fail. Their own task
                # was skipped (the row was claimed), so rerun now rather than wait for staff.
                row.claimed_until = None
                report.rerun.append(pid)
            elif job.error is not None:
                row.mark_failed(error=str(job.error))
                report.failed.append(pid)
                logger.warning(
                    "amocrm.lead_sync_failed profile_id=%s lead_id=%s status=%s error=%s",
                    pid,
                    row.lead_id,
                    job.error.status,
                    type(job.error).__name__,
                )
            else:
                row.claimed_until = None  # interrupted before its turn: still pending
            row.save()


def _fail_chunk(chunk: list[_Job], error: AmoCRMError) -> None:
    """A batch failed: a 400 names its bad items by index; the others are retried later."""
    named = set()
    if isinstance(error, AmoCRMValidationError):
        named = {int(e.request_id) for e in error.errors if e.request_id.isdigit()}
    for index, job in enumerate(chunk):
        if not named or index in named:
            job.error = error
        else:
            job.error = AmoCRMUnavailable(
                f"retried: another lead in its batch was rejected ({error.message})"
            )


def _recover(client: AmoCRMClient, jobs: list[_Job]) -> None:
    """A create whose answer was never recorded may have happened: find the lead by referral code."""
    for job in jobs:
        code = str(job.profile.referral_code)
        found = next((lead for lead in client.leads_search(code) if mapping.lead_mentions(lead, code)), None)
        if found is None:
            continue
        job.lead_id = int(found["id"])
        job.contact_id = mapping.lead_contact_id(found)
        job.baseline = {}  # unknown: send everything
        logger.info("amocrm.lead_recovered lead_id=%s profile_id=%s", job.lead_id, job.profile.pk)


def _update(client: AmoCRMClient, jobs: list[_Job], *, full: bool) -> None:
    patches: list[tuple[_Job, dict[str, Any]]] = []
    for job in jobs:
        keys = list(job.state) if full else mapping.lead_state_changes(job.state, job.baseline)
        if not keys:
            job.done = job.unchanged = True
            continue
        patches.append((job, mapping.lead_update_payload(job.lead_id, job.state, keys)))
    for chunk in chunks(patches):
        chunk_jobs = [job for job, _ in chunk]
        try:
            updated = client.leads_update([payload for _, payload in chunk])
        except (AmoCRMValidationError, AmoCRMNotFound) as e:
            _fail_chunk(chunk_jobs, e)
            continue
        returned = {int(lead["id"]) for lead in updated if lead.get("id")}
        for job, payload in chunk:
            if job.lead_id in returned:
                job.done = True
                logger.info(
                    "amocrm.lead_updated lead_id=%s profile_id=%s fields=%s",
                    job.lead_id,
                    job.profile.pk,
                    len(payload.get("custom_fields_values", [])) + ("name" in payload) + ("price" in payload),
                )
            else:
                # amoCRM answers a PATCH of a deleted lead with 204 / without it.
                job.error = AmoCRMNotFound(f"the lead {job.lead_id} no longer exists in amoCRM")


def _create(client: AmoCRMClient, jobs: list[_Job], report: SyncReport, jitter: Callable[[], float]) -> None:
    for chunk in chunks(jobs):
        for job in chunk:
            contact = client.contact_find_by_email(job.profile.user.email)
            job.contact = {"id": int(contact["id"])} if contact else mapping.contact_payload(job.profile)
        payloads = [
            mapping.lead_create_payload(
                job.state,
                contact=job.contact,
                pipeline_id=settings.AMOCRM_PIPELINE_ID,
                status_id=settings.AMOCRM_STATUS_ID,
            )
            for job in chunk
        ]
        # Committed before the POST: if this worker dies before the answer is stored, the retry
        # looks the lead up instead of creating a second one.
        LeadSync.objects.filter(pk__in=[job.sync.pk for job in chunk]).update(
            create_started_at=timezone.now()
        )
        try:
            created = client.leads_create_complex(payloads)
        except AmoCRMValidationError as e:
            _fail_chunk(chunk, e)
            LeadSync.objects.filter(pk__in=[job.sync.pk for job in chunk]).update(create_started_at=None)
            continue
        for index, job in enumerate(chunk):
            lead = created[index] if index < len(created) else {}
            if not lead.get("id"):
                job.error = AmoCRMUnavailable("amoCRM did not return the created lead")
                continue
            job.lead_id = int(lead["id"])
            job.contact_id = int(lead.get("contact_id") or job.contact.get("id") or 0) or None
            job.done = True
            logger.info(
                "amocrm.lead_created lead_id=%s contact_id=%s profile_id=%s linked=%s",
                job.lead_id,
                job.contact_id,
                job.profile.pk,
                "id" in job.contact,
            )
        _record(chunk, report, jitter)  # store the new ids at once


def lead_sync_profiles(
    *,
    profile_ids: Sequence[int],
    full: bool = False,
    client: AmoCRMClient | None = None,
    jitter: Callable[[], float] = random.random,
) -> SyncReport:
    """Bring the leads of these profiles up to date; see the section comment above.

    `full` sends every field even when it equals the last value sent (a resync repairs edits made
    in amoCRM). Raises AmoCRMNotConfigured when the integration is off.
    """
    report = SyncReport()
    if not profile_ids:
        return report
    client = client or client_get()
    jobs = _claim(profile_ids, report, timezone.now())
    try:
        fields = field_map_load()
        for job in jobs:
            try:
                job.state = mapping.lead_state(job.profile, fields)
            except AmoCRMMappingError as e:
                job.error = e
        try:
            _recover(client, [j for j in jobs if j.is_open and j.lead_id is None and j.interrupted])
            _update(client, [j for j in jobs if j.is_open and j.lead_id is not None], full=full)
            _create(client, [j for j in jobs if j.is_open and j.lead_id is None], report, jitter)
        except AmoCRMError as e:
            # amoCRM is down or refuses us: everything not yet done gets the same outcome.
            for job in jobs:
                if job.is_open:
                    job.error = e
    finally:
        _record(jobs, report, jitter)
    return report


def lead_sync_due(*, now: datetime.datetime | None = None) -> list[int]:
    """Profiles pending whose next attempt is due and that no worker holds (lost tasks, crashes)."""
    now = now or timezone.now()
    return list(
        LeadSync.objects.filter(status=LeadSync.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("next_attempt_at", "pk")
        .values_list("profile_id", flat=True)
    )


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
    unlinked row gets a fresh start."""
    now = timezone.now()
    LeadSync.objects.filter(profile_id__in=profile_ids).exclude(status=LeadSync.Status.PENDING).update(
        status=LeadSync.Status.PENDING, attempts=0, pending_since=now, next_attempt_at=now
    )
