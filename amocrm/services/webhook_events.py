"""Webhooks (amoCRM → site): receive a parsed body into WebhookEvent rows, apply them to profiles,
subscribe our endpoint, and unlink a profile whose lead was deleted.

The view checks the secret and the account, then webhook_receive stores one WebhookEvent per lead
item (duplicates dropped by their dedupe key) and the worker runs webhook_events_apply after commit.
Rules, for staff in the README too (ownership comes from `mapping.FIELDS`):
  * a lead we do not know (no LeadSync with its id) is ignored;
  * an event older than one already applied to the same lead changes nothing;
  * a field counts as changed in amoCRM only when it differs from the value we last sent
    (`synced_values`): our own updates echoed back change nothing;
  * CRM-owned fields (the account sum and status) always follow amoCRM; the preferences (owned by
    both) only when the amoCRM change is newer than the profile's `updated_at` (the last change
    made on the site; applying a webhook leaves it alone);
  * a bad value is recorded on the event for its field, the other fields still apply;
  * `leads[status]` maps the pipeline stage through AMOCRM_STATUS_MAP (unmapped: no change);
  * `leads[delete]` unlinks the profile (LeadSync UNLINKED, no lead id); its next change or a
    resync creates a new lead.
"""

import datetime
import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import BouquetCategory, Profile
from amocrm import mapping, webhooks
from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMMappingError, AmoCRMNotConfigured
from amocrm.models import LeadSync, WebhookEvent
from amocrm.services.connection import client_get
from amocrm.services.fields import field_map_load

logger = logging.getLogger(__name__)

WEBHOOK_EVENTS = ("add_lead", "update_lead", "status_lead", "delete_lead")
Key = mapping.Key


def webhook_url(*, secret: str | None = None) -> str:
    secret = settings.AMOCRM_WEBHOOK_SECRET if secret is None else secret
    return f"{settings.SITE_URL}{reverse('amocrm:webhook', kwargs={'secret': secret})}"


def webhook_account_matches(*, subdomain: str, account_id: str) -> bool:
    """The body names the connected account: its subdomain (and AMOCRM_ACCOUNT_ID when set)."""
    host = (urlsplit(settings.AMOCRM_BASE_URL).hostname or "").lower()
    # https://flowers.amocrm.ru → "flowers"; a base URL without one (a stand-in on 127.0.0.1) names it.
    expected = settings.AMOCRM_ACCOUNT_SUBDOMAIN or host.split(".", 1)[0]
    if not expected or not subdomain or not secrets.compare_digest(subdomain.encode(), expected.encode()):
        return False
    # The account id is checked only when configured.
    return not settings.AMOCRM_ACCOUNT_ID or account_id == str(settings.AMOCRM_ACCOUNT_ID)


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
    """Store each lead item of a parsed body once; the ids of the new events, for the worker."""
    subdomain, _ = webhooks.account_of(payload)
    rows: dict[str, WebhookEvent] = {}
    for item in webhooks.lead_items(payload):
        lead_id, modified_at = item.lead_id, item.modified_at
        stamp = int(modified_at.timestamp()) if modified_at else "-"
        key = f"leads:{item.action}:{lead_id or '-'}:{stamp}:{_item_hash(item.data)}"
        event = WebhookEvent(
            account=subdomain[:64],
            action=item.action,
            lead_id=lead_id,
            modified_at=modified_at,
            dedupe_key=key,
            payload=item.data,
        )
        if lead_id is None:
            event.mark(WebhookEvent.Status.FAILED, error="the lead item has no numeric id")
        elif modified_at is None and item.action != "delete":
            event.mark(WebhookEvent.Status.FAILED, error="the lead item has no last_modified / updated_at")
        rows.setdefault(key, event)
    if not rows:
        key = f"body:{_item_hash(payload)}"
        event = WebhookEvent(account=subdomain[:64], dedupe_key=key, payload=payload)
        event.mark(WebhookEvent.Status.IGNORED, error="no lead add/update/status/delete events in the body")
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
        WebhookEvent.objects.filter(pk__in=event_ids, lead_id__isnull=False).values_list("pk", flat=True)
    )
    WebhookEvent.objects.filter(pk__in=ids).update(
        status=WebhookEvent.Status.RECEIVED, error="", changes=[], processed_at=None
    )
    return ids


