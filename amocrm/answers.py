"""amoCRM's error answers → our typed errors (amocrm.exceptions), read once for the client: the status,
amoCRM's title/detail/hint, both shapes of a 400 (`validation-errors` by item, or `errors` by entity
id), and Retry-After. Never the request: messages carry no tokens or bodies we sent.
"""

import email.utils
from typing import Any

import requests
from django.utils import timezone

from amocrm.exceptions import (
    AmoCRMAuthError,
    AmoCRMError,
    AmoCRMForbidden,
    AmoCRMNotFound,
    AmoCRMPaymentRequired,
    AmoCRMRateLimited,
    AmoCRMRightsRefused,
    AmoCRMUnavailable,
    AmoCRMValidationError,
    ValidationErrorItem,
)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None  # 403 and 429 may come as HTML or with no body


def _validation_errors(body: Any) -> list[ValidationErrorItem]:
    if not isinstance(body, dict):
        return []
    items = []
    # The other 400 shape names entities by id: {"detail": "Invalid request body", "errors": {"11062353":
    # "Loss reason can be specified only for lost lead"}} (amocrm-api-php issue 88).
    by_id = body.get("errors")
    if isinstance(by_id, dict):
        for entity_id, detail in by_id.items():
            text = detail if isinstance(detail, str) else str(detail)
            items.append(
                ValidationErrorItem(
                    request_id="", code="", path="", detail=text[:500], entity_id=str(entity_id)
                )
            )
    for group in body.get("validation-errors") or []:
        if not isinstance(group, dict):
            continue
        for error in group.get("errors") or []:
            if isinstance(error, dict):
                items.append(
                    ValidationErrorItem(
                        request_id=str(group.get("request_id", "")),
                        code=str(error.get("code", "")),
                        path=str(error.get("path", "")),
                        detail=str(error.get("detail", "")),
                    )
                )
    return items


# What amoCRM's JSON 403 says when the user or the token may not make the call (docs/amocrm-api.md
# §1): "Insufficient rights to call this method", "Invalid scope", "Client doesn't have the required
# scope". A block comes as an HTML page (nginx) or JSON naming neither ("…за нарушение правил" is a
# block: the Russian words are matched whole, not as the stem "прав").
RIGHTS_WORDS = ("rights", "scope", "permission", "недостаточно прав", "нет прав", "прав доступа")


def _names_rights(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    text = " ".join(str(body.get(k) or "") for k in ("detail", "title", "hint")).casefold()
    return any(word in text for word in RIGHTS_WORDS)


def error_for(response: requests.Response, path: str) -> AmoCRMError:
    """The typed error for a non-2xx answer; carries amoCRM's title/detail, never the request."""
    status = response.status_code
    body = _json_or_none(response)
    summary = ""
    if isinstance(body, dict):
        summary = ": ".join(str(body[k]) for k in ("title", "detail", "hint") if body.get(k))
    if status == 400:
        return AmoCRMValidationError(
            f"amoCRM rejected the request{': ' + summary if summary else ''}",
            errors=_validation_errors(body),
            status=status,
            path=path,
        )
    if status == 401:
        return AmoCRMAuthError(
            f"amoCRM refused the credentials{': ' + summary if summary else ''}", status=status, path=path
        )
    if status == 402:
        return AmoCRMPaymentRequired("the amoCRM account's paid plan has lapsed", status=status, path=path)
    if status == 403:
        if _names_rights(body):
            return AmoCRMRightsRefused(
                "the connected amoCRM user lacks the rights for this call (give it them in amoCRM, or "
                f"reconnect amoCRM as a user who has them): {summary}",
                status=status,
                path=path,
            )
        return AmoCRMForbidden("amoCRM blocked the account or this server's IP", status=status, path=path)
    if status == 404:
        return AmoCRMNotFound("amoCRM has no such path or entity", status=status, path=path)
    if status == 429:
        return AmoCRMRateLimited(
            "amoCRM rate limit exceeded",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
            path=path,
        )
    if status >= 500:
        return AmoCRMUnavailable("amoCRM server error", status=status, path=path)
    return AmoCRMError(
        f"unexpected answer from amoCRM{': ' + summary if summary else ''}", status=status, path=path
    )
