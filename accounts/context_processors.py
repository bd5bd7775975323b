from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts import analytics, legal


def analytics_context(request: HttpRequest) -> dict[str, Any]:
    """GTM (container id and pending dataLayer events) once the visitor accepted cookies; the cookie
    notice while they have not answered; nothing at all when GTM is off.

    The events are a callable, so they leave the session only when a page really renders them, not
    when some other template (allauth's message texts) is rendered with the request's context.
    """
    if not analytics.is_enabled():
        return {}
    context: dict[str, Any] = {"analytics_available": True}
    if analytics.is_tracking(request):
        context["gtm_container_id"] = settings.GTM_CONTAINER_ID
        context["datalayer_events"] = partial(analytics.events_pop, request)
    elif analytics.consent_of(request) is None:
        context["cookie_notice"] = True
    return context


def legal_context(request: HttpRequest) -> dict[str, Any]:
    """The operator of personal data, for every page's footer."""
    return {"operator": legal.operator()}
