"""The admin index's amoCRM panel (the control room's first half) and the breaker banner: staff see
at once whether amoCRM is connected and called, and how many customers' changes wait or failed.
Only to staff who may see some of the CRM app's rows, where its figures lead."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils import timezone

from amocrm.models import LeadSync, WebhookEvent
from amocrm.services.connection import user_may_connect
from amocrm.services.control_room import WEBHOOK_FAILURES_WINDOW, control_room

register = template.Library()


def _changelist(model: str, **filters: str) -> str:
    url = reverse(f"admin:amocrm_{model}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


@register.inclusion_tag("amocrm/control_room.html", takes_context=True)
def amocrm_control_room(context: template.Context) -> dict:
    request = context.get("request")
    if request is None or not request.user.has_module_perms("amocrm"):
        return {}
    now = timezone.now()
    since = (now - WEBHOOK_FAILURES_WINDOW).isoformat(timespec="seconds")
    return {
        "room": control_room(now=now),
        # The connect button only for those who may connect (superusers, amocrm.connect_amocrm).
        "may_connect": user_may_connect(request.user),
        "now": now,
        "urls": {
            "connect": reverse("amocrm:oauth_start"),
            "account": _changelist("amocrmaccount"),
            "token": _changelist("oauthtoken"),
            "breaker": _changelist("circuitbreaker"),
            "reconcile": _changelist("reconcilecursor"),
            "webhooks": _changelist("webhookevent"),
            "webhooks_failed": _changelist(
                "webhookevent", status__exact=WebhookEvent.Status.FAILED, received_at__gte=since
            ),
            "pending": _changelist("leadsync", status__exact=LeadSync.Status.PENDING),
            "failed": _changelist("leadsync", status__exact=LeadSync.Status.FAILED),
        },
    }
