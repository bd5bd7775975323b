"""Where a subscription stands, as the short line of steps on the account page.

Derived from the profile alone (its status, and what awaits payment): signed up → paid →
deliveries going on, with the last step reading "paused" or "closed" when that is where it stands.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from accounts.models import Profile


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # "done", "current" (where the subscription is now) or "todo"


def steps(*, profile: Profile, awaiting_sum: Decimal) -> list[Step]:
    """The three steps; exactly one of them is current."""
    is_paid = awaiting_sum <= 0
    status = profile.account_status
    if status == Profile.AccountStatus.CLOSED:
        last = _("subscription closed")
    elif status == Profile.AccountStatus.PAUSED:
        last = _("paused")
    else:
        last = _("deliveries under way")
    return [
        Step(str(_("request received")), "done"),
        # While an invoice awaits, the step says so: "paid" lit up as the current step reads as done.
        Step(str(_("paid")), "done") if is_paid else Step(str(_("awaiting payment")), "current"),
        Step(str(last), "current" if is_paid else "todo"),
    ]
