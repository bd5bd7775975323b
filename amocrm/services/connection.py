"""The connection to amoCRM: is it on, OAuth (connect, single-flight refresh, key rotation), and the
configured client with its token source, the deployment-wide rate limiter and circuit breaker.

amoCRM refresh tokens are single-use: two workers refreshing at once would leave one of them holding
a revoked token and break the integration until staff reconnect. `token_refresh` therefore takes
the token row with `select_for_update`, re-reads it, and refreshes only if the access token is still
the one the caller saw fail (or expire); everyone who waited on the lock uses the new token.
(SQLite has no row locks; production runs PostgreSQL.)
"""

import base64
import binascii
import datetime
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from amocrm.client import AmoCRMClient, StaticTokenSource, TokenSource
from amocrm.exceptions import (
    AmoCRMAuthError,
    AmoCRMError,
    AmoCRMNotConfigured,
    AmoCRMRevoked,
    AmoCRMUnavailable,
)
from amocrm.hosts import amocrm_host, host_url
from amocrm.models import OAuthToken
from amocrm.ratelimit import DatabaseRateLimiter, NoRateLimiter
from amocrm.services.account import account_current, account_refresh, account_renamed
from amocrm.services.breaker import DatabaseBreaker, breaker_trip

logger = logging.getLogger(__name__)

# How the clients built here wait out a retry's backoff. A seam, not a setting: the unit tests put a
# recorder here (tests/amocrm/conftest.py), so none of them sleeps for real.
backoff_sleep: Callable[[float], None] = time.sleep

# A token this close to its expiry is refreshed before use rather than after a 401.
CONNECT_PERMISSION = "amocrm.connect_amocrm"
REFRESH_AHEAD = datetime.timedelta(minutes=5)
DEFAULT_EXPIRES_IN = 86400  # amoCRM access tokens live 24 h
# After the connection was revoked, queued work looks again this late (a reconnect sends it at once).
REVOKED_RECHECK = datetime.timedelta(hours=1)
RECONNECT = "open /amocrm/oauth/start/ as staff or run manage.py amocrm_connect"


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


def user_may_connect(user: Any) -> bool:
    """Superusers and holders of `amocrm.connect_amocrm` may (re)connect; other staff may not."""
    return bool(user.is_active and user.is_staff and user.has_perm(CONNECT_PERMISSION))


def can_connect() -> bool:
    """Whether staff may (re)connect amoCRM from the browser: OAuth is set up, and no long-lived
    token stands in for it (then there is nothing to connect)."""
    return is_oauth_configured() and not settings.AMOCRM_LONG_LIVED_TOKEN


def _require_oauth() -> None:
    if not is_oauth_configured():
        raise AmoCRMNotConfigured(
            "amoCRM OAuth is not configured: set AMOCRM_BASE_URL, AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET "
            "and AMOCRM_REDIRECT_URI"
        )


def api_base_url() -> str:
    """Where the account's API answers: the address its OAuth tokens belong to (it follows a subdomain
    rename, so a changed AMOCRM_BASE_URL never orphans them), else AMOCRM_BASE_URL."""
    if not settings.AMOCRM_LONG_LIVED_TOKEN:
        stored = OAuthToken.objects.order_by("-updated_at").values_list("base_url", flat=True).first()
        if stored and _is_trusted_base(stored):
            return stored.rstrip("/")
    return settings.AMOCRM_BASE_URL.rstrip("/")


def _is_trusted_base(base_url: str) -> bool:
    """A stored address is used only when it is AMOCRM_BASE_URL or exactly `https://<amoCRM host>`:
    a row written before hosts were parsed (docs/amocrm-api.md §3) may name a foreign host."""
    base = base_url.rstrip("/")
    if base == settings.AMOCRM_BASE_URL.rstrip("/"):
        return True
    host = amocrm_host(base.removeprefix("https://"))
    return host is not None and base == host_url(host)


