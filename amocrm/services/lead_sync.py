"""The lead sync run (profile → lead): claim → recover / update / create → record.

A change told by accounts marks its LeadSync row pending (amocrm.signals → services.enqueue, in the
change's transaction) and has it enqueued after commit. lead_sync_profiles is the one engine behind every
task, bulk or single:
  1. claim: in a short transaction, take the rows (select_for_update) and set a lease, so two
     workers never sync one profile at once; no transaction is held open during HTTP;
  2. read the profiles as they are now (ten quick edits → the first run sends the latest values,
     the others find nothing changed and send nothing);
  3. recover: a create that was started and never recorded looks the lead up by referral code; a
     lead deleted in amoCRM is asked for (it may be back from the trash) before a new one is made;
     leads we know: PATCH only what differs from `synced_values`, 50 leads a request;
     new leads: find the contact by email, commit `create_started_at`, then one leads/complex
     call per 50 leads (the existing contact by id, else a new one), answers matched by our
     `request_id`; a lead merged by amoCRM's duplicate control into another customer's lead is
     never linked to a second profile;
  4. the customer's new phone or email goes to the lead's main contact (services.contact_sync);
  5. record each job's Outcome (services.sync_outcomes); a change made meanwhile leaves the row
     pending for a rerun.
A 400 fails only the items it names (by request_id, index or lead id); one that names none is
retried item by item. Errors whose class says `transient` (5xx, timeouts, 429, auth, see
amocrm.exceptions) back off by outbox.retry_delay and retry without end; permanent ones mark the row
failed with amoCRM's message, for staff (admin, amocrm_resync --failed). While the breaker is open
(services.breaker) nothing is called and the rows wait untouched.
"""

import datetime
import logging
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Profile
from amocrm import batches, mapping
from amocrm.client import AmoCRMClient, chunks
from amocrm.exceptions import (
    AmoCRMError,
    AmoCRMMappingError,
    AmoCRMNotFound,
    AmoCRMUnavailable,
    AmoCRMValidationError,
)
from amocrm.models import LeadSync
from amocrm.services import contact_sync, erasure, lead_tasks, notes
from amocrm.services.connection import client_get
from amocrm.services.contacts import ContactFinder
from amocrm.services.fields import field_map_load
from amocrm.services.sync_outcomes import Outcome, SyncJob, SyncReport, outcomes_record

logger = logging.getLogger(__name__)

NOT_FOUND = re.compile(r"not ?found|does not exist|не найден", re.IGNORECASE)
SYNC_LEASE = datetime.timedelta(minutes=5)  # longer than the client's own bounded retries of a batch


def _claim(profile_ids: Sequence[int], report: SyncReport, now: datetime.datetime) -> list[SyncJob]:
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
        claimed = [row for row in rows if not row.is_claimed(now=now)]
        report.skipped.extend(row.profile_id for row in rows if row.is_claimed(now=now))
        LeadSync.objects.filter(pk__in=[row.pk for row in claimed]).update(claimed_until=now + SYNC_LEASE)
    # Read after the claim: every save from here on bumps the revision and causes a rerun.
    profiles = (
        Profile.objects.select_related("user", "bouquet_category")
        .with_awaiting_sum()
        .with_next_delivery()  # both in this query, not one query per lead each
        .in_bulk([r.profile_id for r in claimed])
    )
    return [
        SyncJob(
            sync=row,
            profile=profiles[row.profile_id],
            revision=row.revision,
            deleted_lead_id=row.deleted_lead_id if row.lead_id is None else None,
            lead_id=row.lead_id,
            contact_id=row.contact_id,
            baseline=dict(row.synced_values or {}),
        )
        for row in claimed
        if row.profile_id in profiles
    ]


def _renew(jobs: list[SyncJob]) -> None:
    """Extend the lease of rows a long run still holds (a big batch can outlast one lease)."""
    LeadSync.objects.filter(pk__in=[job.sync.pk for job in jobs], claimed_until__isnull=False).update(
        claimed_until=timezone.now() + SYNC_LEASE
    )


