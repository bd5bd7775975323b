"""Webhooks (amoCRM → site): store each item of a parsed body once as a WebhookEvent, apply them in
order in the worker (the rules are crm_changes'), and subscribe our endpoint.

The view checks the secret and the account, then webhook_receive stores one WebhookEvent per lead
or contact item (duplicates dropped by their dedupe key) and the worker runs webhook_events_apply
after commit: oldest change first, each in its own transaction; an event older than one already
applied to the same lead (or contact) changes nothing. amoCRM stamps whole seconds, so an event of
the same second as another one already applied to its lead may be older or newer (the `add_lead` echo of a
lead's creation arriving 50 ms after a manager's new sum): the lead is read back
(`GET /api/v4/leads/{id}`, before the transaction) and what amoCRM holds now is applied instead.
So is one stamped in the second the site changed a field it would change (docs/change-events.md).
"""

import datetime
import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from amocrm import mapping, webhooks
from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError, AmoCRMNotConfigured
from amocrm.models import LeadSync, WebhookEvent
from amocrm.services import crm_changes, lead_plan
from amocrm.services.account import account_current
from amocrm.services.connection import client_get
from amocrm.services.fields import field_map_load

logger = logging.getLogger(__name__)

ACCOUNT_LENGTH = WebhookEvent._meta.get_field("account").max_length

# What amocrm_subscribe_webhook asks for, in amoCRM's names (add_lead, …, update_contact): derived from
# the actions webhooks.py reads, so the two lists cannot drift apart.
WEBHOOK_EVENTS = (
    *(f"{action}_lead" for action in webhooks.LEAD_ACTIONS),
    *(f"{action}_contact" for action in webhooks.CONTACT_ACTIONS),
)


def webhook_url(*, secret: str | None = None) -> str:
    secret = settings.AMOCRM_WEBHOOK_SECRET if secret is None else secret
    return f"{settings.SITE_URL}{reverse('amocrm:webhook', kwargs={'secret': secret})}"


def webhook_account_matches(*, subdomain: str, account_id: str) -> bool:
    """The body names the connected account: by its id, which a subdomain rename keeps
    (AMOCRM_ACCOUNT_ID when set, else the id read from amoCRM); by its subdomain only until the
    account has been read (AMOCRM_ACCOUNT_SUBDOMAIN, else the first label of AMOCRM_BASE_URL)."""
    expected_id = str(settings.AMOCRM_ACCOUNT_ID or "")
    if not expected_id and (account := account_current()) is not None:
        expected_id = str(account.account_id)
    if expected_id:
        return bool(account_id) and secrets.compare_digest(account_id.encode(), expected_id.encode())
    host = (urlsplit(settings.AMOCRM_BASE_URL).hostname or "").lower()
    # https://flowers.amocrm.ru → "flowers"; a base URL without one (a stand-in on 127.0.0.1) names it.
    expected = settings.AMOCRM_ACCOUNT_SUBDOMAIN or host.split(".", 1)[0]
    return bool(expected and subdomain) and secrets.compare_digest(subdomain.encode(), expected.encode())


