"""The "skip this one" link in a reminder email: signed for one delivery on one date, good until that
delivery's skip cut-off, usable without logging in.

The token is Django's `signing.dumps` of {delivery id, date} with a salt of its own, so it can do
nothing but this (no other signed value of the site passes for it) and a moved delivery's old link
no longer matches. It ends with the delivery's own skip cut-off (`Delivery.skip_deadline`, the one
the account page follows), so editing the link cannot extend it and a later change of
DELIVERY_SKIP_CUTOFF_DAYS applies to links already sent.

A link works once: the delivery stores the date whose link was used (`skip_link_used_date`), so
after an un-skip on the account page the email's link does not skip again. The link's own address
only hands the token to the session and redirects to a token-free page (`SESSION_KEY`): no page
that renders, and no tag manager on it, ever sees the token in its address.
"""

import datetime
import enum

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions
from accounts.models import Delivery

SALT = "accounts.skip_links.delivery_skip"
# Where the link's token waits for the token-free confirmation page.
SESSION_KEY = "skip_link_token"


class Problem(enum.StrEnum):
    INVALID = "invalid"  # tampered, truncated, or not one of ours
    EXPIRED = "expired"  # past the cut-off, or the delivery has moved since
    USED = "used"  # already skipped (by this link or on the account page)
    GONE = "gone"  # not scheduled any more (cancelled, delivered, deleted)


class LinkError(Exception):
    def __init__(self, problem: Problem, delivery: Delivery | None = None) -> None:
        super().__init__(problem)
        self.problem, self.delivery = problem, delivery


def skip_url(delivery: Delivery) -> str:
    """The absolute link for an email."""
    token = signing.dumps({"d": delivery.pk, "on": delivery.delivery_on.isoformat()}, salt=SALT)
    return settings.SITE_URL + reverse("accounts:delivery_skip_link", args=[token])


def delivery_for(token: str, *, now: datetime.datetime | None = None) -> Delivery:
    """The delivery a link is for, while it may still be skipped through it; else `LinkError` says why."""
    now = now or timezone.now()
    try:
        data = signing.loads(token, salt=SALT)
        delivery_id, on = int(data["d"]), datetime.date.fromisoformat(data["on"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise LinkError(Problem.INVALID) from None
    delivery = (
        Delivery.objects.select_related("profile__user", "bouquet_category").filter(pk=delivery_id).first()
    )
    if delivery is None:
        raise LinkError(Problem.GONE)
    if delivery.skip_link_used_date == on or (
        delivery.status == Delivery.Status.SKIPPED and delivery.delivery_on == on
    ):
        raise LinkError(Problem.USED, delivery)
    today = timezone.localdate(now)
    if delivery.delivery_on != on or today > delivery.skip_deadline():
        raise LinkError(Problem.EXPIRED, delivery)
    if not delivery.can_skip(today=today):
        raise LinkError(Problem.GONE, delivery)
    return delivery


@transaction.atomic
def delivery_skip_by_link(*, token: str, now: datetime.datetime | None = None) -> Delivery:
    """Skip the link's delivery and spend the link (`LinkError`, or `DeliveryError` when the delivery
    changed between the check and the lock)."""
    delivery = delivery_for(token, now=now)
    delivery = delivery_actions.delivery_skip(
        profile=delivery.profile, delivery_id=delivery.pk, today=timezone.localdate(now)
    )
    delivery.skip_link_used_date = delivery.delivery_on
    delivery.save(update_fields=["skip_link_used_date", "updated_at"])
    return delivery
