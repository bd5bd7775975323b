"""Reconciliation: read back what changed in amoCRM and apply it by the webhooks' own rules, so the
two sides converge even when hooks are lost (a delivery that failed its retries, a disabled
endpoint, a site that was down for an hour).

For leads, then contacts: `GET /api/v4/<entity>?filter[updated_at][from]=…&order[updated_at]=asc`,
250 a page, from the stored watermark less a small overlap (a change made in the same second as
the last one read is read again, not skipped; reading one twice changes nothing). Each lead or
contact of ours goes through services.crm_changes, exactly as a webhook's would: ownership,
newer-wins, our own values echoed back change nothing, and nothing is written to amoCRM. Others
(leads of other sources) are skipped.

Deletes and restores leave no lead to list: a lead deleted while its hook was lost is found in
amoCRM's events (`GET /api/v4/events?filter[type]=lead_deleted,lead_restored`, from the leads'
watermark less the overlap, oldest first) and handled as its hook would have been.

Cheap when nothing happened: one request per kind, answered 204. Safe to run beside webhooks and
beside itself: applying is idempotent, and a lease on the cursor rows keeps two runs from reading
at once. Safe after days of downtime: it pages until done, saving its place after every page
(`ReconcileCursor.page_from` / `page`), so an interrupted run resumes where it stopped; paging
moves on by the last `updated_at` read, so leads changed during a run cannot shift a page and be
skipped.
"""

import dataclasses
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from amocrm import mapping
from amocrm.client import AmoCRMClient
from amocrm.models import LeadSync, ReconcileCursor
from amocrm.services import crm_changes, enqueue
from amocrm.services.connection import client_get
from amocrm.services.fields import field_map_load
from amocrm.webhooks import LeadChange

logger = logging.getLogger(__name__)

PAGE_SIZE = 250  # amoCRM's largest page
OVERLAP = 2  # seconds read again at the start of every run
# Renewed after every page: a run killed mid-way holds off the next one for at most this long.
LEASE = datetime.timedelta(minutes=5)
# Bookkeeping a change may record beside the profile's fields: not a drift of the customer's data.
NOT_DRIFTS = {"lead_sync", "contact_email"}
# amoCRM's event types for a lead deleted or restored (Kommo "Events types") → the hook's action.
LEAD_EVENTS = {"lead_deleted": "delete", "lead_restored": "restore"}
MAX_EVENT_PAGES = 40  # 10 000 deletes and restores in one window: the rest waits for the next run


@dataclass
class ReconcileReport:
    """What one run read and repaired, by kind (`read`: ours and others'; `drifts`: values applied)."""

    read: dict[str, int] = field(default_factory=dict)
    drifts: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    busy: bool = False  # another run holds the lease: nothing was read
    relinks: int = 0  # leads deleted or restored with their hook lost, unlinked or linked again

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "drifts": self.drifts,
            "requests": self.requests,
            "busy": self.busy,
            "relinks": self.relinks,
        }


def reconcile_run(
    *,
    client: AmoCRMClient | None = None,
    dry_run: bool = False,
    progress: Callable[[str, int, int, int], None] | None = None,
) -> ReconcileReport:
    """Read leads, then contacts, changed since the watermarks and apply ours; `progress(entity,
    page, read, drifts)` after every page. With `dry_run`, count what would change, apply nothing."""
    report = ReconcileReport()
    if not _lease_take():
        report.busy = True
        return report
    try:
        client = client or client_get()
        fields = field_map_load()
        since = ReconcileCursor.objects.get(entity=ReconcileCursor.Entity.LEADS).watermark - OVERLAP
        for entity in ReconcileCursor.Entity.values:
            _run_entity(client, fields, entity, report, dry_run=dry_run, progress=progress)
        _run_lead_events(client, fields, max(0, since), report, dry_run=dry_run)
    finally:
        ReconcileCursor.objects.filter(entity=ReconcileCursor.Entity.LEADS).update(running_until=None)
    logger.info(
        "amocrm.reconciled read=%s drifts=%s requests=%s", report.read, report.drifts, report.requests
    )
    return report


def _lease_take() -> bool:
    """The run's lease, held on the leads cursor (a run reads both kinds): one UPDATE, one winner."""
    now = timezone.now()
    for entity in ReconcileCursor.Entity.values:
        ReconcileCursor.objects.get_or_create(entity=entity, defaults={"watermark": _first_watermark()})
    return bool(
        ReconcileCursor.objects.filter(entity=ReconcileCursor.Entity.LEADS)
        .filter(Q(running_until__isnull=True) | Q(running_until__lte=now))
        .update(running_until=now + LEASE, last_started_at=now)
    )


def _first_watermark() -> int:
    """Where the first run starts: the site's first successful sync (nothing of ours was in amoCRM
    before it), so connecting to an old account does not read its whole history."""
    first = LeadSync.objects.aggregate(first=Min("synced_at"))["first"] or timezone.now()
    return int(first.timestamp())