def _item_hash(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def webhook_record_malformed(*, body: bytes, error: str) -> WebhookEvent:
    """A body that does not parse: kept (truncated) as a failed event for staff to look at."""
    key = f"body:{hashlib.sha256(body).hexdigest()[:32]}"
    event, _ = WebhookEvent.objects.get_or_create(
        dedupe_key=key,
        defaults={
            "payload": {"raw": body[:2000].decode("utf-8", errors="replace").replace("\x00", "")},
            "status": WebhookEvent.Status.FAILED,
            "error": error,
            "processed_at": timezone.now(),
        },
    )
    logger.warning("amocrm.webhook_malformed event_id=%s error=%s", event.pk, error)
    return event


def webhook_receive(*, payload: dict[str, Any]) -> list[int]:
    """Store each lead and contact item of a parsed body once; the ids of the new events, for the worker."""
    subdomain, _ = webhooks.account_of(payload)
    received_at = timezone.now()
    rows: dict[str, WebhookEvent] = {}
    for item in webhooks.items(payload):
        entity_id, modified_at = item.entity_id, item.modified_at
        if item.action == "delete" and modified_at is None:
            modified_at = received_at  # a delete carries no time: it sorts after what came before it
        stamp = int(item.modified_at.timestamp()) if item.modified_at else "-"
        key = f"{item.entity}s:{item.action}:{entity_id or '-'}:{stamp}:{_item_hash(item.data)}"
        event = WebhookEvent(
            account=subdomain[:ACCOUNT_LENGTH],
            entity=item.entity,
            action=item.action,
            lead_id=item.lead_id,
            contact_id=item.contact_id,
            modified_at=modified_at,
            dedupe_key=key,
            payload=item.data,
        )
        if entity_id is None:
            event.mark(WebhookEvent.Status.FAILED, error=f"the {item.entity} item has no numeric id")
        elif modified_at is None:
            event.mark(
                WebhookEvent.Status.FAILED, error=f"the {item.entity} item has no last_modified / updated_at"
            )
        elif _from_the_future(modified_at, now=received_at):
            event.mark(WebhookEvent.Status.FAILED, error=FROM_THE_FUTURE)
        rows.setdefault(key, event)
    if not rows:
        key = f"body:{_item_hash(payload)}"
        event = WebhookEvent(account=subdomain[:ACCOUNT_LENGTH], dedupe_key=key, payload=payload)
        event.mark(
            WebhookEvent.Status.IGNORED, error="no lead or contact events the site handles in the body"
        )
        rows[key] = event
    with transaction.atomic():
        known = set(
            WebhookEvent.objects.filter(dedupe_key__in=list(rows)).values_list("dedupe_key", flat=True)
        )
        WebhookEvent.objects.bulk_create(
            [e for k, e in rows.items() if k not in known], ignore_conflicts=True
        )
        new_ids = list(
            WebhookEvent.objects.filter(
                dedupe_key__in=[k for k in rows if k not in known], status=WebhookEvent.Status.RECEIVED
            ).values_list("pk", flat=True)
        )
    logger.info("amocrm.webhook_received items=%s new=%s duplicates=%s", len(rows), len(new_ids), len(known))
    return new_ids


def webhook_events_reprocess(*, event_ids: Sequence[int]) -> list[int]:
    """Events back to received (admin action), to be applied by the worker as if new; their ids."""
    ids = list(
        WebhookEvent.objects.filter(pk__in=event_ids)
        .filter(Q(lead_id__isnull=False) | Q(contact_id__isnull=False))
        .values_list("pk", flat=True)
    )
    WebhookEvent.objects.filter(pk__in=ids).update(
        status=WebhookEvent.Status.RECEIVED, error="", changes=[], processed_at=None
    )
    return ids


def webhook_events_stale(*, older_than: datetime.timedelta) -> list[int]:
    """Events received longer ago than `older_than` and still unapplied (their task was lost)."""
    return list(
        WebhookEvent.objects.filter(
            status=WebhookEvent.Status.RECEIVED, received_at__lt=timezone.now() - older_than
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def webhook_events_prune(*, older_than: datetime.timedelta, dry_run: bool = False) -> int:
    """Delete events received longer ago than `older_than`; the number deleted (or to delete)."""
    old = WebhookEvent.objects.filter(received_at__lt=timezone.now() - older_than)
    if dry_run:
        return old.count()
    count, _ = old.delete()
    return count


@dataclass
class ApplyReport:
    """What one run applied: events by outcome, and the profiles whose lead came back (to sync)."""

    outcome: dict[str, int] = field(default_factory=dict)
    relinked: list[int] = field(default_factory=list)  # to sync now: a lead back, a derived value

    def count(self, status: str) -> None:
        self.outcome[status] = self.outcome.get(status, 0) + 1


def _event_failed(event_id: int, error: Exception, report: ApplyReport) -> None:
    logger.exception("amocrm.webhook_apply_failed event_id=%s", event_id)
    WebhookEvent.objects.filter(pk=event_id).update(
        status=WebhookEvent.Status.FAILED,
        error=f"{type(error).__name__}: {error}"[:4000],
        processed_at=timezone.now(),
    )
    report.count(WebhookEvent.Status.FAILED)


def webhook_events_apply(*, event_ids: Sequence[int]) -> ApplyReport:
    """Apply received events oldest change first, each in its own transaction.

    An unexpected error fails only its event (kept with the error for staff to reprocess).
    """
    report = ApplyReport()
    events = WebhookEvent.objects.filter(pk__in=event_ids, status=WebhookEvent.Status.RECEIVED)
    order = list(events.order_by(F("modified_at").asc(nulls_last=True), "pk").values_list("pk", flat=True))
    if not order:
        return report
    fields = field_map_load()
    for event_id in order:
        try:
            now_held = _lead_read_back_on_tie(event_id, fields)  # HTTP: before the transaction, not in it
            with transaction.atomic():
                event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
                if event is None or event.status != WebhookEvent.Status.RECEIVED:
                    continue
                applied = _webhook_apply_one(event, fields, now_held=now_held)
                event.mark(
                    applied.status, changes=applied.changes, error=applied.error, dropped=applied.dropped
                )
                event.save()
        except AmoCRMError as e:
            if not e.transient:
                _event_failed(event_id, e, report)
                continue
            # The tie's read-back met an outage: the event stays received, and the sweep
            # (amocrm_sync_due) queues it again, so a manager's change is not failed for good.
            logger.warning("amocrm.webhook_apply_postponed event_id=%s status=%s", event_id, e.status)
            continue
        except Exception as e:  # noqa: BLE001 - a bad event must not stop the others
            _event_failed(event_id, e, report)
            continue
        report.count(event.status)
        if applied.sync_profile_id is not None:
            report.relinked.append(applied.sync_profile_id)
        logger.info(
            "amocrm.webhook_applied event_id=%s entity=%s id=%s action=%s status=%s changed=%s errors=%s",
            event.pk,
            event.entity,
            event.lead_id or event.contact_id,
            event.action,
            event.status,
            len(event.changes),
            bool(event.error),
        )
    return report


def _lead_read_back_on_tie(event_id: int, fields: mapping.FieldMap) -> webhooks.LeadChange | None:
    """What the lead holds now, when the order of the event and another change is unknown: it
    carries the same second as the last change applied to the lead by another event, or as the
    site's change of a field it would change. None when there is no tie (or the lead is gone: its
    delete hook says so)."""
    event = (
        WebhookEvent.objects.filter(pk=event_id, entity=WebhookEvent.Entity.LEAD, lead_id__isnull=False)
        .exclude(action__in=("delete", "restore"))
        .first()
    )
    if event is None or event.modified_at is None:
        return None
    sync = LeadSync.objects.select_related("profile__bouquet_category").filter(lead_id=event.lead_id).first()
    if sync is None:
        return None
    tied = _ties_an_applied_event(event, sync) or _ties_a_site_change(event, sync, fields)
    if not tied:
        return None
    lead = client_get().lead_get(event.lead_id)  # with its main contact: it may have been relinked
    logger.info("amocrm.webhook_tie_read_back event_id=%s lead_id=%s tie=%s", event.pk, event.lead_id, tied)
    return mapping.lead_change_from_api(lead, last_status_id=sync.crm_status_id) if lead else None


def _ties_an_applied_event(event: WebhookEvent, sync: LeadSync) -> str:
    """The tie's name ("event") when another event of the same second was the last applied to the
    lead, else ""."""
    if sync.crm_modified_at != event.modified_at:
        return ""
    tied = WebhookEvent.objects.filter(
        entity=event.entity,
        lead_id=event.lead_id,
        status=WebhookEvent.Status.PROCESSED,
        modified_at=event.modified_at,
    ).exclude(pk=event.pk)
    # Not the event itself again (staff reprocess it), nor the same second's only change.
    return "event" if tied.exists() else ""


def _ties_a_site_change(event: WebhookEvent, sync: LeadSync, fields: mapping.FieldMap) -> str:
    """The fields (comma-separated) the event would change that the site changed in its very second,
    else "". After the site's PATCH landed, an older echo of that second would pass for a manager's
    edit (it differs from the value sent): only amoCRM knows which came last."""
    keys = lead_plan.same_second_keys(
        change=webhooks.read_lead(action=event.action, data=event.payload),
        fields=fields,
        current=mapping.profile_values(sync.profile),
        synced=sync.synced_values or {},
        site_changed={key: sync.site_changed(key) for key in mapping.PREFERENCE_KEYS},
    )
    return ",".join(keys)


FROM_THE_FUTURE = (
    "refused: stamped later than now (AMOCRM_WEBHOOK_MAX_FUTURE), never taken as the lead's clock"
)


def _from_the_future(modified_at: datetime.datetime, *, now: datetime.datetime) -> bool:
    """A stamp past now plus the allowed skew: taken as the lead's clock, it would make every real
    change after it look older and be ignored (a payment included)."""
    return modified_at > now + datetime.timedelta(seconds=settings.AMOCRM_WEBHOOK_MAX_FUTURE)


def _webhook_apply_one(
    event: WebhookEvent, fields: mapping.FieldMap, *, now_held: webhooks.LeadChange | None = None
) -> crm_changes.Applied:
    # Checked again here: "apply again" must not let a refused event through.
    if event.modified_at is not None and _from_the_future(event.modified_at, now=timezone.now()):
        return crm_changes.Applied("failed", errors={"modified_at": FROM_THE_FUTURE})
    if event.entity == WebhookEvent.Entity.CONTACT:
        if _newer_processed(event, contact_id=event.contact_id):
            return crm_changes.Applied("ignored", errors={"contact": OLDER})
        return crm_changes.contact_change_apply(
            change=webhooks.read_contact(action=event.action, data=event.payload)
        )
    # A delete carries no time of its own (stamped when received); a restore brings the lead back.
    if event.action not in ("delete", "restore") and _newer_processed(event, lead_id=event.lead_id):
        return crm_changes.Applied("ignored", errors={"lead": OLDER})
    change = now_held or webhooks.read_lead(action=event.action, data=event.payload)
    return crm_changes.lead_change_apply(change=change, fields=fields)


OLDER = "older than a change already applied"


def _newer_processed(event: WebhookEvent, **entity: int | None) -> bool:
    return (
        WebhookEvent.objects.filter(
            entity=event.entity,
            status=WebhookEvent.Status.PROCESSED,
            modified_at__gt=event.modified_at,
            **entity,
        )
        .exclude(pk=event.pk)
        .exists()
    )


class HookState(StrEnum):
    """Why our hook needs subscribing again (None: amoCRM has it on, with every event)."""

    MISSING = "missing"
    DISABLED = "disabled"  # amoCRM switched it off after too many bad answers (docs/amocrm-api.md §8)
    EVENTS = "events"  # some of WEBHOOK_EVENTS are not subscribed


def webhook_state(hooks: Sequence[dict[str, Any]], *, destination: str) -> HookState | None:
    ours = [h for h in hooks if h.get("destination") == destination]
    if not ours:
        return HookState.MISSING
    if any(set(h.get("settings") or []) >= set(WEBHOOK_EVENTS) and not h.get("disabled") for h in ours):
        return None
    if all(h.get("disabled") for h in ours):
        return HookState.DISABLED
    return HookState.EVENTS


def webhook_resubscribe(*, client: AmoCRMClient, destination: str) -> None:
    """Subscribe our endpoint to every event and make sure it is on."""
    answer = client.webhook_subscribe(destination, WEBHOOK_EVENTS)
    if answer.get("disabled"):
        # Whether posting a switched-off destination again turns it back on is unverified (docs §8):
        # when amoCRM answers that it is still off, remove it and add it anew.
        client.webhook_unsubscribe(destination)
        client.webhook_subscribe(destination, WEBHOOK_EVENTS)
    logger.info("amocrm.webhook_subscribed events=%s", len(WEBHOOK_EVENTS))


def webhook_subscribe(*, client: AmoCRMClient | None = None, dry_run: bool = False) -> bool:
    """Register our endpoint for the lead events; False when amoCRM already has it as wanted."""
    if not settings.AMOCRM_WEBHOOK_SECRET:
        raise AmoCRMNotConfigured("AMOCRM_WEBHOOK_SECRET is not set")
    client = client or client_get()
    destination = webhook_url()
    if webhook_state(client.webhooks_list(destination), destination=destination) is None:
        return False
    if not dry_run:
        webhook_resubscribe(client=client, destination=destination)
    return True
