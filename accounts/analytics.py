"""Google Tag Manager events without inline JavaScript, and only after the visitor accepts cookies.

Views record events in the session; the next page renders them as a JSON data block
(`<script type="application/json" id="datalayer-events">`, which browsers never execute, so CSP
has nothing to allow) and static/js/datalayer.js pushes them onto `window.dataLayer`. With no
`GTM_CONTAINER_ID` nothing is recorded and nothing is rendered.

Consent: a visitor answers the cookie notice with a plain form post (no script); the answer is a
cookie (`CONSENT_COOKIE`), and GTM and its events exist only while it says "accepted". Pages with a
token in their address (a skip link, a password reset link) never load GTM: the address would leave
the site in the tag manager's page view.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SESSION_KEY = "datalayer_events"
CONSENT_COOKIE = "analytics_consent"
ACCEPTED, REJECTED = "accepted", "rejected"
CONSENT_MAX_AGE = 60 * 60 * 24 * 365  # the answer is asked again after a year
# Views whose address carries a secret token.
TOKEN_PAGES = {"accounts:delivery_skip_link", "password_reset_confirm"}


def is_enabled() -> bool:
    return bool(settings.GTM_CONTAINER_ID)


def consent_of(request: HttpRequest) -> str | None:
    """ "accepted", "rejected", or None when the visitor has not answered yet."""
    answer = request.COOKIES.get(CONSENT_COOKIE)
    return answer if answer in (ACCEPTED, REJECTED) else None


def consent_remember(response: HttpResponse, *, accepted: bool) -> None:
    response.set_cookie(
        CONSENT_COOKIE,
        ACCEPTED if accepted else REJECTED,
        max_age=CONSENT_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def is_tracking(request: HttpRequest) -> bool:
    """GTM runs on this page: configured, accepted, and no token in the address."""
    match = getattr(request, "resolver_match", None)
    on_token_page = match is not None and match.view_name in TOKEN_PAGES
    return is_enabled() and consent_of(request) == ACCEPTED and not on_token_page


def event_push(request: HttpRequest, event: str, **data: Any) -> None:
    """Queue one dataLayer event (`{"event": event, **data}`) for the next page the customer sees."""
    if not is_enabled() or consent_of(request) != ACCEPTED:
        return
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), {"event": event, **data}]


def events_pop(request: HttpRequest) -> list[dict[str, Any]]:
    """The queued events, once: a reload does not push them again."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return []
    return session.pop(SESSION_KEY)