def _notes(client: AmoCRMClient, jobs: list[SyncJob]) -> None:
    """Post the waiting history notes and tasks of these jobs' leads; a job whose notes failed is retried
    (its lead update, if any, is simply sent again: the same values)."""
    ready = {job.profile.pk: job for job in jobs if job.lead_id and job.error is None and not job.recorded}
    leads = {pid: job.lead_id for pid, job in ready.items()}
    failed = notes.notes_send(client, leads) if settings.AMOCRM_LEAD_NOTES else {}
    # The customer's messages to the manager (lead_tasks), after their notes.
    failed.update(
        lead_tasks.tasks_send(client, {pid: lead for pid, lead in leads.items() if pid not in failed})
    )
    for pid, error in failed.items():
        ready[pid].fail(error)


def _named_items(chunk: list[SyncJob], keys: list[str], error: AmoCRMValidationError) -> set[int]:
    """Positions in `chunk` a 400 names: by our request_id / index, or by lead id."""
    request_ids, lead_ids = error.request_ids, error.entity_ids
    named = {i for i, key in enumerate(keys) if key in request_ids}
    if not named:  # amoCRM names items sent without a request_id by their index
        named = {i for i in range(len(chunk)) if str(i) in request_ids}
    return named | {i for i, job in enumerate(chunk) if job.lead_id in lead_ids}


def _send(
    chunk: list[SyncJob],
    keys: Callable[[list[SyncJob]], list[str]],
    call: Callable[[list[SyncJob]], None],
    refuse: Callable[[SyncJob, AmoCRMError], None] = SyncJob.fail,
) -> None:
    """Send one batch through `call`, refusing only the items a 400 names (amocrm.batches); `keys(batch)`
    are the names amoCRM gives the items of that very batch (our request_ids, or their positions)."""
    batches.send_refusing_named(
        chunk,
        call,
        named=lambda batch, error: _named_items(batch, keys(batch), error),
        refuse=refuse,
        refusals=(AmoCRMValidationError, AmoCRMNotFound),
    )


def _recover(client: AmoCRMClient, jobs: list[SyncJob]) -> None:
    """A create whose answer was never recorded may have happened: find the lead by referral code."""
    for job in jobs:
        code = str(job.profile.referral_code)
        found = next((lead for lead in client.leads_search(code) if mapping.lead_mentions(lead, code)), None)
        if found is None:
            continue
        job.lead_id = int(found["id"])
        job.contact_id = mapping.lead_contact_id(found)
        job.status_id = mapping.lead_status_id(found)
        job.baseline = {}  # unknown: send everything
        logger.info("amocrm.lead_recovered lead_id=%s profile_id=%s", job.lead_id, job.profile.pk)


def _recover_deleted(client: AmoCRMClient, jobs: list[SyncJob]) -> None:
    """A lead deleted in amoCRM may be back from the trash (restored, same id): ask before creating
    a second lead for the same customer. amoCRM answers 204 while it is gone."""
    for job in jobs:
        found = client.lead_get(job.deleted_lead_id)
        if not found or not found.get("id"):
            continue
        job.lead_id = int(found["id"])
        job.contact_id = mapping.lead_contact_id(found) or job.sync.contact_id
        job.status_id = mapping.lead_status_id(found)
        job.baseline = {}  # changed on the site while it was gone: send everything
        logger.info("amocrm.lead_relinked lead_id=%s profile_id=%s", job.lead_id, job.profile.pk)


