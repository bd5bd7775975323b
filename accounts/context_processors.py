from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts import analytics


def analytics_context(request: HttpRequest) -> dict[str, Any]:
    """The GTM container id and the pending dataLayer events; nothing at all when GTM is off.

    The events are a callable, so they leave the session only when a page really renders them, not
    when some other template (allauth's message texts) is rendered with the request's context.
    """
    if not analytics.is_enabled():
        return {}
    return {
        "gtm_container_id": settings.GTM_CONTAINER_ID,
        "datalayer_events": partial(analytics.events_pop, request),
    }