def _token_row(*, lock: bool = False) -> OAuthToken | None:
    """The connected account's token pair (the site connects one account)."""
    rows = OAuthToken.objects.order_by("-updated_at")
    return (rows.select_for_update() if lock else rows).first()


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of an access token (a JWT), unverified: only read to find the account's api_domain."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _account_moved(token: OAuthToken) -> str | None:
    """The account's new base URL when its subdomain was renamed, else None. Asked as the official
    client asks after a refresh answered 401/404: the `api_domain` host from the access token, with
    the refresh token (docs/amocrm-api.md §3)."""
    api_domain = amocrm_host(_jwt_claims(token.access_token).get("api_domain"))
    if api_domain is None:
        return None  # an old token (no api_domain) or a host that is not amoCRM's: nothing to ask
    try:
        client = AmoCRMClient(base_url=host_url(api_domain), tokens=None, limiter=NoRateLimiter())
        answer = client.account_subdomain(refresh_token=token.refresh_token)
    except AmoCRMError as e:
        logger.warning("amocrm.account_domain_unknown status=%s", e.status)
        return None
    domain = amocrm_host(answer.get("domain"))
    if domain is None:
        logger.warning("amocrm.account_domain_refused token_id=%s", token.pk)
        return None
    moved = host_url(domain)
    if moved == token.base_url.rstrip("/"):
        return None
    account_renamed(subdomain=domain.split(".")[0])
    return moved


def oauth_client(base_url: str | None = None) -> AmoCRMClient:
    """A client for the token endpoint only (no bearer token, no rate-limit slot)."""
    return AmoCRMClient(base_url=base_url or api_base_url(), tokens=None, limiter=NoRateLimiter())


def oauth_account_base(*, referer: str = "") -> str | None:
    """Where a code granted for the account host `referer` (the OAuth callback's parameter) is
    exchanged: AMOCRM_BASE_URL, or the account's current amoCRM host after a subdomain rename
    (learnt from amoCRM, never typed in). None for any other host: nothing is sent there."""
    configured = settings.AMOCRM_BASE_URL.rstrip("/")
    referer = referer.strip().lower()
    parts = urlsplit(configured)
    if not referer or referer in {(parts.hostname or "").lower(), parts.netloc.lower()}:
        return configured
    host = amocrm_host(referer)
    if host is None:
        return None
    known = {urlsplit(api_base_url()).hostname}
    account = account_current()
    configured_domain = (parts.hostname or "").partition(".")[2]
    if account is not None and account.subdomain and configured_domain:
        known.add(f"{account.subdomain.lower()}.{configured_domain}")
    return host_url(host) if host in known else None


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


def _store_tokens(token: OAuthToken, payload: dict[str, Any]) -> None:
    token.set_tokens(
        access_token=payload["access_token"],
        refresh_token=payload["refresh_token"],
        expires_in=_expires_in(payload),
    )
    token.save()


def oauth_connect(
    *, code: str, base_url: str | None = None, client: AmoCRMClient | None = None
) -> OAuthToken:
    """Exchange an authorization code for tokens and store them (a reconnect replaces the old pair).

    The code goes to `base_url` (from `oauth_account_base`), else to AMOCRM_BASE_URL: never to the
    stored address, which an old, poisoned answer may have written."""
    _require_oauth()
    base_url = (base_url or settings.AMOCRM_BASE_URL).rstrip("/")
    payload = _oauth_request(
        client or oauth_client(base_url), grant_type="authorization_code", code=code.strip()
    )
    with transaction.atomic():
        token = _token_row(lock=True) or OAuthToken()
        token.base_url = base_url
        _store_tokens(token, payload)
    logger.info("amocrm.connected token_id=%s expires_at=%s", token.pk, token.expires_at.isoformat())
    account_read()
    return token


