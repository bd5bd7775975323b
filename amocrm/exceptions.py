"""What the amoCRM client raises: one type per way a call can fail, so callers branch on type.

Each class says whether it is worth retrying later (`transient`); the outbox reads that and nothing
else. Permanent (`AmoCRMValidationError`, `AmoCRMNotFound`, `AmoCRMMappingError`): retrying sends the
same refused request, so the row fails for staff to look at. Everything else is transient: amoCRM
trouble (`AmoCRMUnavailable`, `AmoCRMRateLimited`, an unexpected answer), and states that heal without
touching the row: a reconnect (`AmoCRMAuthError`, `AmoCRMNotConfigured`), a paid plan
(`AmoCRMPaymentRequired`) or a lifted block (`AmoCRMForbidden`).
Whether an error stops every process calling amoCRM (the breaker) is `opens_breaker`, read by the
breaker and the outbox: a blocked account or a lapsed plan does; a call the connected user may not
make (`AmoCRMRightsRefused`, a JSON 403 naming rights or scope) fails that call only.
Messages carry status codes, paths and amoCRM's error codes, never tokens or request bodies.
"""

from dataclasses import dataclass
from typing import Any


class AmoCRMError(Exception):
    """Any failure talking to amoCRM; an unexpected answer (invalid JSON, an odd status) is retried."""

    transient = True
    opens_breaker = False

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.path = path
        # Results of the chunks of a batch call that had succeeded before this one failed.
        self.completed: list[dict[str, Any]] = []

    @property
    def may_have_acted(self) -> bool:
        """amoCRM may have carried out the request (a POST sent again could act twice)."""
        return False

    def __str__(self) -> str:
        where = " ".join(p for p in (f"status={self.status}" if self.status else "", self.path or "") if p)
        return f"{self.message} ({where})" if where else self.message


class AmoCRMNotConfigured(AmoCRMError):
    """The integration is off or not connected: there is nothing to call."""


class AmoCRMAuthError(AmoCRMError):
    """401, or amoCRM refused to issue tokens (revoked refresh token, bad code)."""


class AmoCRMRevoked(AmoCRMAuthError):
    """amoCRM refused the refresh token: the integration was switched off (uninstalled) or the pair
    was lost. Nothing is sent until staff reconnect; queued work waits untouched until `retry_at`
    (a reconnect sends it at once), with no attempt counted."""

    def __init__(self, message: str, *, retry_at: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class AmoCRMPaymentRequired(AmoCRMError):
    """402: the account's paid plan has lapsed."""

    opens_breaker = True


class AmoCRMForbidden(AmoCRMError):
    """403: the account or our IP is blocked (an HTML page, or JSON naming no rights or scope)."""

    opens_breaker = True


class AmoCRMRightsRefused(AmoCRMError):
    """403 with JSON naming rights or scope ("Insufficient rights to call this method", "Invalid
    scope"): the connected amoCRM user may not make this call (webhook subscription and field set-up
    are admin-only). Only this call fails; the account is not blocked, so the breaker stays closed."""

    transient = False
    opens_breaker = False
    # What a command that needs an admin (field set-up, webhook subscription) tells the operator.
    ADMIN_NEEDED = (
        "the connected amoCRM user lacks admin rights: reconnect amoCRM as an account admin "
        "(or make the connected user one), then run this again"
    )


class AmoCRMNotFound(AmoCRMError):
    """404: a wrong path or entity."""

    transient = False


class AmoCRMRateLimited(AmoCRMError):
    """429: over the rate limit; `retry_after` seconds is amoCRM's hint when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AmoCRMUnavailable(AmoCRMError):
    """5xx, timeout or connection failure: amoCRM trouble, worth retrying later.

    `never_sent` is True when no connection was made, so amoCRM cannot have acted on the request.
    """

    def __init__(self, message: str, *, never_sent: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.never_sent = never_sent

    @property
    def may_have_acted(self) -> bool:
        # A timeout, a 500 or a 504 may come after amoCRM did the work; a 503 or no connection not.
        return not self.never_sent and self.status != 503


@dataclass(frozen=True)
class ValidationErrorItem:
    """One of amoCRM's validation errors. It names its batch item by `request_id` (the item's index,
    or the request_id we sent) in `validation-errors`, or by the entity's id (`entity_id`) in the
    other 400 shape, `{"errors": {"<id>": "<message>"}}`."""

    request_id: str
    code: str
    path: str
    detail: str
    entity_id: str = ""


class AmoCRMValidationError(AmoCRMError):
    """400: amoCRM rejected the request; `errors` keep its field paths. Never retried."""

    transient = False

    def __init__(
        self, message: str, *, errors: list[ValidationErrorItem] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors or []

    @property
    def paths(self) -> list[str]:
        return [error.path for error in self.errors]

    @property
    def request_ids(self) -> set[str]:
        return {error.request_id for error in self.errors if error.request_id}

    @property
    def entity_ids(self) -> set[int]:
        return {int(error.entity_id) for error in self.errors if error.entity_id.isdigit()}

    def __str__(self) -> str:
        base = super().__str__()
        if not self.errors:
            return base
        listed = "; ".join(
            f"[{e.request_id}] {e.path}: {e.code}" if not e.entity_id else f"[{e.entity_id}] {e.detail[:200]}"
            for e in self.errors[:10]
        )
        return f"{base}: {listed}"


class AmoCRMRedirected(AmoCRMError):
    """3xx: amoCRM's API never redirects, and following one would send our token or client secret
    (in the body of a 307) to whatever host it names. Not followed, and not worth retrying."""

    transient = False


class AmoCRMMappingError(AmoCRMError):
    """A value cannot be put into or read out of amoCRM's fields (e.g. a category with no enum yet)."""

    transient = False


class AmoCRMLeadTaken(AmoCRMError):
    """amoCRM answered with a lead that is already another customer's: duplicate control merged a
    signup into it. Never linked twice: staff look, then a resync makes the customer's own lead."""

    transient = False


class AmoCRMCircuitOpen(AmoCRMError):
    """Not called at all: the deployment-wide breaker is open (amoCRM blocked us, the plan lapsed, or
    it keeps failing). Queued work waits untouched until `retry_at`; nothing counts as an attempt."""

    def __init__(self, message: str, *, retry_at: Any, reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at
        self.reason = reason
