"""Emails that tell the customer what changed, each queued in the transaction of the change.

The services that make a change call these themselves (a call, not a signal receiver: each needs
what only its service knows, such as the amount received or the next delivery before a
reschedule), inside their atomic block. Django's mail API writes the email to the outbox in that
same transaction (emails.backends.OutboxBackend), so a change that rolls back sends nothing, and
the worker sends the rest.

Which emails a customer may turn off (docs/notices.md): the transactional ones always go (welcome,
payment received: they are about the customer's money and account); the delivery notices (a
delivery moved or cancelled by a manager or staff, a delivery delivered) follow
`Profile.wants_delivery_notices`, the preferences page's checkbox. A notice that is also a line of
the account history says so: payments and deliveries are ledger lines already, the signup is an
event; a manager's move or cancellation is kept here (`history.event_keep`).
"""

import datetime
from decimal import Decimal

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.utils import timezone, translation

from accounts import history
from accounts.models import Delivery, Invoice, Profile
from accounts.signals import Action, Origin


def _send(name: str, profile: Profile, context: dict) -> None:
    if not profile.user.is_active or not profile.user.email:
        return
    with translation.override(settings.LANGUAGE_CODE):
        # allauth's: the subject prefix, the sender, the text body and the HTML one beside it.
        get_adapter().render_mail(
            f"accounts/email/{name}",
            profile.user.email,
            {**context, "profile": profile, "site_url": settings.SITE_URL},
        ).send()


def welcome_send(*, profile: Profile, invoice: Invoice | None) -> None:
    """After signup: what was chosen, when the first bouquet comes, what to pay."""
    _send("welcome", profile, {"invoice": invoice, "next_on": profile.next_delivery_on()})


def payment_received_send(*, profile: Profile, amount: Decimal) -> None:
    """A payment confirmed (by staff or in the CRM): the amount and the new balance."""
    _send("payment_received", profile, {"amount": amount, "balance": profile.account_sum})


def delivered_send(*, delivery: Delivery) -> None:
    """Staff marked the bouquet delivered (optional)."""
    profile = delivery.profile
    if profile.wants_delivery_notices:
        _send("delivered", profile, {"delivery": delivery, "balance": profile.account_sum})


def next_scheduled_on(profile: Profile) -> datetime.date | None:
    """The next scheduled delivery, read now (never a value loaded with the profile earlier)."""
    row = (
        profile.deliveries.filter(status=Delivery.Status.SCHEDULED, delivery_on__gte=timezone.localdate())
        .order_by("delivery_on")
        .values_list("delivery_on", flat=True)
        .first()
    )
    return row


def next_delivery_changed(*, profile: Profile, before: datetime.date | None, origin: Origin) -> None:
    """A manager (CRM) or staff changed the schedule: when the next delivery is no longer the one
    the customer expected, say so in the history and (optional) by email. The customer's own
    changes are told on the page that made them, not here."""
    if origin == Origin.SITE or before is None:
        return
    after = next_scheduled_on(profile)
    if after == before:
        return
    if after is None:
        action, details = Action.DELIVERY_CANCELLED_BY_MANAGER, {"date": before.isoformat()}
    else:
        action, details = (
            Action.DELIVERY_MOVED_BY_MANAGER,
            {"date": before.isoformat(), "to": after.isoformat()},
        )
    history.event_keep(profile, action, **details)
    if profile.wants_delivery_notices:
        _send("delivery_changed", profile, {"before": before, "after": after})
