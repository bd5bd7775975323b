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
What an error means for staff (`staff_problem`, `staff_action`, in their words) is written on its
class too; an outbox row keeps `error.kind` and the admin asks `explain(kind)`.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class StaffExplanation:
    """An error in staff's words: what amoCRM refused, and what to do about it."""

    problem: str
    action: str


class AmoCRMError(Exception):
    """Any failure talking to amoCRM; an unexpected answer (invalid JSON, an odd status) is retried."""

    transient = True
    opens_breaker = False
    staff_problem = _("amoCRM answered in a way the site did not expect.")
    staff_action = _(
        "The site tries again by itself. If the error stays, send amoCRM's answer (below) to the developers."
    )

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

    @property
    def kind(self) -> str:
        """What a row keeps of this error to explain it to staff later (`explain`)."""
        return type(self).__name__

    @classmethod
    def explain_codes(cls, codes: list[str]) -> StaffExplanation:
        """This class's explanation; `codes`: amoCRM's validation codes kept with the kind."""
        return StaffExplanation(str(cls.staff_problem), str(cls.staff_action))


class AmoCRMNotConfigured(AmoCRMError):
    """The integration is off or not connected: there is nothing to call."""

    staff_problem = _("amoCRM is not connected: there was nothing to send to.")
    staff_action = _(
        "Connect amoCRM (the button on the admin's main page); waiting changes then go out by themselves."
    )


class AmoCRMAuthError(AmoCRMError):
    """401, or amoCRM refused to issue tokens (revoked refresh token, bad code)."""

    staff_problem = _("amoCRM did not accept the site's access key (401): it expired or was revoked.")
    staff_action = _(
        "The site renews the key by itself. If the error stays, reconnect amoCRM on the admin's main page."
    )


