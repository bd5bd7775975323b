"""The upcoming deliveries as the account page's cards show them, each value worked out once per page.

The cards are the page's costliest part: a template looks every `delivery.can_skip` up again (and
each asks the clock), formats each date per use and reverses each action's URL per row. Here the
rules stay the models' (`Delivery.can_skip`, …); only their answers are kept for the template.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import Delivery

# A number no row has: reversed once, it marks where each row's id goes in the path.
_PLACEHOLDER = 2_147_483_647


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Delivery
    day: str  # "15 декабря"
    iso: str  # "2026-12-15", the <time datetime> and the move form's value
    weekday: str  # "вторник"
    moved_from: str  # the schedule's day it was moved from ("1 декабря"), "" when not moved
    can_skip: bool  # skip, move and the day's courier details
    can_unskip: bool
    has_own_courier_details: bool
    skip_url: str
    unskip_url: str
    move_url: str
    details_url: str


def url_for_each(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for many ids with one reverse: the path around a placeholder id."""
    head, _, tail = reverse(name, args=[_PLACEHOLDER]).partition(str(_PLACEHOLDER))
    return lambda pk: f"{head}{pk}{tail}"


def delivery_rows(deliveries: list[Delivery], *, today: datetime.date | None = None) -> list[DeliveryRow]:
    today = today or timezone.localdate()
    urls = {
        action: url_for_each(f"accounts:delivery_{action}")
        for action in ("skip", "unskip", "move", "details")
    }
    return [
        DeliveryRow(
            delivery=delivery,
            day=formats.date_format(delivery.delivery_on, "j E"),
            iso=formats.date_format(delivery.delivery_on, "Y-m-d"),
            weekday=formats.date_format(delivery.delivery_on, "l").lower(),
            moved_from=formats.date_format(delivery.moved_from, "j E") if delivery.is_moved else "",
            can_skip=delivery.can_skip(today=today),
            can_unskip=delivery.can_unskip(today=today),
            has_own_courier_details=delivery.has_own_courier_details,
            skip_url=urls["skip"](delivery.pk),
            unskip_url=urls["unskip"](delivery.pk),
            move_url=urls["move"](delivery.pk),
            details_url=urls["details"](delivery.pk),
        )
        for delivery in deliveries
    ]