def account_read(*, max_age: datetime.timedelta | None = None) -> None:
    """Read the account's own settings (id, subdomain, time zone), unless read within `max_age`; a
    failure only logs: the next run reads them again, and what was read before stands meanwhile."""
    known = account_current()
    if max_age is not None and known is not None and known.checked_at > timezone.now() - max_age:
        return
    try:
        account_refresh(client=client_get(max_retries=0))
    except AmoCRMError as e:
        logger.warning("amocrm.account_read_failed status=%s error=%s", e.status, type(e).__name__)


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
    Returns the current token and whether this call refreshed it. A block or a lapsed plan met here
    opens the breaker, once the token's transaction is over (inside it, it would be rolled back).
    """
    try:
        return _token_refresh(
            stale_access_token=stale_access_token, margin=margin, force=force, client=client
        )
    except AmoCRMRevoked:
        raise
    except AmoCRMAuthError as e:
        # The refresh token was refused (after asking where a renamed account went): it will never
        # work again. Recorded outside the token's transaction, which the error rolled back.
        revoked_at = timezone.now()
        OAuthToken.objects.filter(revoked_at__isnull=True).update(revoked_at=revoked_at)
        logger.warning("amocrm.connection_revoked status=%s", e.status)
        raise _revoked(revoked_at, reason=e.message) from e
    except AmoCRMError as e:
        if e.opens_breaker:
            breaker_trip(e)  # blocked: no process should call amoCRM until a probe says otherwise
        raise


def _revoked(revoked_at: datetime.datetime, *, reason: str = "") -> AmoCRMRevoked:
    return AmoCRMRevoked(
        f"{reason + ' — ' if reason else ''}amoCRM revoked the connection (the integration was "
        f"switched off or reinstalled) at {revoked_at:%Y-%m-%d %H:%M} UTC: nothing is sent until "
        f"staff reconnect ({RECONNECT})",
        retry_at=timezone.now() + REVOKED_RECHECK,
    )


def _token_refresh(
    *,
    stale_access_token: str | None,
    margin: datetime.timedelta,
    force: bool,
    client: AmoCRMClient | None,
) -> tuple[OAuthToken, bool]:
    _require_oauth()
    with transaction.atomic():
        token = _token_row(lock=True)
        if token is None:
            raise AmoCRMNotConfigured(
                "amoCRM is not connected: open /amocrm/oauth/start/ as staff or run manage.py amocrm_connect"
            )
        if token.revoked_at is not None:
            raise _revoked(token.revoked_at)  # its refresh token is dead: sending it again is pointless
        if stale_access_token is not None:
            needed = secrets.compare_digest(token.access_token, stale_access_token)
        else:
            needed = force or token.expires_within(margin)
        if not needed:
            return token, False
        try:
            try:
                payload = _oauth_request(
                    client, grant_type="refresh_token", refresh_token=token.refresh_token
                )
            except AmoCRMAuthError:
                # Refused: the account's subdomain may have been renamed. Ask where it is now and
                # refresh there with the same refresh token, as the official client does.
                moved = _account_moved(token)
                if moved is None:
                    raise
                logger.warning("amocrm.account_moved token_id=%s", token.pk)
                token.base_url = moved
                at_new_host = AmoCRMClient(base_url=moved, tokens=None, limiter=NoRateLimiter())
                payload = _oauth_request(
                    at_new_host, grant_type="refresh_token", refresh_token=token.refresh_token
                )
        except AmoCRMError as e:
            logger.warning("amocrm.token_refresh_failed token_id=%s status=%s", token.pk, e.status)
            raise
        _store_tokens(token, payload)
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
        token = _token_row()
        if token is None:
            raise AmoCRMNotConfigured(
                "amoCRM is not connected: open /amocrm/oauth/start/ as staff or run manage.py amocrm_connect"
            )
        if token.revoked_at is not None:
            raise _revoked(token.revoked_at)  # before sending anything: only a reconnect helps
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
    """The configured client: the long-lived token when one is set, else the stored OAuth tokens,
    behind the deployment-wide rate limiter."""
    if not is_enabled():
        raise AmoCRMNotConfigured(
            "the amoCRM integration is off: AMOCRM_BASE_URL and credentials are not set"
        )
    tokens: TokenSource
    if settings.AMOCRM_LONG_LIVED_TOKEN:
        tokens = StaticTokenSource(settings.AMOCRM_LONG_LIVED_TOKEN)
    else:
        tokens = DatabaseTokenSource()
    # One request rate for every process (amocrm.ratelimit); the client itself knows no database.
    limiter = kwargs.pop("limiter", None) or DatabaseRateLimiter(
        rate=settings.AMOCRM_RATE_LIMIT, sleep=kwargs.get("sleep", time.sleep)
    )
    breaker = kwargs.pop("breaker", None) or DatabaseBreaker()
    kwargs.setdefault("sleep", backoff_sleep)
    return AmoCRMClient(base_url=api_base_url(), tokens=tokens, limiter=limiter, breaker=breaker, **kwargs)
