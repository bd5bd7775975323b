"""Invoices and confirmed payments: the balance holds only money somebody confirmed was paid.

Signup issues the first invoice (the sum the customer chose); nothing reaches the balance until a
payment for it is confirmed, by staff in the admin or by the manager in the CRM (another app calls
`invoice_pay`). A payment is one ledger entry linked one-to-one to its invoice, so a webhook and a
staff click for the same payment post it once: the invoice row is locked, a paid one is returned as
it is, and the database refuses a second entry for it even if that check were bypassed.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import history, notices
from accounts.ledger import ledger_post
from accounts.models import Invoice, LedgerEntry, Profile
from accounts.signals import Action, Origin

logger = logging.getLogger(__name__)


class PaymentError(Exception):
    """A payment the invoice's state or the amount does not allow; the message is for staff."""


def invoice_issue(*, profile: Profile, amount: Decimal) -> Invoice:
    """Ask the customer to pay `amount`; the balance does not change."""
    invoice = Invoice.objects.create(profile=profile, amount=Decimal(amount).quantize(Decimal("0.01")))
    logger.info("accounts.invoice_issued profile_id=%s invoice_id=%s", profile.pk, invoice.pk)
    return invoice


@transaction.atomic
def invoice_pay(
    *, invoice: Invoice, amount: Decimal | None = None, source: str, confirmed_by: str = ""
) -> tuple[Invoice, bool]:
    """Confirm the payment of an invoice: one ledger entry for the amount received (the invoice's
    own amount when not given). (invoice, True) when paid now; (invoice, False) when it already was:
    a second confirmation changes nothing. A cancelled invoice or an amount ≤ 0 raises PaymentError."""
    # The profile first, then the invoice: the order every writer of a profile takes (the CRM
    # webhook locks the profile, then pays), so a staff click and a webhook never deadlock.
    Profile.objects.select_for_update().only("pk").get(pk=invoice.profile_id)
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("profile").get(pk=invoice.pk)
    if invoice.status == Invoice.Status.PAID:
        return invoice, False
    if invoice.status != Invoice.Status.AWAITING:
        raise PaymentError(gettext("Only an invoice awaiting payment can be paid."))
    received = Decimal(invoice.amount if amount is None else amount).quantize(Decimal("0.01"))
    if received <= 0:
        raise PaymentError(gettext("The amount received must be more than zero."))
    invoice.status = Invoice.Status.PAID
    invoice.source = source
    invoice.confirmed_by = confirmed_by[: Invoice._meta.get_field("confirmed_by").max_length]
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["status", "source", "confirmed_by", "paid_at"])
    ledger_post(profile=invoice.profile, amount=received, reason=LedgerEntry.Reason.PAYMENT, invoice=invoice)
    paid = ["account_sum", "invoices"]
    notices.payment_received_send(profile=invoice.profile, amount=received)
    if source == Invoice.Source.CRM:
        history.event_send(invoice.profile, fields=paid, origin=Origin.CRM)  # the manager's own: no note
    else:
        # Managers learn of a payment they did not confirm themselves.
        history.event_send(
            invoice.profile,
            Action.PAYMENT_RECEIVED,
            fields=paid,
            origin=Origin.STAFF,
            amount=str(received),
            balance=str(invoice.profile.account_sum),
        )
    logger.info(
        "accounts.invoice_paid profile_id=%s invoice_id=%s source=%s amount=%s",
        invoice.profile_id,
        invoice.pk,
        source,
        received,
    )
    return invoice, True


def awaiting_invoice(*, profile: Profile) -> Invoice | None:
    """The oldest invoice of the profile still awaiting payment: the one a payment pays first."""
    return profile.invoices.filter(status=Invoice.Status.AWAITING).order_by("created_at", "pk").first()
