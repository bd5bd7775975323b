"""The balance is money somebody confirmed was paid: signup issues an invoice, a payment tops up once."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from accounts import delivery_actions, ledger, payments
from accounts.models import Invoice, LedgerEntry, Profile
from tests.accounts.helpers import field_errors, input_value, on_its_day, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def unpaid_client(db) -> Client:
    return Client()


@pytest.fixture
def unpaid(unpaid_client, signup_data):
    """A customer just signed up for 5 000 ₽ (logged in on `unpaid_client`), nothing paid yet."""
    unpaid_client.post(reverse("account_signup"), signup_data(account_sum="5000"))
    return Profile.objects.get()


def test_signup_issues_an_invoice_and_leaves_the_balance_at_zero(unpaid):
    assert unpaid.account_sum == Decimal("0.00")
    assert [(i.amount, i.status) for i in unpaid.invoices.all()] == [(Decimal("5000.00"), "awaiting")]
    assert not unpaid.ledger_entries.exists()


def test_the_account_page_shows_the_invoice_awaiting_payment_and_how_to_pay(unpaid_client, unpaid, settings):
    settings.PAYMENT_INSTRUCTIONS = "Менеджер позвонит и пришлёт ссылку на оплату."

    text = page_text(unpaid_client.get("/account/"))

    assert "Счёт на 5 000,00 ₽ ожидает оплаты" in text
    assert "Менеджер позвонит и пришлёт ссылку на оплату." in text
    assert '<p class="balance">0,00 ₽</p>' in text
    assert "Пополнение при регистрации" not in text


def test_a_paid_invoice_leaves_the_page_and_tops_the_balance_up(unpaid_client, unpaid):
    payments.invoice_pay(invoice=unpaid.invoices.get(), source="staff", confirmed_by="boss@example.ru")

    text = page_text(unpaid_client.get("/account/"))

    assert "ожидает оплаты" not in text
    assert '<p class="balance">5 000,00 ₽</p>' in text
    assert "Оплата получена" in text
    assert "+5 000,00 ₽" in text


def test_a_sum_above_the_maximum_is_refused_in_russian_keeping_what_was_typed(client, signup_data, settings):
    settings.SIGNUP_SUM_MAX = Decimal("100000")

    response = client.post(reverse("account_signup"), signup_data(account_sum="99999999,99"))

    assert response.status_code == HTTPStatus.OK
    assert "Сумма может быть не больше 100 000 ₽: для большей суммы напишите нам." in field_errors(
        response, "account_sum"
    )
    assert input_value(response, "account_sum") == "99999999,99"
    assert not Profile.objects.exists()


def test_a_sum_at_the_maximum_is_accepted(client, signup_data, settings):
    settings.SIGNUP_SUM_MAX = Decimal("100000")

    response = client.post(reverse("account_signup"), signup_data(account_sum="100000"))

    assert response.status_code == HTTPStatus.FOUND
    assert Profile.objects.get().invoices.get().amount == Decimal("100000.00")


def test_paying_an_invoice_twice_posts_one_entry(unpaid):
    invoice = unpaid.invoices.get()

    _, first = payments.invoice_pay(invoice=invoice, source="crm", confirmed_by="lead 1")
    _, second = payments.invoice_pay(invoice=invoice, amount=Decimal("4000"), source="staff")

    assert (first, second) == (True, False)
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("5000.00")
    assert [(e.amount, e.reason, e.invoice_id) for e in unpaid.ledger_entries.all()] == [
        (Decimal("5000.00"), "payment", invoice.pk)
    ]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.source, invoice.confirmed_by) == ("paid", "crm", "lead 1")


def test_the_database_refuses_a_second_entry_for_one_invoice_even_if_the_check_is_raced(unpaid):
    invoice = unpaid.invoices.get()
    payments.invoice_pay(invoice=invoice, source="staff")
    # What a racing second confirmation would see had it read the row before the first committed.
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.AWAITING)

    with pytest.raises(IntegrityError):
        payments.invoice_pay(invoice=invoice, source="crm")

    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("5000.00")
    assert unpaid.ledger_entries.count() == 1


def test_a_payment_of_a_different_amount_posts_what_was_received(unpaid):
    payments.invoice_pay(invoice=unpaid.invoices.get(), amount=Decimal("4500.50"), source="staff")

    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("4500.50")


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-10")])
def test_a_payment_of_nothing_is_refused(unpaid, amount):
    with pytest.raises(payments.PaymentError):
        payments.invoice_pay(invoice=unpaid.invoices.get(), amount=amount, source="staff")

    assert unpaid.invoices.get().status == "awaiting"


def test_a_cancelled_invoice_cannot_be_paid(unpaid):
    Invoice.objects.update(status=Invoice.Status.CANCELLED)

    with pytest.raises(payments.PaymentError):
        payments.invoice_pay(invoice=unpaid.invoices.get(), source="staff")
    assert not LedgerEntry.objects.exists()


def test_an_unpaid_customer_s_delivery_cannot_be_marked_delivered(unpaid):
    delivery = unpaid.deliveries.first()

    with pytest.raises(ledger.InsufficientBalance):
        delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery))


# -- the admin's "Payment received" -----------------------------------------------------------------


def test_staff_confirm_a_payment_with_the_amount_in_the_admin(superuser_client, unpaid):
    invoice = unpaid.invoices.get()
    url = reverse("admin:accounts_invoice_pay", args=[invoice.pk])

    form = superuser_client.get(url)
    assert "Оплата получена" in page_text(form)
    assert input_value(form, "amount") == "5000,00"
    response = superuser_client.post(url, {"amount": "5000,00"})

    assert response.status_code == HTTPStatus.FOUND
    invoice.refresh_from_db()
    assert (invoice.status, invoice.source, invoice.confirmed_by) == ("paid", "staff", "boss@example.ru")
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("5000.00")


def test_an_amount_other_than_the_invoices_asks_staff_to_confirm_first(superuser_client, unpaid):
    invoice = unpaid.invoices.get()
    url = reverse("admin:accounts_invoice_pay", args=[invoice.pk])

    response = superuser_client.post(url, {"amount": "99999999,99"})

    assert response.status_code == HTTPStatus.OK
    text = page_text(response)
    assert "Полученная сумма, 99 999 999,99 ₽, отличается от суммы счёта 5 000,00 ₽" in text
    assert 'name="confirm" value="yes"' in text
    invoice.refresh_from_db()
    unpaid.refresh_from_db()
    assert (invoice.status, unpaid.account_sum) == ("awaiting", Decimal("0.00"))
    assert not LedgerEntry.objects.exists()


def test_a_confirmed_other_amount_goes_into_the_balance(superuser_client, unpaid):
    invoice = unpaid.invoices.get()
    url = reverse("admin:accounts_invoice_pay", args=[invoice.pk])

    response = superuser_client.post(url, {"amount": "4500,00", "confirm": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("4500.00")
    assert invoice.ledger_entry.amount == Decimal("4500.00")


def test_the_customer_card_offers_the_invoice_awaiting_payment(superuser_client, unpaid):
    response = superuser_client.get(reverse("admin:accounts_profile_change", args=[unpaid.pk]))

    text = page_text(response)
    assert "Оплата получена, 5 000,00 ₽" in text  # one click: tests/accounts/test_admin_card.py
    assert reverse("admin:accounts_invoice_pay", args=[unpaid.invoices.get().pk]) in text


def test_a_second_staff_click_adds_nothing(superuser_client, unpaid):
    url = reverse("admin:accounts_invoice_pay", args=[unpaid.invoices.get().pk])
    superuser_client.post(url, {"amount": "5000"})

    response = superuser_client.post(url, {"amount": "5000"}, follow=True)

    assert "Этот счёт уже оплачен: ничего не добавлено." in page_text(response)
    assert LedgerEntry.objects.filter(reason="payment").count() == 1


def test_the_payment_page_is_for_staff_only(unpaid_client, unpaid):
    url = reverse("admin:accounts_invoice_pay", args=[unpaid.invoices.get().pk])

    response = unpaid_client.post(url, {"amount": "5000"})  # the customer, logged in, not staff

    assert response.status_code == HTTPStatus.FOUND
    assert "/login/" in response.url
    assert unpaid.invoices.get().status == "awaiting"


def test_the_payment_form_checks_csrf(superuser, unpaid):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    response = client.post(
        reverse("admin:accounts_invoice_pay", args=[unpaid.invoices.get().pk]), {"amount": "1"}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert unpaid.invoices.get().status == "awaiting"


def test_a_bad_amount_in_the_admin_is_a_form_error_not_a_500(superuser_client, unpaid):
    url = reverse("admin:accounts_invoice_pay", args=[unpaid.invoices.get().pk])

    response = superuser_client.post(url, {"amount": "много"})

    assert response.status_code == HTTPStatus.OK
    assert "Введите число." in page_text(response)
    assert unpaid.invoices.get().status == "awaiting"


def test_staff_cannot_raise_the_sum_by_hand_while_an_invoice_awaits_payment(superuser_client, unpaid):
    data = {
        "email": unpaid.user.email,
        "is_active": "on",
        "account_status": unpaid.account_status,
        "account_sum": "5000.00",  # the paid amount typed into the balance instead of the invoice
        "bouquet_category": unpaid.bouquet_category.pk,
        "delivery_address": unpaid.delivery_address,
        "first_delivery_date": unpaid.first_delivery_date.strftime("%d.%m.%Y"),
        "delivery_interval": unpaid.delivery_interval,
        "wishes": unpaid.wishes,
        "phone": "",
        "referred_by": "",
    }

    response = superuser_client.post(reverse("admin:accounts_profile_change", args=[unpaid.pk]), data)

    assert response.status_code == HTTPStatus.OK
    assert "ожидает оплаты" in str(response.context["adminform"].form.errors["account_sum"])
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("0.00") and not unpaid.ledger_entries.exists()


# -- the data migration ------------------------------------------------------------------------------


def test_the_migration_assumes_signup_sums_were_paid_and_keeps_every_balance(customer):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0010_signup_top_ups_become_paid_invoices")
    # As before invoices existed: the sum posted at signup straight to the ledger.
    LedgerEntry.objects.all().delete()
    Invoice.objects.all().delete()
    entry = LedgerEntry.objects.create(profile=customer, amount=Decimal("5000.00"), reason="signup")

    migration.signup_entries_to_invoices(apps, None)
    migration.signup_entries_to_invoices(apps, None)  # a second run adds nothing

    customer.refresh_from_db()
    assert customer.account_sum == Decimal("5000.00")
    invoice = customer.invoices.get()
    assert (invoice.amount, invoice.status, invoice.source) == (Decimal("5000.00"), "paid", "migration")
    assert invoice.ledger_entry.pk == entry.pk
    assert "Выставлен счёт" not in page_text_of_history(customer)  # the ledger already tells it

    migration.invoices_to_signup_entries(apps, None)
    assert not customer.invoices.exists()
    assert customer.ledger_entries.get().invoice is None


def page_text_of_history(profile: Profile) -> str:
    from accounts import history

    page = history.page_get(profile=profile, number="1", per_page=100)
    return " ".join(item.text for item in page.items)
