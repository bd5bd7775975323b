"""The amoCRM half of the admin index (the staff's control room): is the integration on, which
account is connected and until when, is amoCRM being called, do the webhooks arrive, and how many
customers' changes wait or failed. Reads only, a fixed number of queries whatever the table sizes.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from amocrm.models import (
    AmoCRMAccount,
    CircuitBreaker,
    HealthCheck,
    LeadSync,
    OAuthToken,
    ReconcileCursor,
    WebhookEvent,
)
from amocrm.services.account import account_current
from amocrm.services.breaker import breaker_state
from amocrm.services.connection import can_connect, is_enabled
from amocrm.services.health import health_last

WEBHOOK_FAILURES_WINDOW = datetime.timedelta(hours=24)


@dataclass(frozen=True)
class ControlRoom:
    is_enabled: bool  # a base URL and credentials (OAuth or a long-lived token) are set
    uses_long_lived_token: bool  # no OAuth: nothing to connect, nothing expires here
    can_connect: bool  # OAuth is configured, so staff may (re)connect from the browser
    account: AmoCRMAccount | None
    token_expires_at: datetime.datetime | None
    token_is_expired: bool
    token_revoked_at: datetime.datetime | None  # amoCRM refused the refresh token: staff must reconnect
    breaker: CircuitBreaker
    health: HealthCheck | None  # the last `amocrm_check`: what it repaired, what staff must fix
    reconciled_at: datetime.datetime | None  # the last finished run over leads and contacts
    drifts_repaired: int  # in those last runs
    last_webhook_at: datetime.datetime | None
    webhooks_failed: int  # in the last WEBHOOK_FAILURES_WINDOW
    pending: int
    failed: int
    oldest_pending_since: datetime.datetime | None

    @property
    def is_connected(self) -> bool:
        return self.is_enabled and (self.uses_long_lived_token or self.token_expires_at is not None)


def control_room(*, now: datetime.datetime | None = None) -> ControlRoom:
    """Gather the figures in eight queries (indexes: webhook received_at, lead sync status)."""
    now = now or timezone.now()
    token = OAuthToken.objects.order_by("-updated_at").only("expires_at", "revoked_at").first()
    reconcile = ReconcileCursor.objects.aggregate(at=Max("last_finished_at"), drifts=Sum("last_drifts"))
    webhooks_failed = WebhookEvent.objects.filter(
        received_at__gte=now - WEBHOOK_FAILURES_WINDOW, status=WebhookEvent.Status.FAILED
    ).count()
    backlog = LeadSync.objects.filter(status__in=[LeadSync.Status.PENDING, LeadSync.Status.FAILED]).aggregate(
        pending=Count("pk", filter=Q(status=LeadSync.Status.PENDING)),
        failed=Count("pk", filter=Q(status=LeadSync.Status.FAILED)),
        oldest=Min("pending_since", filter=Q(status=LeadSync.Status.PENDING)),
    )
    long_lived = bool(settings.AMOCRM_LONG_LIVED_TOKEN)
    return ControlRoom(
        is_enabled=is_enabled(),
        uses_long_lived_token=long_lived,
        can_connect=can_connect(),
        account=account_current(),
        token_expires_at=token.expires_at if token else None,
        token_is_expired=bool(token and token.is_expired(now=now)),
        token_revoked_at=token.revoked_at if token else None,
        breaker=breaker_state(),
        health=health_last(),
        reconciled_at=reconcile["at"],
        drifts_repaired=reconcile["drifts"] or 0,
        last_webhook_at=WebhookEvent.objects.aggregate(at=Max("received_at"))["at"],
        webhooks_failed=webhooks_failed,
        pending=backlog["pending"],
        failed=backlog["failed"],
        oldest_pending_since=backlog["oldest"],
    )
