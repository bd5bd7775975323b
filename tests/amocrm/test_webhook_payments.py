"""amoCRM confirms payments: a stage mapped to `active`, or a new sum, pays the invoice awaiting it, once."""

import threading
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connections
from django.urls import reverse

from accounts import payments
from accounts.models import Invoice, LedgerEntry, Profile
from amocrm import mapping
from amocrm.models import CustomField, WebhookEvent
from tests.amocrm.conftest import LEAD, link
from tests.amocrm.helpers import body, cf, deliver, later, lead

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]
Key = CustomField.Key


@pytest.fixture
def unpaid(profile_factory, field_map, oauth_token) -> Profile:
    """A customer who signed up for 5 000 ₽ and has not paid; its lead LEAD holds what the site sent."""
    profile = profile_factory(paid=False, wishes="")
    return link(profile, field_map, crm_status_id=60000003)


def payment_entries(profile: Profile) -> list[tuple[Decimal, int]]:
    return [
        (e.amount, e.invoice_id) for e in profile.ledger_entries.filter(reason=LedgerEntry.Reason.PAYMENT)
    ]


def test_the_lead_shows_the_invoiced_sum_before_and_after_payment(unpaid, field_map):
    before = mapping.lead_state(unpaid, field_map)
    payments.invoice_pay(invoice=unpaid.invoices.get(), source="staff")
    unpaid.refresh_from_db()
    after = mapping.lead_state(unpaid, field_map)

    assert before["price"] == after["price"] == 5000
    assert before[Key.ACCOUNT_SUM]["values"] == after[Key.ACCOUNT_SUM]["values"] == [{"value": "5000.00"}]


def test_a_stage_mapped_to_active_confirms_the_invoice_once(client, unpaid):
    invoice = unpaid.invoices.get()

    deliver(client, body(status=[lead(status_id=142, old_status_id=60000003)]))
    deliver(client, body(status=[lead(status_id=142, old_status_id=60000003, at=later(120))]))  # again

    unpaid.refresh_from_db()
    assert (unpaid.account_sum, unpaid.account_status) == (Decimal("5000.00"), "active")
    assert payment_entries(unpaid) == [(Decimal("5000.00"), invoice.pk)]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.source, invoice.confirmed_by) == ("paid", "crm", f"lead {LEAD}")


def test_a_stage_hook_repeated_later_does_not_pay_a_newer_invoice(client, unpaid):
    deliver(client, body(status=[lead(status_id=142, old_status_id=60000003)]))
    newer = payments.invoice_issue(profile=unpaid, amount=Decimal("3000"))

    deliver(client, body(status=[lead(status_id=142, at=later(120))]))  # the lead stays where it was

    newer.refresh_from_db()
    assert newer.status == "awaiting"
    assert len(payment_entries(unpaid)) == 1


def test_a_stage_not_mapped_to_active_confirms_nothing(client, unpaid):
    deliver(client, body(status=[lead(status_id=143, old_status_id=60000003)]))  # closed

    assert unpaid.invoices.get().status == "awaiting"
    assert not LedgerEntry.objects.exists()


def test_a_sum_set_by_the_manager_pays_the_invoice_with_the_difference(client, unpaid):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "4000"))]))  # the customer paid 4 000

    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("4000.00")
    assert payment_entries(unpaid) == [(Decimal("4000.00"), unpaid.invoices.get().pk)]
    assert WebhookEvent.objects.get().changes == ["invoice"]
    assert not LedgerEntry.objects.filter(reason=LedgerEntry.Reason.MANAGER).exists()


def test_our_own_invoiced_sum_echoed_back_confirms_nothing(client, unpaid):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "5000.00"), price="5000")]))

    assert unpaid.invoices.get().status == "awaiting"
    assert not LedgerEntry.objects.exists()


def test_without_an_invoice_awaiting_the_manager_s_sum_is_a_correction_as_before(client, unpaid):
    payments.invoice_pay(invoice=unpaid.invoices.get(), source="staff")

    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"))]))

    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("7500.00")
    assert unpaid.ledger_entries.first().reason == LedgerEntry.Reason.MANAGER


def test_the_webhook_and_a_staff_click_for_one_payment_give_one_entry(client, superuser_client, unpaid):
    invoice = unpaid.invoices.get()
    deliver(client, body(status=[lead(status_id=142, old_status_id=60000003)]))

    response = superuser_client.post(
        reverse("admin:accounts_invoice_pay", args=[invoice.pk]), {"amount": "5000"}
    )

    assert response.status_code == HTTPStatus.FOUND
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("5000.00")
    assert payment_entries(unpaid) == [(Decimal("5000.00"), invoice.pk)]


def test_a_staff_confirmation_is_told_to_managers_in_the_lead_s_history(unpaid, settings):
    from amocrm.models import LeadNote

    settings.AMOCRM_LEAD_NOTES = True
    payments.invoice_pay(invoice=unpaid.invoices.get(), source=Invoice.Source.STAFF, confirmed_by="boss")

    assert "Сотрудник подтвердил оплату в админке сайта: 5\u00a0000,00\u00a0₽" in LeadNote.objects.last().text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_confirmations_racing_post_one_entry(unpaid):
    invoice, start = unpaid.invoices.get(), threading.Barrier(2, timeout=10)
    results, errors = [], []

    def confirm(source: str) -> None:
        try:
            start.wait()
            results.append(payments.invoice_pay(invoice=invoice, source=source)[1])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm, args=(s,)) for s in ("crm", "staff")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [False, True]
    assert payment_entries(unpaid) == [(Decimal("5000.00"), invoice.pk)]


def test_a_confirmation_finding_the_invoice_paid_meanwhile_reports_no_payment(client, unpaid, monkeypatch):
    invoice = unpaid.invoices.get()
    payments.invoice_pay(invoice=invoice, source="staff")
    # Read as awaiting just before a staff click paid it.
    monkeypatch.setattr(payments, "awaiting_invoice", lambda *, profile: invoice)

    deliver(client, body(status=[lead(status_id=142, old_status_id=60000003)]))

    assert "invoice" not in WebhookEvent.objects.get().changes
    assert len(payment_entries(unpaid)) == 1
