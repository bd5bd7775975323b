"""What happened to a subscription, for whoever keeps its history (another app may record it).

`subscription_event` is sent by accounts.services inside the transaction of the change, after the
change is saved: a receiver that records something records it in the same transaction, so the
history is never lost nor written for a change that was rolled back. Arguments: `profile`,
`action` (an Action) and `details`, JSON-ready (dates as ISO strings, money as strings, choices as
their Russian labels), never a password or a token.
"""

import enum

from django.dispatch import Signal

subscription_event = Signal()


class Action(enum.StrEnum):
    SIGNED_UP = "signed_up"  # category, interval, first_date, sum
    PREFERENCES_CHANGED = "preferences_changed"  # changes: {field label: [old, new]}
    DELIVERY_SKIPPED = "delivery_skipped"  # date
    DELIVERY_UNSKIPPED = "delivery_unskipped"  # date
    DELIVERY_MOVED = "delivery_moved"  # date (from), to
    PAUSED = "paused"  # until (None: until resumed)
    RESUMED = "resumed"  # next (None: nothing planned)
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an action, not a password
    DELIVERY_COMPLETED = "delivery_completed"  # by staff: date, amount
    BALANCE_CORRECTED = "balance_corrected"  # by staff: amount, balance
    PAYMENT_RECEIVED = "payment_received"  # confirmed by staff: amount, balance
