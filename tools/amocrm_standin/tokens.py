"""OAuth state: the integration (client id, secret, redirect URI), authorization codes, access and
refresh tokens. Codes and refresh tokens are single-use, as amoCRM's are; no HTTP here.
"""

import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from tools.amocrm_standin.constants import (
    ACCESS_LIFETIME,
    CODE_LIFETIME,
    HIDDEN,
    LONG_LIVED_LIFETIME,
    REFRESH_LIFETIME,
)
from tools.amocrm_standin.validation import ControlError

# amoCRM's own answer to a revoked refresh token (amocrm-api-php issues 123 and 315).
OAUTH_PROBLEM = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
OAUTH_INVALID = "В запросе отсутствует ряд параметров или параметры невалидны"


class OAuthError(Exception):
    """The token endpoint's refusal: amoCRM answers it as a problem with a `hint`."""

    def __init__(
        self,
        status: int,
        hint: str,
        title: str = "Некорректный запрос",
        *,
        detail: str = "Incorrect request",
        problem_type: str | None = None,
    ) -> None:
        super().__init__(hint)
        self.status, self.hint, self.title = status, hint, title
        self.detail, self.problem_type = detail, problem_type


class Tokens:
    """The integration and every token it was given; `reset()` forgets the tokens, restores the defaults."""

    def __init__(
        self, *, lock: threading.RLock, client_id: str, client_secret: str, redirect_uri: str
    ) -> None:
        self.lock = lock
        self._defaults = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
        }
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.integration = dict(self._defaults)
            self.codes: dict[str, float] = {}
            self.access_tokens: dict[str, float] = {}
            self.refresh_tokens: dict[str, float] = {}
            self.uninstalled = False

    def is_valid(self, access_token: str) -> bool:
        with self.lock:
            expires_at = self.access_tokens.get(access_token)
        return expires_at is not None and expires_at > time.time()

    def is_live_refresh(self, refresh_token: str) -> bool:
        with self.lock:
            expires_at = self.refresh_tokens.get(refresh_token)
        return expires_at is not None and expires_at > time.time()

    def grant(self, data: Any) -> dict[str, Any]:
        """/oauth2/access_token: a code or a refresh token (used up) for a new pair, or `OAuthError`."""
        if not isinstance(data, dict):
            raise OAuthError(400, "The body must be a JSON object")
        for key in ("client_id", "client_secret", "grant_type", "redirect_uri"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise OAuthError(400, f"Check the `{key}` parameter")
        with self.lock:
            if data["client_id"] != self.integration["client_id"]:
                raise OAuthError(400, "Client not found", title="Invalid client")
            if not secrets.compare_digest(data["client_secret"], self.integration["client_secret"]):
                raise OAuthError(401, "Client authentication failed", title="Invalid client")
            if data["redirect_uri"] != self.integration["redirect_uri"]:
                raise OAuthError(400, "Check the `redirect_uri` parameter")
            now = time.time()
            if data["grant_type"] == "authorization_code":
                code = data.get("code")
                expires_at = self.codes.pop(code, None) if isinstance(code, str) else None
                if expires_at is None or expires_at <= now:
                    raise OAuthError(400, "Authorization code has been revoked")
                self.uninstalled = False  # installed again by the admin's consent
            elif data["grant_type"] == "refresh_token":
                refresh = data.get("refresh_token")
                expires_at = self.refresh_tokens.pop(refresh, None) if isinstance(refresh, str) else None
                if expires_at is None and self.uninstalled:
                    raise OAuthError(
                        401, "Token has been revoked", detail=OAUTH_INVALID, problem_type=OAUTH_PROBLEM
                    )
                if expires_at is None or expires_at <= now:
                    raise OAuthError(400, "Token has been revoked")
            else:
                raise OAuthError(400, "The authorization grant type is not supported")
            access = f"standin-access.{secrets.token_urlsafe(24)}"
            refresh = f"standin-refresh.{secrets.token_urlsafe(32)}"
            self.access_tokens[access] = now + ACCESS_LIFETIME
            self.refresh_tokens[refresh] = now + REFRESH_LIFETIME
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_LIFETIME,
            "access_token": access,
            "refresh_token": refresh,
        }

    # -- what the control API does ------------------------------------------------------------

    def integration_shown(self) -> dict[str, str]:
        with self.lock:
            return {**self.integration, "client_secret": HIDDEN}

    def configure_integration(self, **data: Any) -> dict[str, Any]:
        unknown = set(data) - {"client_id", "client_secret", "redirect_uri"}
        if unknown or not all(isinstance(v, str) and v for v in data.values()):
            raise ControlError("send client_id, client_secret, redirect_uri as non-empty strings")
        with self.lock:
            self.integration.update(data)
            return self.integration_shown()

    def create_code(self, base_url: str) -> dict[str, Any]:
        """A single-use authorization code, as amoCRM hands it to the redirect URI (~20 minutes)."""
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = time.time() + CODE_LIFETIME
            query = urlencode(
                {
                    "code": code,
                    "referer": urlsplit(base_url).netloc,
                    "client_id": self.integration["client_id"],
                }
            )
            return {
                "code": code,
                "expires_in": CODE_LIFETIME,
                "redirect": f"{self.integration['redirect_uri']}?{query}",
            }

    def issue_long_lived(self, token: str | None = None) -> str:
        token = token or f"standin-long-lived.{secrets.token_urlsafe(24)}"
        with self.lock:
            self.access_tokens[token] = time.time() + LONG_LIVED_LIFETIME
        return token

    def uninstall(self) -> dict[str, int]:
        """The account's admin switched the integration off: every token is revoked at once, and
        only a new consent (a code) brings it back."""
        with self.lock:
            revoked = {"access_tokens": len(self.access_tokens), "refresh_tokens": len(self.refresh_tokens)}
            self.access_tokens, self.refresh_tokens = {}, {}
            self.uninstalled = True
            return revoked

    def expire(self, *, refresh: bool = False) -> dict[str, int]:
        """Every access token (and with `refresh`, every refresh token) stops working now."""
        with self.lock:
            expired = {"access_tokens": len(self.access_tokens), "refresh_tokens": 0}
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)
            if refresh:
                expired["refresh_tokens"] = len(self.refresh_tokens)
                self.refresh_tokens = dict.fromkeys(self.refresh_tokens, 0.0)
            return expired
