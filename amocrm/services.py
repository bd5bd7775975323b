"""amoCRM writes that touch our database: tokens (connect, single-flight refresh), the field setup,
and the lead sync (profile → lead, see the "lead sync" section below).

amoCRM refresh tokens are single-use: two workers refreshing at once would leave one of them holding
a revoked token and break the integration until staff reconnect. `token_refresh` therefore takes
the token row with `select_for_update`, re-reads it, and refreshes only if the access token is still
the one the caller saw fail (or expire); everyone who waited on the lock uses the new token.
(SQLite has no row locks; production runs PostgreSQL.)
"""

import datetime
import hashlib
import json
import logging
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import BouquetCategory, Profile
from amocrm import mapping, webhooks
from amocrm.client import AmoCRMClient, StaticTokenSource, TokenSource, chunks
from amocrm.exceptions import (
    AmoCRMAuthError,
    AmoCRMError,
    AmoCRMForbidden,
    AmoCRMMappingError,
    AmoCRMNotConfigured,
    AmoCRMNotFound,
    AmoCRMPaymentRequired,
    AmoCRMRateLimited,
    AmoCRMUnavailable,
    AmoCRMValidationError,
)
from amocrm.models import CustomField, CustomFieldEnum, LeadSync, OAuthToken, WebhookEvent
from amocrm.ratelimit import NoRateLimiter

logger = logging.getLogger(__name__)

# A token this close to its expiry is refreshed before use rather than after a 401.
REFRESH_AHEAD = datetime.timedelta(minutes=5)
DEFAULT_EXPIRES_IN = 86400  # amoCRM access tokens live 24 h


def is_enabled() -> bool:
    """On when a base URL and either OAuth credentials or a long-lived token are set."""
    return bool(
        settings.AMOCRM_BASE_URL
        and (
            (settings.AMOCRM_CLIENT_ID and settings.AMOCRM_CLIENT_SECRET) or settings.AMOCRM_LONG_LIVED_TOKEN
        )
    )


def is_oauth_configured() -> bool:
    return bool(
        settings.AMOCRM_BASE_URL
        and settings.AMOCRM_CLIENT_ID
        and settings.AMOCRM_CLIENT_SECRET
        and settings.AMOCRM_REDIRECT_URI
    )


def _require_oauth() -> None:
    if not is_oauth_configured():
        raise AmoCRMNotConfigured(
            "amoCRM OAuth is not configured: set AMOCRM_BASE_URL, AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET "
            "and AMOCRM_REDIRECT_URI"
        )


def _base_url() -> str:
    return settings.AMOCRM_BASE_URL.rstrip("/")


def oauth_client() -> AmoCRMClient:
    """A client for the token endpoint only (no bearer token, no rate-limit slot)."""
    return AmoCRMClient(base_url=_base_url(), tokens=None, limiter=NoRateLimiter())


def oauth_authorize_url(*, state: str) -> str:
    query = urlencode({"client_id": settings.AMOCRM_CLIENT_ID, "state": state, "mode": "post_message"})
    return f"{settings.AMOCRM_AUTHORIZE_URL}?{query}"


def oauth_new_state() -> str:
    return secrets.token_urlsafe(32)


def _oauth_request(client: AmoCRMClient | None, **data: str) -> dict[str, Any]:
    body = {
        "client_id": settings.AMOCRM_CLIENT_ID,
        "client_secret": settings.AMOCRM_CLIENT_SECRET,
        "redirect_uri": settings.AMOCRM_REDIRECT_URI,
        **data,
    }
    payload = (client or oauth_client()).token_request(body)
    if not payload.get("refresh_token"):
        raise AmoCRMError("amoCRM's token answer has no refresh token", path="/oauth2/access_token")
    return payload


def _expires_in(payload: dict[str, Any]) -> int:
    try:
        return int(payload.get("expires_in") or DEFAULT_EXPIRES_IN)
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN


