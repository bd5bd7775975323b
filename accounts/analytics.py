"""Google Tag Manager events without inline JavaScript.

Views record events in the session; the next page renders them as a JSON data block
(`<script type="application/json" id="datalayer-events">`, which browsers never execute, so CSP
has nothing to allow) and static/js/datalayer.js pushes them onto `window.dataLayer`. With no
`GTM_CONTAINER_ID` nothing is recorded and nothing is rendered.
"""

from typing import Any

from django.conf import settings
from django.http import HttpRequest

SESSION_KEY = "datalayer_events"


def is_enabled() -> bool:
    return bool(settings.GTM_CONTAINER_ID)


def event_push(request: HttpRequest, event: str, **data: Any) -> None:
    """Queue one dataLayer event (`{"event": event, **data}`) for the next page the customer sees."""
    if not is_enabled():
        return
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), {"event": event, **data}]


def events_pop(request: HttpRequest) -> list[dict[str, Any]]:
    """The queued events, once: a reload does not push them again."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return []
    return session.pop(SESSION_KEY)