def _update(client: AmoCRMClient, jobs: list[SyncJob], *, full: bool) -> None:
    patches: dict[int, dict[str, Any]] = {}
    unanswered: list[tuple[SyncJob, AmoCRMError]] = []
    for job in jobs:
        keys = list(job.state) if full else mapping.lead_state_changes(job.state, job.baseline)
        if not keys:
            job.outcome = Outcome.UNCHANGED
            continue
        patches[id(job)] = mapping.lead_update_payload(job.lead_id, job.state, keys)

    def patch(batch: list[SyncJob]) -> None:
        returned = {
            int(lead["id"]) for lead in client.leads_update([patches[id(j)] for j in batch]) if lead.get("id")
        }
        for job in batch:
            if job.lead_id in returned:
                job.outcome = Outcome.SENT
                logger.info("amocrm.lead_updated lead_id=%s profile_id=%s", job.lead_id, job.profile.pk)
            else:
                unanswered.append((job, AmoCRMUnavailable("amoCRM did not return the updated lead")))

    def refuse(job: SyncJob, error: AmoCRMError) -> None:
        if _may_be_gone(error):
            unanswered.append((job, error))
        else:
            job.fail(error)

    for chunk in chunks([job for job in jobs if id(job) in patches]):
        _renew(chunk)
        _send(chunk, lambda batch: [str(i) for i in range(len(batch))], patch, refuse)
        _gone_check(client, unanswered)
        unanswered.clear()


def _may_be_gone(error: AmoCRMError) -> bool:
    """A refusal a deleted lead gets: 404, or a 400 `NotFound` at `id`, or one naming the lead by id
    alone (the `{"errors": {"<id>": …}}` shape has no code) with a "not found" text. Other refusals
    (a loss reason on an open lead…) stand without a read."""
    if isinstance(error, AmoCRMNotFound):
        return True
    return isinstance(error, AmoCRMValidationError) and any(
        (item.code == "NotFound" and item.path == "id") or (item.entity_id and NOT_FOUND.search(item.detail))
        for item in error.errors
    )


def _gone_check(client: AmoCRMClient, jobs: list[tuple[SyncJob, AmoCRMError]]) -> None:
    """A PATCH amoCRM refused as if the lead were not there, or answered without the lead (204): its
    delete hook may have been lost. Read the lead: gone (204/404), it is treated as a delete hook
    would (remembered, as it may be restored, and the customer gets a new lead below); there, the
    refusal stands."""
    for job, error in jobs:
        try:
            found = client.lead_get(job.lead_id, with_contacts=False)
        except AmoCRMNotFound:
            found = None
        if found and found.get("id"):
            job.fail(error)
            continue
        logger.info("amocrm.lead_gone lead_id=%s profile_id=%s", job.lead_id, job.profile.pk)
        job.deleted_lead_id, job.lead_id, job.baseline = job.lead_id, None, {}


def _create(
    client: AmoCRMClient,
    jobs: list[SyncJob],
    report: SyncReport,
    jitter: Callable[[], float],
    contacts: ContactFinder | None = None,
) -> None:
    def create(batch: list[SyncJob]) -> None:
        payloads = [
            mapping.lead_create_payload(
                job.state,
                contact=job.contact,
                pipeline_id=settings.AMOCRM_PIPELINE_ID,
                status_id=settings.AMOCRM_STATUS_ID,
                request_id=job.request_id,
            )
            for job in batch
        ]
        answers = _by_request_id(client.leads_create_complex(payloads), batch)
        for job in batch:
            answer = answers.get(job.request_id) or {}
            if not answer.get("id"):
                job.fail(AmoCRMUnavailable("amoCRM did not return the created lead"))
                continue
            job.lead_id = int(answer["id"])
            job.contact_id = int(answer.get("contact_id") or job.contact.get("id") or 0) or None
            merged = bool(answer.get("merged"))
            # leads/complex answers no stage (docs/amocrm-api.md): a new lead is in the one we asked
            # for (none: the pipeline's first, unknown); a lead ours was merged into, where it was.
            job.status_id = _stage_of(client, job.lead_id) if merged else settings.AMOCRM_STATUS_ID
            job.outcome = Outcome.MERGED if merged else Outcome.SENT
            logger.info(
                "amocrm.lead_created lead_id=%s contact_id=%s profile_id=%s linked=%s merged=%s",
                job.lead_id,
                job.contact_id,
                job.profile.pk,
                "id" in job.contact,
                merged,
            )

    contacts = contacts or ContactFinder(client)
    for chunk in chunks(jobs):
        _renew(chunk)
        for job in chunk:
            contact_id = contacts.find(job.profile.user.email, among=len(jobs))
            job.contact = {"id": int(contact_id)} if contact_id else mapping.contact_payload(job.profile)
        # Committed before the POST: if this worker dies before the answer is stored, the retry
        # looks the lead up instead of creating a second one.
        LeadSync.objects.filter(pk__in=[job.sync.pk for job in chunk]).update(
            create_started_at=timezone.now()
        )
        _send(chunk, lambda batch: [job.request_id for job in batch], create)
        refused = [job.sync.pk for job in chunk if isinstance(job.error, AmoCRMValidationError)]
        LeadSync.objects.filter(pk__in=refused).update(create_started_at=None)  # nothing was created
        try:
            _notes(client, chunk)  # the signup's note, now that the lead exists
        finally:
            outcomes_record(chunk, report, jitter)  # store the new ids at once


