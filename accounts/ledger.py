"""The ledger: the one way a customer's account sum changes (an entry plus the new sum, together)."""

import logging
from decimal import Decimal

from django.db import transaction

from accounts.models import Delivery, Invoice, LedgerEntry, Profile

logger = logging.getLogger(__name__)


class InsufficientBalance(Exception):
    """A debit larger than the account sum: the sum never goes below zero."""

    def __init__(self, *, profile: Profile, balance: Decimal, amount: Decimal) -> None:
        super().__init__(f"profile {profile.pk}: balance {balance}, debit {-amount}")
        self.profile, self.balance, self.amount = profile, balance, amount


@transaction.atomic
def ledger_post(
    *,
    profile: Profile,
    amount: Decimal,
    reason: str,
    note: str = "",
    delivery: Delivery | None = None,
    invoice: Invoice | None = None,
    also_save: list[str] | tuple[str, ...] = (),
) -> LedgerEntry:
    """The one way the account sum changes: an entry plus the new sum, under a row lock, in one transaction.

    A debit the sum cannot cover raises `InsufficientBalance` and changes nothing. `also_save` names
    other fields changed on `profile` to save in the same save. The caller, which knows the whole
    change and who made it, tells of it (`history.event_send`) once.
    """
    amount = Decimal(amount).quantize(Decimal("0.01"))
    balance = Profile.objects.select_for_update().values_list("account_sum", flat=True).get(pk=profile.pk)
    if balance + amount < 0:
        raise InsufficientBalance(profile=profile, balance=balance, amount=amount)
    profile.account_sum = balance + amount
    profile.save(update_fields=["account_sum", *also_save, "updated_at"])
    entry = LedgerEntry.objects.create(
        profile=profile,
        amount=amount,
        reason=reason,
        note=note[: LedgerEntry._meta.get_field("note").max_length],
        delivery=delivery,
        invoice=invoice,
    )
    logger.info(
        "accounts.ledger_posted profile_id=%s entry_id=%s reason=%s amount=%s",
        profile.pk,
        entry.pk,
        reason,
        amount,
    )
    return entry