def webhook_events_prune(*, older_than: datetime.timedelta, dry_run: bool = False) -> int:
    """Delete events received longer ago than `older_than`; the number deleted (or to delete)."""
    old = WebhookEvent.objects.filter(received_at__lt=timezone.now() - older_than)
    if dry_run:
        return old.count()
    count, _ = old.delete()
    return count


def webhook_events_apply(*, event_ids: Sequence[int]) -> dict[str, int]:
    """Apply received events oldest change first, each in its own transaction; outcomes by status.

    An unexpected error fails only its event (kept with the error for staff to reprocess).
    """
    events = WebhookEvent.objects.filter(pk__in=event_ids, status=WebhookEvent.Status.RECEIVED)
    order = list(events.order_by(F("modified_at").asc(nulls_last=True), "pk").values_list("pk", flat=True))
    outcome: dict[str, int] = {}
    if not order:
        return outcome
    fields = field_map_load()
    for event_id in order:
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
                if event is None or event.status != WebhookEvent.Status.RECEIVED:
                    continue
                _webhook_apply_one(event, fields)
                event.save()
        except Exception as e:  # noqa: BLE001 - a bad event must not stop the others
            logger.exception("amocrm.webhook_apply_failed event_id=%s", event_id)
            WebhookEvent.objects.filter(pk=event_id).update(
                status=WebhookEvent.Status.FAILED,
                error=f"{type(e).__name__}: {e}"[:4000],
                processed_at=timezone.now(),
            )
            outcome["failed"] = outcome.get("failed", 0) + 1
            continue
        outcome[event.status] = outcome.get(event.status, 0) + 1
        logger.info(
            "amocrm.webhook_applied event_id=%s lead_id=%s action=%s status=%s changed=%s errors=%s",
            event.pk,
            event.lead_id,
            event.action,
            event.status,
            len(event.changes),
            bool(event.error),
        )
    return outcome


def _webhook_apply_one(event: WebhookEvent, fields: mapping.FieldMap) -> None:
    sync = LeadSync.objects.select_for_update().filter(lead_id=event.lead_id).first()
    if sync is None:
        event.mark(WebhookEvent.Status.IGNORED, error="no profile is linked to this lead")
        return
    if event.action == "delete":
        lead_unlink(sync)
        event.mark(WebhookEvent.Status.PROCESSED, changes=["lead_sync"])
        return
    newer = WebhookEvent.objects.filter(
        lead_id=event.lead_id, status=WebhookEvent.Status.PROCESSED, modified_at__gt=event.modified_at
    ).exclude(pk=event.pk)
    if newer.exists():
        event.mark(WebhookEvent.Status.IGNORED, error="older than a change already applied to this lead")
        return
    profile = (
        Profile.objects.select_for_update().select_related("user", "bouquet_category").get(pk=sync.profile_id)
    )
    change = webhooks.read_lead(action=event.action, data=event.payload)
    crm, errors = _crm_values(change, fields)
    synced = dict(sync.synced_values or {})
    current = mapping.profile_values(profile)
    site_is_older = profile.updated_at < event.modified_at
    # No sum field in the body: the sum came from the lead's budget (whole roubles).
    sum_from_price = Key.ACCOUNT_SUM in crm and not change.has_field(fields.field_ids.get(Key.ACCOUNT_SUM))

    def crm_changed(key: str) -> bool:
        # Our own update echoed back equals what we last sent: it is not a change made in amoCRM.
        if key == Key.ACCOUNT_SUM and sum_from_price:
            return change.price != synced.get("price")
        return mapping.field_value(mapping.FIELDS_BY_KEY[key], crm[key], fields) != synced.get(key)

    data: dict[str, Any] = {}
    next_delivery_date = None
    for key, value in crm.items():
        if value == current[key] or not crm_changed(key):
            continue
        if key in mapping.PREFERENCE_KEYS and not site_is_older:
            continue  # the customer changed the profile after the manager did: the site wins
        if key == Key.DELIVERY_DATE:
            next_delivery_date = value
        elif key == Key.BOUQUET_CATEGORY:
            category = BouquetCategory.objects.filter(slug=value).first()
            if category is None:
                errors[key] = f"no bouquet category {value!r}"
                continue
            data["bouquet_category"] = category
        else:
            data[mapping.FIELDS_BY_KEY[key].profile_field] = value
    if Key.DELIVERY_INTERVAL in data and Key.DELIVERY_DATE in crm:
        # A new interval moves the next date; keep the one amoCRM shows.
        next_delivery_date = next_delivery_date or crm[Key.DELIVERY_DATE]
    if next_delivery_date is not None and next_delivery_date < timezone.localdate():
        errors[Key.DELIVERY_DATE] = f"{next_delivery_date.isoformat()} is in the past"
        next_delivery_date = None
    changed, invalid = accounts_services.profile_apply_staff_changes(
        profile=profile, data=data, next_delivery_date=next_delivery_date
    )
    errors.update(
        {mapping.KEYS_BY_PROFILE_FIELD.get(name, name): message for name, message in invalid.items()}
    )
    # No echo: the profile save above marked the LeadSync row pending and queued a sync (amocrm.signals).
    # amoCRM already holds the values just applied, so they go into `synced_values` here, in the same
    # transaction; that sync then finds nothing changed and sends nothing back.
    sync.refresh_from_db()
    state = mapping.lead_state(profile, fields)
    now_values = mapping.profile_values(profile)
    for key, value in crm.items():
        if value == now_values[key] and not (key == Key.ACCOUNT_SUM and sum_from_price):
            synced[key] = state[key]
    if change.price is not None and change.price == state["price"]:
        synced["price"] = change.price
    if synced != sync.synced_values:
        sync.synced_values = synced
        sync.save(update_fields=["synced_values", "updated_at"])
    event.mark(
        WebhookEvent.Status.PROCESSED,
        changes=changed,
        error="\n".join(f"{key}: {message}" for key, message in sorted(errors.items())),
    )


