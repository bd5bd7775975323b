"""amoCRM writes that touch our database: tokens (connect, single-flight refresh) and the field setup.

amoCRM refresh tokens are single-use: two workers refreshing at once would leave one of them holding
a revoked token and break the integration until staff reconnect. `token_refresh` therefore takes
the token row with `select_for_update`, re-reads it, and refreshes only if the access token is still
the one the caller saw fail (or expire); everyone who waited on the lock uses the new token.
(SQLite has no row locks; production runs PostgreSQL.)
"""

import datetime
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction

from accounts.models import BouquetCategory, Profile
from amocrm import mapping
from amocrm.client import AmoCRMClient, StaticTokenSource, TokenSource
from amocrm.exceptions import AmoCRMError, AmoCRMMappingError, AmoCRMNotConfigured, AmoCRMUnavailable
from amocrm.models import CustomField, CustomFieldEnum, OAuthToken
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