def oauth_connect(*, code: str, client: AmoCRMClient | None = None) -> OAuthToken:
    """Exchange an authorization code for tokens and store them (a reconnect replaces the old pair)."""
    _require_oauth()
    payload = _oauth_request(client, grant_type="authorization_code", code=code.strip())
    with transaction.atomic():
        token = OAuthToken.objects.select_for_update().filter(base_url=_base_url()).first()
        token = token or OAuthToken(base_url=_base_url())
        token.set_tokens(
            access_token=payload["access_token"],
            refresh_token=payload["refresh_token"],
            expires_in=_expires_in(payload),
        )
        token.save()
    logger.info("amocrm.connected token_id=%s expires_at=%s", token.pk, token.expires_at.isoformat())
    return token


def token_refresh(
    *,
    stale_access_token: str | None = None,
    margin: datetime.timedelta = datetime.timedelta(0),
    force: bool = False,
    client: AmoCRMClient | None = None,
) -> tuple[OAuthToken, bool]:
    """Refresh under a row lock so concurrent workers never reuse a refresh token.

    With `stale_access_token`, refresh only if it is still the stored one (it failed or is expiring);
    otherwise refresh when the token expires within `margin`, or always with `force`.
    Returns the current token and whether this call refreshed it.
    """
    _require_oauth()
    with transaction.atomic():
        token = OAuthToken.objects.select_for_update().filter(base_url=_base_url()).first()
        if token is None:
            raise AmoCRMNotConfigured(
                "amoCRM is not connected: open /amocrm/oauth/start/ as staff or run manage.py amocrm_connect"
            )
        if stale_access_token is not None:
            needed = secrets.compare_digest(token.access_token, stale_access_token)
        else:
            needed = force or token.expires_within(margin)
        if not needed:
            return token, False
        try:
            payload = _oauth_request(client, grant_type="refresh_token", refresh_token=token.refresh_token)
        except AmoCRMError as e:
            logger.warning("amocrm.token_refresh_failed token_id=%s status=%s", token.pk, e.status)
            raise
        token.set_tokens(
            access_token=payload["access_token"],
            refresh_token=payload["refresh_token"],
            expires_in=_expires_in(payload),
        )
        token.save()
    logger.info("amocrm.token_refreshed token_id=%s expires_at=%s", token.pk, token.expires_at.isoformat())
    return token, True


def token_rotate_keys() -> int:
    """Re-encrypt every stored token with the first of AMOCRM_TOKEN_KEYS; the number of rows."""
    count = 0
    with transaction.atomic():
        for token in OAuthToken.objects.select_for_update():
            token.reencrypt()
            token.save(update_fields=["access_token_encrypted", "refresh_token_encrypted", "updated_at"])
            count += 1
    return count


class DatabaseTokenSource:
    """OAuth tokens from the database: refreshed ahead of expiry, and once after a 401."""

    def __init__(self, *, refresh_ahead: datetime.timedelta = REFRESH_AHEAD) -> None:
        self.refresh_ahead = refresh_ahead

    def __repr__(self) -> str:
        return "<DatabaseTokenSource>"

    def access_token(self) -> str:
        token = OAuthToken.objects.filter(base_url=_base_url()).first()
        if token is None:
            raise AmoCRMNotConfigured(
                "amoCRM is not connected: open /amocrm/oauth/start/ as staff or run manage.py amocrm_connect"
            )
        current = token.access_token
        if token.expires_within(self.refresh_ahead):
            try:
                token, _ = token_refresh(stale_access_token=current)
            except AmoCRMUnavailable:
                if token.is_expired():
                    raise
                # amoCRM's token endpoint is down but the token still works for a few minutes.
                logger.warning("amocrm.token_refresh_deferred token_id=%s", token.pk)
                return current
            current = token.access_token
        return current

    def refresh(self, *, stale_access_token: str) -> str:
        token, _ = token_refresh(stale_access_token=stale_access_token)
        return token.access_token


def client_get(**kwargs: Any) -> AmoCRMClient:
    """The configured client: the long-lived token when one is set, else the stored OAuth tokens."""
    if not is_enabled():
        raise AmoCRMNotConfigured(
            "the amoCRM integration is off: AMOCRM_BASE_URL and credentials are not set"
        )
    tokens: TokenSource
    if settings.AMOCRM_LONG_LIVED_TOKEN:
        tokens = StaticTokenSource(settings.AMOCRM_LONG_LIVED_TOKEN)
    else:
        tokens = DatabaseTokenSource()
    return AmoCRMClient(base_url=_base_url(), tokens=tokens, **kwargs)