class AmoCRMRevoked(AmoCRMAuthError):
    """amoCRM refused the refresh token: the integration was switched off (uninstalled) or the pair
    was lost. Nothing is sent until staff reconnect; queued work waits untouched until `retry_at`
    (a reconnect sends it at once), with no attempt counted."""

    staff_problem = _("The integration was switched off in amoCRM: nothing is sent.")
    staff_action = _("Reconnect amoCRM on the admin's main page; waiting changes then go out at once.")

    def __init__(self, message: str, *, retry_at: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class AmoCRMPaymentRequired(AmoCRMError):
    """402: the account's paid plan has lapsed."""

    staff_problem = _("amoCRM refuses every request: the account's paid plan has lapsed (402).")
    staff_action = _("Pay for the amoCRM plan. Changes wait and go out by themselves once it is paid.")

    opens_breaker = True


class AmoCRMForbidden(AmoCRMError):
    """403: the account or our IP is blocked (an HTML page, or JSON naming no rights or scope)."""

    staff_problem = _("amoCRM blocked the account or the site's server (403), usually for too many requests.")
    staff_action = _(
        "Ask amoCRM's support to lift the block. Changes wait and go out by themselves once it is lifted."
    )

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
    staff_problem = _("The amoCRM user the site is connected as may not do this (403: no rights).")
    staff_action = _(
        "Give that user the rights in amoCRM, or reconnect amoCRM as an account admin, then press “Retry”."
    )


class AmoCRMNotFound(AmoCRMError):
    """404: a wrong path or entity."""

    staff_problem = _("amoCRM has no such lead or contact (404): it was deleted, or the address is wrong.")
    staff_action = _(
        "Open the lead in amoCRM. If it was deleted, press “Retry”: the site gives the customer a new "
        "lead. If the error stays, send amoCRM's answer (below) to the developers."
    )

    transient = False


class AmoCRMRateLimited(AmoCRMError):
    """429: over the rate limit; `retry_after` seconds is amoCRM's hint when it gave one."""

    staff_problem = _("amoCRM asked the site to slow down (429: too many requests).")
    staff_action = _("Nothing to do: the site waits and sends again by itself.")

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AmoCRMUnavailable(AmoCRMError):
    """5xx, timeout or connection failure: amoCRM trouble, worth retrying later.

    `never_sent` is True when no connection was made, so amoCRM cannot have acted on the request.
    """

    staff_problem = _(
        "amoCRM was unavailable or did not answer in time (a failure at amoCRM or in the network)."
    )
    staff_action = _("Nothing to do: the site tries again by itself, with growing pauses.")

    def __init__(self, message: str, *, never_sent: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.never_sent = never_sent

    @property
    def may_have_acted(self) -> bool:
        # A timeout, a 500 or a 504 may come after amoCRM did the work; a 503 or no connection not.
        return not self.never_sent and self.status != 503


KIND_KEPT = 100  # LeadSync.error_kind's length

# amoCRM's validation codes (docs/amocrm-api.md §1) in staff's words, with what to do when it is not
# the 400's usual advice. A code not listed here is named as it is.
_SETUP = _(
    "The lists in amoCRM differ from the site's (an option, stage or user was removed or renamed): run "
    "manage.py amocrm_check and manage.py amocrm_setup_fields, then press “Retry”."
)
VALIDATION_CODES: dict[str, tuple[Any, Any]] = {
    "NotSupportedChoice": (_("a value is not one of the choices amoCRM has"), _SETUP),
    "InvalidType": (_("a value is of a type amoCRM does not take"), None),
    "NotBlank": (_("a value amoCRM requires is empty"), None),
    "InvalidLength": (_("a value is too long"), None),
    "InvalidRange": (_("a value is out of the allowed range"), None),
    "TooMany": (_("too many values at once"), None),
    "NotFound": (_("the lead or a record it links to is gone from amoCRM"), None),
    "NotUnique": (_("a value that must be unique is already used in amoCRM"), None),
    "ExtraField": (_("a field amoCRM does not accept"), _SETUP),
}


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

    staff_problem = _("amoCRM refused the values the site sent (400).")
    staff_action = _(
        "Check the customer's data on the profile page (an address too long, an odd phone), correct it "
        "and press “Retry”. If the error stays, send amoCRM's answer (below) to the developers."
    )

    transient = False

    def __init__(
        self, message: str, *, errors: list[ValidationErrorItem] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors or []

    @property
    def kind(self) -> str:
        codes = sorted({error.code for error in self.errors if error.code})
        # Whole codes only, as many as the column keeps: a code cut short would explain nothing.
        while codes and len(f"{super().kind}:{','.join(codes)}") > KIND_KEPT:
            codes.pop()
        return f"{super().kind}:{','.join(codes)}" if codes else super().kind

    @classmethod
    def explain_codes(cls, codes: list[str]) -> StaffExplanation:
        said = [VALIDATION_CODES.get(code, (_("amoCRM's code %(code)s"), None)) for code in codes]
        what = "; ".join(
            str(problem) % {"code": code} for code, (problem, _action) in zip(codes, said, strict=True)
        )
        action = next((action for _problem, action in said if action), cls.staff_action)
        problem = f"{cls.staff_problem} {capfirst(what)}." if what else str(cls.staff_problem)
        return StaffExplanation(problem, str(action))

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

    staff_problem = _("amoCRM answered with a redirect to another address, which the site never follows.")
    staff_action = _("Check AMOCRM_BASE_URL: the account's address may have changed. Then press “Retry”.")

    transient = False


class AmoCRMMappingError(AmoCRMError):
    """A value cannot be put into or read out of amoCRM's fields (e.g. a category with no enum yet)."""

    staff_problem = _(
        "A value has no place in amoCRM's fields yet (e.g. a new bouquet category with no list option)."
    )
    staff_action = _(
        "Run manage.py amocrm_setup_fields to add the missing fields and options, then press “Retry”."
    )

    transient = False


class AmoCRMLeadTaken(AmoCRMError):
    """amoCRM answered with a lead that is already another customer's: duplicate control merged a
    signup into it. Never linked twice: staff look, then a resync makes the customer's own lead."""

    staff_problem = _(
        "amoCRM merged this customer's new lead into another customer's lead (duplicate control)."
    )
    staff_action = _(
        "Check both leads in amoCRM (amoCRM's answer below names them), then press “Retry”: the "
        "customer gets a lead of their own."
    )

    transient = False


class AmoCRMCircuitOpen(AmoCRMError):
    """Not called at all: the deployment-wide breaker is open (amoCRM blocked us, the plan lapsed, or
    it keeps failing). Queued work waits untouched until `retry_at`; nothing counts as an attempt."""

    staff_problem = _(
        "The site is not calling amoCRM for now: the account is blocked, the plan lapsed, or amoCRM "
        "keeps failing."
    )
    staff_action = _(
        "See the banner on the admin's main page. Changes wait and go out by themselves once calls resume."
    )

    def __init__(self, message: str, *, retry_at: Any, reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at
        self.reason = reason


def error_classes(base: type[AmoCRMError] = AmoCRMError) -> dict[str, type[AmoCRMError]]:
    """Every error class by name, found by walking the hierarchy (never listed by hand)."""
    found = {base.__name__: base}
    for sub in base.__subclasses__():
        found.update(error_classes(sub))
    return found


def explain(kind: str) -> StaffExplanation | None:
    """What a kept `AmoCRMError.kind` means for staff; None for a kind no class has (an old row)."""
    name, _sep, codes = kind.partition(":")
    cls = error_classes().get(name)
    return cls.explain_codes([c for c in codes.split(",") if c]) if cls else None