def _crm_values(
    change: webhooks.LeadChange, fields: mapping.FieldMap
) -> tuple[dict[str, Any], dict[str, str]]:
    """Field key → value amoCRM holds, for the keys amoCRM may change (CRM-owned and preferences);
    errors by key."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    wanted = (*mapping.CRM_OWNED_KEYS, *mapping.PREFERENCE_KEYS)
    keys_by_id = {field_id: key for key, field_id in fields.field_ids.items()}
    for item in change.fields:
        key = keys_by_id.get(item.field_id)
        if key not in wanted:
            continue  # a field the site does not take from amoCRM
        try:
            value = mapping.decode_value(mapping.FIELDS_BY_KEY[key], item.values, fields)
        except (AmoCRMMappingError, ValueError, TypeError, AttributeError) as e:
            errors[key] = str(e)[:200]
            continue
        if value is None or value == "" and key != Key.WISHES:
            errors[key] = "empty in amoCRM: kept the site's value"
            continue
        if key == Key.ACCOUNT_SUM and value < 0:
            errors[key] = f"negative sum {value}"
            continue
        values[key] = value
    if Key.ACCOUNT_SUM not in values and Key.ACCOUNT_SUM not in errors and change.price is not None:
        # No exact sum field: the lead's budget, whole roubles.
        values[Key.ACCOUNT_SUM] = Decimal(change.price).quantize(Decimal("0.01"))
    if change.action == "status" and change.status_id is not None:
        status = settings.AMOCRM_STATUS_MAP.get(change.status_id)
        if status is not None and status not in Profile.AccountStatus.values:
            errors[Key.ACCOUNT_STATUS] = f"AMOCRM_STATUS_MAP maps {change.status_id} to unknown {status!r}"
        elif status is not None:
            values[Key.ACCOUNT_STATUS] = status
    return values, errors


def lead_unlink(sync: LeadSync) -> None:
    """The lead was deleted in amoCRM: forget it; the next profile change or a resync makes a new one."""
    logger.info("amocrm.lead_unlinked lead_id=%s profile_id=%s", sync.lead_id, sync.profile_id)
    sync.mark_unlinked()
    sync.save()


def webhook_subscribe(*, client: AmoCRMClient | None = None, dry_run: bool = False) -> bool:
    """Register our endpoint for the lead events; False when amoCRM already has it as wanted."""
    if not settings.AMOCRM_WEBHOOK_SECRET:
        raise AmoCRMNotConfigured("AMOCRM_WEBHOOK_SECRET is not set")
    client = client or client_get()
    destination = webhook_url()
    hooks = [h for h in client.webhooks_list(destination) if h.get("destination") == destination]
    if any(set(h.get("settings") or []) >= set(WEBHOOK_EVENTS) and not h.get("disabled") for h in hooks):
        return False
    if not dry_run:
        client.webhook_subscribe(destination, WEBHOOK_EVENTS)
        logger.info("amocrm.webhook_subscribed events=%s", len(WEBHOOK_EVENTS))
    return True
