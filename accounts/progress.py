"""Where a subscription stands, as the short line of steps on the account page.

Derived from `Profile.subscription_status` and `Profile.is_paid` (the owner of the status, which the
badge and the lead's status field read too): signed up → paid → deliveries going on, with the last
step reading "paused" or "closed" when that is where it stands.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from accounts.models import Profile


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # "done", "current" (where the subscription is now) or "todo"


LAST_STEP = {
    Profile.AccountStatus.CLOSED: _("subscription closed"),
    Profile.AccountStatus.PAUSED: _("paused"),
}


def steps(*, profile: Profile) -> list[Step]:
    """The three steps; exactly one of them is current."""
    is_paid = profile.is_paid
    last = LAST_STEP.get(profile.subscription_status, _("deliveries under way"))
    return [
        Step(str(_("request received")), "done"),
        # While an invoice awaits, the step says so: "paid" lit up as the current step reads as done.
        Step(str(_("paid")), "done") if is_paid else Step(str(_("awaiting payment")), "current"),
        Step(str(last), "current" if is_paid else "todo"),
    ]