# -- custom fields ---------------------------------------------------------------------------


def field_map_load() -> mapping.FieldMap:
    """The field and enum ids stored by the last setup run, for mapping.profile_to_custom_fields."""
    fields = list(CustomField.objects.prefetch_related("enums"))
    return mapping.FieldMap(
        field_ids={f.key: f.field_id for f in fields},
        enum_ids={f.key: {e.key: e.enum_id for e in f.enums.all()} for f in fields if f.enums.all()},
    )


def desired_enums(key: str) -> list[tuple[str, str]]:
    """(site value, enum text) a select field must offer."""
    if key == CustomField.Key.BOUQUET_CATEGORY:
        return [(c.slug, c.name) for c in BouquetCategory.objects.filter(is_active=True)]
    if key == CustomField.Key.DELIVERY_INTERVAL:
        return mapping.choice_enums(Profile.DeliveryInterval)
    if key == CustomField.Key.ACCOUNT_STATUS:
        return mapping.choice_enums(Profile.AccountStatus)
    return []


@dataclass
class SetupReport:
    lines: list[str] = field(default_factory=list)
    fields_created: int = 0
    fields_updated: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.fields_created or self.fields_updated)


def _find_remote(
    spec: mapping.FieldSpec, remote: list[dict[str, Any]], stored: CustomField | None
) -> dict[str, Any] | None:
    """Our field in the account: by the id we stored, then by code, then by name (of the right type)."""
    if stored is not None:
        found = next((f for f in remote if f.get("id") == stored.field_id), None)
        if found:
            return found
    found = next((f for f in remote if f.get("code") == spec.code), None)
    if found:
        return found
    return next((f for f in remote if f.get("name") == spec.name and f.get("type") == spec.type), None)


def _match_enums(
    desired: list[tuple[str, str]], remote_enums: list[dict[str, Any]], stored_ids: dict[str, int]
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]], dict[int, str]]:
    """Pair our values with existing enums (stored id first, then text): matched, missing, renames."""
    by_id = {e["id"]: e for e in remote_enums}
    matched: dict[str, dict[str, Any]] = {}
    missing: list[tuple[str, str]] = []
    renames: dict[int, str] = {}
    used: set[int] = set()
    for key, label in desired:
        enum = by_id.get(stored_ids.get(key, -1))
        if enum is None or enum["id"] in used:
            enum = next((e for e in remote_enums if e.get("value") == label and e["id"] not in used), None)
        if enum is None:
            missing.append((key, label))
            continue
        used.add(enum["id"])
        matched[key] = enum
        if enum.get("value") != label:
            renames[enum["id"]] = label  # e.g. a category renamed in the admin
    return matched, missing, renames


def _store_field(
    spec: mapping.FieldSpec, remote: dict[str, Any], enum_ids: dict[str, dict[str, Any]]
) -> None:
    with transaction.atomic():
        CustomField.objects.filter(field_id=remote["id"]).exclude(key=spec.key).delete()
        stored, _ = CustomField.objects.update_or_create(
            key=spec.key,
            defaults={
                "field_id": remote["id"],
                "field_type": remote.get("type") or spec.type,
                "code": remote.get("code") or "",
                "name": remote.get("name") or spec.name,
            },
        )
        live_ids = {e["id"] for e in remote.get("enums") or []}
        # Enums amoCRM no longer has are stale; enums of inactive categories stay (profiles may use them).
        stored.enums.exclude(enum_id__in=live_ids).delete()
        for key, enum in enum_ids.items():
            stored.enums.filter(enum_id=enum["id"]).exclude(key=key).delete()
            CustomFieldEnum.objects.update_or_create(
                field=stored, key=key, defaults={"enum_id": enum["id"], "value": enum.get("value") or ""}
            )