def _stage_of(client: AmoCRMClient, lead_id: int) -> int | None:
    try:
        return mapping.lead_status_id(client.lead_get(lead_id, with_contacts=False) or {})
    except AmoCRMError:
        return None  # unknown: reconciliation applies its rule for a stage never seen


def _by_request_id(answers: list[dict[str, Any]], batch: list[SyncJob]) -> dict[str, dict[str, Any]]:
    """Each answer of leads/complex by the request_id we sent (one answer may carry several); by
    position only when amoCRM echoed none of ours (an index, as it does for items sent without one)."""
    found: dict[str, dict[str, Any]] = {}
    for answer in answers:
        ids = answer.get("request_id")
        for request_id in ids if isinstance(ids, list) else [ids]:
            if request_id not in (None, ""):
                found[str(request_id)] = answer
    if not any(job.request_id in found for job in batch):
        found = {job.request_id: answer for job, answer in zip(batch, answers, strict=False)}
    return found


def lead_sync_profiles(
    *,
    profile_ids: Sequence[int],
    full: bool = False,
    client: AmoCRMClient | None = None,
    jitter: Callable[[], float] = random.random,
    progress: Callable[[int, int], None] | None = None,
    contacts: ContactFinder | None = None,
) -> SyncReport:
    """Bring the leads of these profiles up to date; see the section comment above.

    `full` sends every field even when it equals the last value sent (a resync repairs edits made
    in amoCRM); `progress(recorded, total)` is told after every batch; one `contacts` finder shared
    by the calls of one run lists the account's contacts once. Raises AmoCRMNotConfigured when the
    integration is off.
    """
    report = SyncReport(progress=progress)
    if not profile_ids:
        return report
    client = client or client_get()
    jobs = _claim(profile_ids, report, timezone.now())
    report.total = len(jobs)
    try:
        fields = field_map_load()
        for job in jobs:
            try:
                job.state = mapping.lead_state(job.profile, fields)
            except AmoCRMMappingError as e:
                job.fail(e)
        try:
            _recover(client, [j for j in jobs if j.is_open and j.lead_id is None and j.interrupted])
            _recover_deleted(
                client, [j for j in jobs if j.is_open and j.lead_id is None and j.deleted_lead_id]
            )
            _update(client, [j for j in jobs if j.is_open and j.lead_id is not None], full=full)
            _notes(client, [j for j in jobs if j.lead_id is not None])
            _create(client, [j for j in jobs if j.is_open and j.lead_id is None], report, jitter, contacts)
            contact_sync.contacts_send(client, jobs)  # the phone or email the customer changed
            erasure.contacts_erase(client, [j for j in jobs if j.lead_id is not None])
        except AmoCRMError as e:
            # amoCRM is down or refuses us: everything not yet done gets the same outcome.
            for job in jobs:
                if job.is_open:
                    job.fail(e)
    finally:
        outcomes_record(jobs, report, jitter)
    return report
