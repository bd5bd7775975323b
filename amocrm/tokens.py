"""What the client authenticates with: any `TokenSource`, and the long-lived token of a private
integration, which cannot be refreshed (the OAuth pair, refreshed single-flight, is
amocrm.services.connection's). Re-exported by amocrm.client."""

from typing import Protocol

from amocrm.exceptions import AmoCRMAuthError


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def refresh(self, *, stale_access_token: str) -> str:
        """Return a valid access token; refresh only if `stale_access_token` is still the current one."""
        ...


class StaticTokenSource:
    """A long-lived token (private integrations): no refresh; after a 401 staff must paste a new one."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "<StaticTokenSource>"

    def access_token(self) -> str:
        return self._token

    def refresh(self, *, stale_access_token: str) -> str:
        raise AmoCRMAuthError(
            "amoCRM refused the long-lived token: issue a new one and set AMOCRM_LONG_LIVED_TOKEN"
        )
