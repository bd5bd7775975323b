"""What changed in a subscription, for whoever mirrors it or keeps its history (another app may).

`profile_changed` is the one event: the services of accounts that change what a mirror of the
profile holds send it themselves (`history.event_send`), inside the transaction of the change,
after the change is saved. A receiver that records something records it in the same transaction,
so nothing is lost nor written for a change that was rolled back. No model signal stands in for it
and no save is made only to be noticed. Arguments:

- `profile`;
- `fields`: what changed, by name: a Profile field (`wishes`, `account_sum`, …), or `deliveries`
  (the schedule: the next delivery moved), `invoices` (one issued or paid), `email` (the login);
  empty for an event that changed nothing a mirror holds (a reset link asked for);
- `origin`: who changed it (an Origin): a change that came from the CRM is already there;
- `action` (an Action, or None for a change with nothing to tell) and `details`, JSON-ready (dates
  as ISO strings, money as strings, choices as their Russian labels), never a password or a token.
"""

import enum

from django.db import models
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _

profile_changed = Signal()


class Origin(enum.StrEnum):
    SITE = "site"  # the customer on the site, or the site itself (a reward, the daily roll)
    STAFF = "staff"  # staff in the admin
    CRM = "crm"  # a manager in the CRM: the CRM holds it already


class Action(models.TextChoices):
    """What happened: the code is stored and sent, the label is what staff read. The comments say
    what `details` holds."""

    SIGNED_UP = "signed_up", _("signed up")  # category, interval, first_date, sum
    PREFERENCES_CHANGED = "preferences_changed", _("preferences changed")  # changes: {label: [old, new]}
    DELIVERY_SKIPPED = "delivery_skipped", _("delivery skipped")  # date
    DELIVERY_UNSKIPPED = "delivery_unskipped", _("skip undone")  # date
    DELIVERY_MOVED = "delivery_moved", _("delivery moved")  # date (from), to
    PAUSED = "paused", _("subscription paused")  # until (None: until resumed)
    RESUMED = "resumed", _("subscription resumed")  # next (None: nothing planned)
    # last (the last delivery still coming, past the cut-off; None: none)
    CLOSED = "closed", _("subscription closed")
    REOPENED = "reopened", _("subscription reopened")  # next (None: nothing planned)
    PASSWORD_RESET_REQUESTED = "password_reset_requested", _("password reset requested")  # noqa: S105
    DELIVERY_COMPLETED = "delivery_completed", _("delivery completed")  # by staff: date, amount
    BALANCE_CORRECTED = "balance_corrected", _("balance corrected")  # by staff: amount, balance
    PAYMENT_RECEIVED = "payment_received", _("payment received")  # confirmed by staff: amount, balance
    # text: the customer wrote to their manager (a note and a task)
    MANAGER_MESSAGE = "manager_message", _("message to the manager")
    # by staff on the deliveries sheet: date, to
    DELIVERY_MOVED_BY_STAFF = "delivery_moved_by_staff", _("delivery moved by staff")
    # Kept for the customer's history only (accounts.notices), never sent: the change was told already.
    # date (the next one before), to
    DELIVERY_MOVED_BY_MANAGER = "delivery_moved_by_manager", _("delivery moved by the manager")
    DELIVERY_CANCELLED_BY_MANAGER = "delivery_cancelled_by_manager", _("delivery cancelled by the manager")

    @classmethod
    def label_of(cls, code: str) -> str:
        """A stored code's label; a code no longer listed, as it is."""
        return str(cls(code).label) if code in cls.values else code
