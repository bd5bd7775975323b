"""The upcoming deliveries as the account page's cards show them, each value worked out once per page.

The cards are the page's costliest part: a template looks every `delivery.can_skip` up again (and
each asks the clock), formats each date per use, reverses each action's URL and renders each
label naming the day (a `blocktranslate` per label) per row. Here the rules stay the models'
(`Delivery.can_skip`, …); only their answers, the URLs and the labels are kept for the template.
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.messages.storage.base import Message
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext

from accounts.formatting import day_month
from accounts.models import Delivery

# A number no row has: reversed once, it marks where each row's id goes in the path.
_PLACEHOLDER = 2_147_483_647


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Delivery
    # The id as text: a number in a template goes through number localization (~10 µs a use).
    pk: str
    status: str
    status_display: str
    day: str  # "15 декабря"
    iso: str  # "2026-12-15", the <time datetime> and the move form's value
    weekday: str  # "вторник"
    moved: str  # "moved from 1 декабря" (the schedule's day), "" when not moved
    can_skip: bool  # skip, move and the day's courier details
    can_unskip: bool
    has_own_courier_details: bool
    skip_url: str
    unskip_url: str
    move_url: str
    details_url: str
    # The buttons' and the move field's labels name the day: "Skip the delivery on 15 декабря".
    skip_label: str
    unskip_label: str
    move_label: str
    details_label: str
    # What the customer's last action on this delivery came to: the page returns to the card, so
    # the message is shown there, not at the top, out of sight (card_tag).
    notes: tuple[Message, ...] = ()


def card_tag(pk: int) -> str:
    """The extra tag of a message about one delivery: the account page shows it on that card."""
    return f"delivery-{pk}"


def url_for_each(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for many ids with one reverse: the path around a placeholder id."""
    head, _, tail = reverse(name, args=[_PLACEHOLDER]).partition(str(_PLACEHOLDER))
    return lambda pk: f"{head}{pk}{tail}"


def delivery_rows(
    deliveries: list[Delivery], *, today: datetime.date | None = None, messages: Iterable[Message] = ()
) -> tuple[list[DeliveryRow], list[Message]]:
    """The rows, each with its card's messages; and the messages for the top of the page (the
    others, and a card's whose delivery is not shown)."""
    today = today or timezone.localdate()
    urls = {
        action: url_for_each(f"accounts:delivery_{action}")
        for action in ("skip", "unskip", "move", "details")
    }
    # The labels' words, translated once for all the rows.
    labels = {
        "moved": gettext("moved from %(day)s"),
        "skip": gettext("Skip the delivery on %(day)s"),
        "unskip": gettext("Bring back the delivery on %(day)s"),
        "move": gettext("New date for the delivery on %(day)s"),
        "details": gettext("Courier details for the delivery on %(day)s"),
    }
    shown = {card_tag(delivery.pk) for delivery in deliveries}
    messages = list(messages)
    on_cards = [m for m in messages if m.extra_tags in shown]
    rows = [
        _row(
            delivery,
            today=today,
            urls=urls,
            labels=labels,
            notes=tuple(m for m in on_cards if m.extra_tags == card_tag(delivery.pk)),
        )
        for delivery in deliveries
    ]
    # By tag, not `in`: Django's Message equals any other of the same level and text.
    return rows, [m for m in messages if m.extra_tags not in shown]


def _row(
    delivery: Delivery,
    *,
    today: datetime.date,
    urls: dict[str, Callable[[int], str]],
    labels: dict[str, str],
    notes: tuple[Message, ...] = (),
) -> DeliveryRow:
    day = day_month(delivery.delivery_on)
    on_day = {"day": day}
    moved_from = {"day": day_month(delivery.moved_from)} if delivery.is_moved else None
    return DeliveryRow(
        delivery=delivery,
        pk=str(delivery.pk),
        status=delivery.status,
        status_display=delivery.get_status_display(),
        day=day,
        iso=delivery.delivery_on.isoformat(),
        weekday=str(WEEKDAYS[delivery.delivery_on.weekday()]).lower(),
        moved=labels["moved"] % moved_from if moved_from else "",
        can_skip=delivery.can_skip(today=today),
        can_unskip=delivery.can_unskip(today=today),
        has_own_courier_details=delivery.has_own_courier_details,
        skip_url=urls["skip"](delivery.pk),
        unskip_url=urls["unskip"](delivery.pk),
        move_url=urls["move"](delivery.pk),
        details_url=urls["details"](delivery.pk),
        skip_label=labels["skip"] % on_day,
        unskip_label=labels["unskip"] % on_day,
        move_label=labels["move"] % on_day,
        details_label=labels["details"] % on_day,
        notes=notes,
    )
