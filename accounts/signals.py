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

from django.dispatch import Signal

profile_changed = Signal()


class Origin(enum.StrEnum):
    SITE = "site"  # the customer on the site, or the site itself (a reward, the daily roll)
    STAFF = "staff"  # staff in the admin
    CRM = "crm"  # a manager in the CRM: the CRM holds it already


class Action(enum.StrEnum):
    SIGNED_UP = "signed_up"  # category, interval, first_date, sum
    PREFERENCES_CHANGED = "preferences_changed"  # changes: {field label: [old, new]}
    DELIVERY_SKIPPED = "delivery_skipped"  # date
    DELIVERY_UNSKIPPED = "delivery_unskipped"  # date
    DELIVERY_MOVED = "delivery_moved"  # date (from), to
    PAUSED = "paused"  # until (None: until resumed)
    RESUMED = "resumed"  # next (None: nothing planned)
    CLOSED = "closed"  # last (the last delivery still coming, past the cut-off; None: none)
    REOPENED = "reopened"  # next (None: nothing planned)
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an action, not a password
    DELIVERY_COMPLETED = "delivery_completed"  # by staff: date, amount
    BALANCE_CORRECTED = "balance_corrected"  # by staff: amount, balance
    PAYMENT_RECEIVED = "payment_received"  # confirmed by staff: amount, balance
    MANAGER_MESSAGE = "manager_message"  # text: the customer wrote to their manager (a note and a task)
    DELIVERY_MOVED_BY_STAFF = "delivery_moved_by_staff"  # by staff on the deliveries sheet: date, to
    # Kept for the customer's history only (accounts.notices), never sent: the change was told already.
    DELIVERY_MOVED_BY_MANAGER = "delivery_moved_by_manager"  # date (the next one before), to
    DELIVERY_CANCELLED_BY_MANAGER = "delivery_cancelled_by_manager"  # date