def _field_create(
    client: AmoCRMClient, spec: mapping.FieldSpec, desired: list[tuple[str, str]]
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": spec.name, "type": spec.type, "code": spec.code, "sort": spec.sort}
    if desired:
        body["enums"] = [{"value": label, "sort": (i + 1) * 10} for i, (_, label) in enumerate(desired)]
    created = client.custom_fields_create([body])
    if not created or not created[0].get("id"):
        raise AmoCRMError(f"amoCRM did not return the new field «{spec.name}»")
    remote = created[0]
    if desired and not remote.get("enums"):
        remote = client.custom_field_get(remote["id"])
    return remote


def _enums_update(
    client: AmoCRMClient,
    field_id: int,
    remote_enums: list[dict[str, Any]],
    missing: list[tuple[str, str]],
    renames: dict[int, str],
) -> dict[str, Any]:
    """PATCH the enum list: every existing enum with its id (kept), renamed ones, then the new ones."""
    top = max((e.get("sort") or 0 for e in remote_enums), default=0)
    enums = [
        {"id": e["id"], "value": renames.get(e["id"], e.get("value")), "sort": e.get("sort") or 0}
        for e in remote_enums
    ] + [{"value": label, "sort": top + (i + 1) * 10} for i, (_, label) in enumerate(missing)]
    remote = client.custom_field_update(field_id, {"enums": enums})
    if not remote.get("enums"):
        remote = client.custom_field_get(field_id)
    return remote


def fields_setup(*, client: AmoCRMClient, dry_run: bool = False) -> SetupReport:
    """Make the account's lead fields match mapping.FIELDS and store their ids; a second run changes nothing.

    Enums are only ever added or renamed: a PATCH replaces the whole list, so existing enums are sent
    back with their ids (an enum left out would be deleted with the value it holds on every lead).
    """
    report = SetupReport()
    remote_fields = client.custom_fields_list("leads")
    stored_fields = {f.key: f for f in CustomField.objects.prefetch_related("enums")}
    for spec in mapping.FIELDS:
        stored = stored_fields.get(spec.key)
        desired = desired_enums(spec.key) if spec.type == "select" else []
        remote = _find_remote(spec, remote_fields, stored)
        if remote is None:
            report.fields_created += 1
            labels = ", ".join(label for _, label in desired)
            report.lines.append(f"create «{spec.name}» ({spec.type}{': ' + labels if labels else ''})")
            if dry_run:
                continue
            remote = _field_create(client, spec, desired)
            remote_fields.append(remote)
        elif remote.get("type") != spec.type:
            raise AmoCRMMappingError(
                f"amoCRM field «{remote.get('name')}» ({remote.get('id')}) is of type "
                f"{remote.get('type')}, not {spec.type}"
            )
        else:
            report.lines.append(f"found «{spec.name}» ({remote['id']})")
        matched: dict[str, dict[str, Any]] = {}
        if desired:
            stored_ids = {}
            if stored is not None and stored.field_id == remote["id"]:
                stored_ids = {e.key: e.enum_id for e in stored.enums.all()}
            remote_enums = list(remote.get("enums") or [])
            matched, missing, renames = _match_enums(desired, remote_enums, stored_ids)
            if missing or renames:
                report.fields_updated += 1
                parts = [f"add {', '.join(label for _, label in missing)}"] if missing else []
                parts += [f"rename enum {enum_id} to {label}" for enum_id, label in renames.items()]
                report.lines.append(f"update «{spec.name}» ({remote['id']}): {'; '.join(parts)}")
                if dry_run:
                    continue
                remote = _enums_update(client, remote["id"], remote_enums, missing, renames)
                matched, missing, _ = _match_enums(desired, list(remote.get("enums") or []), stored_ids)
                if missing:
                    raise AmoCRMMappingError(f"amoCRM did not add the enums of «{spec.name}»")
        if not dry_run:
            _store_field(spec, remote, matched)
    logger.info(
        "amocrm.fields_setup dry_run=%s created=%s updated=%s",
        dry_run,
        report.fields_created,
        report.fields_updated,
    )
    return report


# -- lead sync ---------------------------------------------------------------------------------
#
# A profile save marks its LeadSync row pending (lead_sync_mark_pending, same transaction) and
# amocrm.signals enqueues amocrm.tasks.sync_profile after commit. lead_sync_profiles is the one
# engine behind every task, bulk or single:
#   1. claim: in a short transaction, take the rows (select_for_update) and set a lease, so two
#      workers never sync one profile at once; no transaction is held open during HTTP;
#   2. read the profiles as they are now (ten quick edits → the first run sends the latest values,
#      the others find nothing changed and send nothing);
#   3. leads we know: PATCH only what differs from `synced_values`, 50 leads a request;
#      a create that was started and never recorded: look the lead up by referral code first;
#      new leads: find the contact by email, commit `create_started_at`, then one leads/complex
#      call per 50 leads (the existing contact by id, else a new one);
#   4. record each outcome; a save that happened meanwhile leaves the row pending for a rerun.
# Transient failures (5xx, timeouts, 429, 402/403, auth) back off exponentially up to an hour and
# retry without end; permanent ones (400, a lead deleted in amoCRM, fields not set up) mark the row
# failed with amoCRM's message, for staff (admin, amocrm_resync --failed).

SYNC_LEASE = datetime.timedelta(minutes=5)  # longer than the client's own bounded retries of a batch
RETRY_BASE = datetime.timedelta(seconds=30)
RETRY_CAP = datetime.timedelta(hours=1)
SYNC_TASK_SIZE = 250  # profiles per bulk task: 5 batches of 50, well inside the lease
TRANSIENT_ERRORS = (
    AmoCRMUnavailable,
    AmoCRMRateLimited,
    AmoCRMAuthError,  # after the client's own refresh; heals when staff reconnect
    AmoCRMNotConfigured,  # credentials set but no token stored yet
    AmoCRMForbidden,  # blocked for a while: back off long
    AmoCRMPaymentRequired,  # heals when the plan is paid
)


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


def _is_transient(error: AmoCRMError) -> bool:
    # An unexpected answer (invalid JSON, an odd status) is retried too: the delay caps at an hour.
    return isinstance(error, TRANSIENT_ERRORS) or type(error) is AmoCRMError


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
            elif job.error is not None and _is_transient(job.error):
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


def lead_sync_enqueue(*, profile_ids: Sequence[int], full: bool = False) -> int:
    """Mark the profiles pending and queue bulk sync tasks (250 profiles each); the number of tasks.

    Every profile is marked pending right away, so the admin shows what is queued.
    """
    from amocrm import tasks  # tasks import this module

    ids = sorted(set(profile_ids))
    now = timezone.now()
    LeadSync.objects.filter(profile_id__in=ids).exclude(status=LeadSync.Status.PENDING).update(
        status=LeadSync.Status.PENDING, attempts=0, pending_since=now, next_attempt_at=now
    )
    count = 0
    for chunk in chunks(ids, SYNC_TASK_SIZE):
        tasks.sync_profiles.enqueue(profile_ids=chunk, full=full)
        count += 1
    logger.info("amocrm.lead_sync_enqueued profiles=%s tasks=%s full=%s", len(ids), count, full)
    return count


# -- webhooks (amoCRM → site) --------------------------------------------------------------------
#
# The view checks the secret and the account, then webhook_receive stores one WebhookEvent per lead
# item (duplicates dropped by their dedupe key) and a task runs webhook_events_apply after commit.
# Rules, for staff in the README too:
#   * a lead we do not know (no LeadSync with its id) is ignored;
#   * an event older than one already applied to the same lead changes nothing;
#   * a field counts as changed in amoCRM only when it differs from the value we last sent
#     (`synced_values`): our own updates echoed back change nothing;
#   * the account sum and status always follow amoCRM; the preferences (category, address, delivery
#     date, interval, wishes) only when the amoCRM change is newer than the profile's `updated_at`
#     (the last change made on the site; applying a webhook leaves it alone);
#   * a bad value is recorded on the event for its field, the other fields still apply;
#   * the values applied are written into `synced_values`, so the sync the profile save queues finds
#     nothing to send;
#   * `leads[status]` maps the pipeline stage through AMOCRM_STATUS_MAP (unmapped: no change);
#   * `leads[delete]` unlinks the profile (LeadSync UNLINKED, no lead id); its next change or a
#     resync creates a new lead.

WEBHOOK_EVENTS = ("add_lead", "update_lead", "status_lead", "delete_lead")
# Field keys a webhook may change, by owner; email and referral link belong to the site.
CRM_OWNED_KEYS = (CustomField.Key.ACCOUNT_SUM, CustomField.Key.ACCOUNT_STATUS)
PREFERENCE_KEYS = (
    CustomField.Key.BOUQUET_CATEGORY,
    CustomField.Key.DELIVERY_ADDRESS,
    CustomField.Key.DELIVERY_DATE,
    CustomField.Key.DELIVERY_INTERVAL,
    CustomField.Key.WISHES,
)
# Where each key lands on the profile (the delivery date re-anchors `first_delivery_date`).
PROFILE_FIELDS = {
    CustomField.Key.ACCOUNT_SUM: "account_sum",
    CustomField.Key.ACCOUNT_STATUS: "account_status",
    CustomField.Key.BOUQUET_CATEGORY: "bouquet_category",
    CustomField.Key.DELIVERY_ADDRESS: "delivery_address",
    CustomField.Key.DELIVERY_INTERVAL: "delivery_interval",
    CustomField.Key.WISHES: "wishes",
}


def webhook_url(*, secret: str | None = None) -> str:
    from django.urls import reverse

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
    """Store each lead item of a parsed body once; the ids of the new events, queued for the worker."""
    from amocrm import tasks  # tasks import this module

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
        if new_ids:
            transaction.on_commit(partial(tasks.webhook_apply.enqueue, event_ids=new_ids), robust=True)
    logger.info("amocrm.webhook_received items=%s new=%s duplicates=%s", len(rows), len(new_ids), len(known))
    return new_ids


def webhook_events_reprocess(*, event_ids: Sequence[int]) -> int:
    """Queue events again (admin action): back to received, applied by the worker as if new."""
    from amocrm import tasks

    ids = list(
        WebhookEvent.objects.filter(pk__in=event_ids, lead_id__isnull=False).values_list("pk", flat=True)
    )
    WebhookEvent.objects.filter(pk__in=ids).update(
        status=WebhookEvent.Status.RECEIVED, error="", changes=[], processed_at=None
    )
    if ids:
        transaction.on_commit(partial(tasks.webhook_apply.enqueue, event_ids=ids), robust=True)
    return len(ids)


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
        _lead_unlink(sync)
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
    crm, errors = _webhook_values(event, fields)
    synced = dict(sync.synced_values or {})
    current = mapping.profile_values(profile)
    site_is_older = profile.updated_at < event.modified_at
    price = webhooks.parse_int(event.payload.get("price"))
    sum_from_price = CustomField.Key.ACCOUNT_SUM in crm and not _has_field(
        event, fields, CustomField.Key.ACCOUNT_SUM
    )

    def crm_changed(key: str) -> bool:
        # Our own update echoed back equals what we last sent: it is not a change made in amoCRM.
        if key == CustomField.Key.ACCOUNT_SUM and sum_from_price:
            return price != synced.get("price")
        return mapping.field_value(mapping.FIELDS_BY_KEY[key], crm[key], fields) != synced.get(key)

    data: dict[str, Any] = {}
    next_delivery_date = None
    for key, value in crm.items():
        if value == current[key] or not crm_changed(key):
            continue
        if key in PREFERENCE_KEYS and not site_is_older:
            continue  # the customer changed the profile after the manager did: the site wins
        if key == CustomField.Key.DELIVERY_DATE:
            next_delivery_date = value
        elif key == CustomField.Key.BOUQUET_CATEGORY:
            category = BouquetCategory.objects.filter(slug=value).first()
            if category is None:
                errors[key] = f"no bouquet category {value!r}"
                continue
            data["bouquet_category"] = category
        else:
            data[PROFILE_FIELDS[key]] = value
    if CustomField.Key.DELIVERY_INTERVAL in data and CustomField.Key.DELIVERY_DATE in crm:
        # A new interval moves the next date; keep the one amoCRM shows.
        next_delivery_date = next_delivery_date or crm[CustomField.Key.DELIVERY_DATE]
    if next_delivery_date is not None and next_delivery_date < timezone.localdate():
        errors[CustomField.Key.DELIVERY_DATE] = f"{next_delivery_date.isoformat()} is in the past"
        next_delivery_date = None
    changed, invalid = accounts_services.profile_apply_staff_changes(
        profile=profile, data=data, next_delivery_date=next_delivery_date
    )
    keys_by_field = {name: key for key, name in PROFILE_FIELDS.items()}
    keys_by_field["first_delivery_date"] = CustomField.Key.DELIVERY_DATE
    errors.update({keys_by_field.get(name, name): message for name, message in invalid.items()})
    # amoCRM now holds these values and so does the profile: the sync the save queued sends nothing.
    sync.refresh_from_db()
    state = mapping.lead_state(profile, fields)
    now_values = mapping.profile_values(profile)
    for key, value in crm.items():
        if value == now_values[key] and not (key == CustomField.Key.ACCOUNT_SUM and sum_from_price):
            synced[key] = state[key]
    if price is not None and price == state["price"]:
        synced["price"] = price
    if synced != sync.synced_values:
        sync.synced_values = synced
        sync.save(update_fields=["synced_values", "updated_at"])
    event.mark(
        WebhookEvent.Status.PROCESSED,
        changes=changed,
        error="\n".join(f"{key}: {message}" for key, message in sorted(errors.items())),
    )


def _webhook_values(event: WebhookEvent, fields: mapping.FieldMap) -> tuple[dict[str, Any], dict[str, str]]:
    """Field key → value amoCRM holds, for the keys a webhook may change; errors by key."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    wanted = (*CRM_OWNED_KEYS, *PREFERENCE_KEYS)
    keys_by_id = {field_id: key for key, field_id in fields.field_ids.items()}
    for item in webhooks.as_list(event.payload.get("custom_fields")):
        if not isinstance(item, dict):
            continue
        key = keys_by_id.get(webhooks.parse_int(item.get("id")))
        if key not in wanted:
            continue  # a field the site does not take from amoCRM
        try:
            value = mapping.webhook_custom_fields_to_values([item], fields)[key]
        except (AmoCRMMappingError, ValueError, TypeError, AttributeError) as e:
            errors[key] = str(e)[:200]
            continue
        if value is None or value == "" and key != CustomField.Key.WISHES:
            errors[key] = "empty in amoCRM: kept the site's value"
            continue
        if key == CustomField.Key.ACCOUNT_SUM and value < 0:
            errors[key] = f"negative sum {value}"
            continue
        values[key] = value
    if CustomField.Key.ACCOUNT_SUM not in values and CustomField.Key.ACCOUNT_SUM not in errors:
        # No exact sum field: the lead's budget, whole roubles.
        price = webhooks.parse_int(event.payload.get("price"))
        if price is not None:
            values[CustomField.Key.ACCOUNT_SUM] = Decimal(price).quantize(Decimal("0.01"))
    if event.action == "status":
        status_id = webhooks.parse_int(event.payload.get("status_id"))
        status = settings.AMOCRM_STATUS_MAP.get(status_id) if status_id is not None else None
        if status is not None and status not in Profile.AccountStatus.values:
            errors[CustomField.Key.ACCOUNT_STATUS] = (
                f"AMOCRM_STATUS_MAP maps {status_id} to unknown {status!r}"
            )
        elif status is not None:
            values[CustomField.Key.ACCOUNT_STATUS] = status
    return values, errors


def _has_field(event: WebhookEvent, fields: mapping.FieldMap, key: str) -> bool:
    field_id = fields.field_ids.get(key)
    return any(
        isinstance(item, dict) and webhooks.parse_int(item.get("id")) == field_id
        for item in webhooks.as_list(event.payload.get("custom_fields"))
    )


def _lead_unlink(sync: LeadSync) -> None:
    """The lead was deleted in amoCRM: forget it; the next profile change or a resync makes a new one."""
    logger.info("amocrm.lead_unlinked lead_id=%s profile_id=%s", sync.lead_id, sync.profile_id)
    sync.last_error = (
        f"The lead {sync.lead_id} was deleted in amoCRM; the next change or a resync creates a new one."
    )
    sync.status = LeadSync.Status.UNLINKED
    sync.lead_id = None
    sync.create_started_at = None
    sync.synced_values = {}
    sync.next_attempt_at = None
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