def _run_entity(
    client: AmoCRMClient,
    fields: mapping.FieldMap,
    entity: str,
    report: ReconcileReport,
    *,
    dry_run: bool,
    progress: Callable[[str, int, int, int], None] | None,
) -> None:
    cursor = ReconcileCursor.objects.get(entity=entity)
    since = cursor.page_from if cursor.page_from is not None else max(0, cursor.watermark - OVERLAP)
    page = cursor.page if cursor.page_from is not None else 1
    newest, read, drifts, pages = cursor.watermark, 0, 0, 0
    while True:
        items = client.changed_since(entity, since=since, page=page, limit=PAGE_SIZE)
        report.requests += 1
        pages += 1
        for item in items:
            drifts += _apply(entity, item, fields, dry_run=dry_run)
            newest = max(newest, int(item.get("updated_at") or 0))
        read += len(items)
        if progress is not None:
            progress(entity, pages, read, drifts)
        if len(items) < PAGE_SIZE:
            break
        # Move on by time, not by page number: a lead changed during the run moves to the end of
        # the order and would shift the pages under us. Many changes in one second: next page.
        last = int(items[-1].get("updated_at") or since)
        since, page = (last, 1) if last > since else (since, page + 1)
        if not dry_run:
            ReconcileCursor.objects.filter(entity=entity).update(page_from=since, page=page)
        ReconcileCursor.objects.filter(entity=ReconcileCursor.Entity.LEADS).update(
            running_until=timezone.now() + LEASE
        )
    report.read[entity], report.drifts[entity] = read, drifts
    if dry_run:
        return
    ReconcileCursor.objects.filter(entity=entity).update(
        watermark=newest,
        page_from=None,
        page=1,
        last_finished_at=timezone.now(),
        last_read=read,
        last_drifts=drifts,
        total_read=cursor.total_read + read,
        total_drifts=cursor.total_drifts + drifts,
    )


def _run_lead_events(
    client: AmoCRMClient, fields: mapping.FieldMap, since: int, report: ReconcileReport, *, dry_run: bool
) -> None:
    """Leads deleted or restored since `since` (read again each run until leads change: applying
    one twice changes nothing), oldest first, as their hooks would have been applied."""
    events: list[dict[str, Any]] = []
    for page in range(1, MAX_EVENT_PAGES + 1):
        found = client.lead_events_since(",".join(LEAD_EVENTS), since=since, page=page)
        report.requests += 1
        events += found
        if len(found) < PAGE_SIZE:
            break
    for event in sorted(events, key=lambda e: (int(e.get("created_at") or 0), str(e.get("id")))):
        lead_id = event.get("entity_id")
        if event.get("type") not in LEAD_EVENTS or not isinstance(lead_id, int):
            continue
        with transaction.atomic():
            change = LeadChange(
                action=LEAD_EVENTS[event["type"]],
                lead_id=lead_id,
                modified_at=None,
                price=None,
                status_id=None,
                old_status_id=None,
                fields=(),
            )
            applied = crm_changes.lead_change_apply(change=change, fields=fields)
            report.relinks += applied.status == "processed"
            if applied.sync_profile_id is not None and not dry_run:
                enqueue.lead_sync_after_commit(profile_id=applied.sync_profile_id)
            if dry_run:
                transaction.set_rollback(True)


def _apply(entity: str, item: dict[str, Any], fields: mapping.FieldMap, *, dry_run: bool) -> int:
    """Apply one lead or contact if it is ours; the number of the customer's values it changed."""
    with transaction.atomic():
        if entity == ReconcileCursor.Entity.LEADS:
            sync = LeadSync.objects.filter(lead_id=item.get("id")).first()
            change = mapping.lead_change_from_api(item, last_status_id=_last_seen_stage(sync))
            if sync is None and LeadSync.objects.filter(deleted_lead_id=change.lead_id).exists():
                change = dataclasses.replace(change, action="restore")  # back from the trash, hook lost
            elif sync is None:
                return 0  # a lead of another source
            applied = crm_changes.lead_change_apply(change=change, fields=fields)
            if applied.sync_profile_id is not None and not dry_run:
                enqueue.lead_sync_after_commit(profile_id=applied.sync_profile_id)
        else:
            change = mapping.contact_change_from_api(item)
            applied = crm_changes.contact_change_apply(change=change)
        if dry_run:
            transaction.set_rollback(True)
    return len([name for name in applied.changes if name not in NOT_DRIFTS])


def _last_seen_stage(sync: LeadSync | None) -> int | None:
    """The stage the lead was last seen in; for a lead linked before stages were recorded, the one
    the site creates leads in (AMOCRM_STATUS_ID), else unknown: its stage then counts as reached."""
    if sync is None or sync.crm_status_id is not None:
        return sync and sync.crm_status_id
    return settings.AMOCRM_STATUS_ID
