"""The connection to amoCRM: is it on, OAuth (connect, single-flight refresh, key rotation), and the
configured client with its token source and the deployment-wide rate limiter.

amoCRM refresh tokens are single-use: two workers refreshing at once would leave one of them holding
a revoked token and break the integration until staff reconnect. `token_refresh` therefore takes
the token row with `select_for_update`, re-reads it, and refreshes only if the access token is still
the one the caller saw fail (or expire); everyone who waited on the lock uses the new token.
(SQLite has no row locks; production runs PostgreSQL.)
"""

import datetime
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction

from amocrm.client import AmoCRMClient, StaticTokenSource, TokenSource
from amocrm.exceptions import AmoCRMError, AmoCRMNotConfigured, AmoCRMUnavailable
from amocrm.models import OAuthToken
from amocrm.ratelimit import DatabaseRateLimiter, NoRateLimiter

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
    return AmoCRMClient(base_url=_base_url(), tokens=tokens, limiter=limiter, **kwargs)
