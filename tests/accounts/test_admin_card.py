"""The customer card: the profile's admin page with the invoices (one-click "Payment received"),
deliveries, history and amoCRM sync state; the user edited on it; no customer added by hand."""

import datetime
import re
from decimal import Decimal
from html import unescape
from http import HTTPStatus

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import delivery_actions
from accounts.models import Delivery, Invoice, LedgerEntry, Profile, User
from tests.accounts.helpers import due_today, page_text
from tests.admin_pages import change_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def unpaid(profile_factory, user_factory) -> Profile:
    """A customer with an invoice for 2 500 ₽ awaiting payment and a first delivery in 3 days."""
    return profile_factory(
        user=user_factory(email="anna@example.ru"), paid=False, account_sum=Decimal("2500")
    )


def card_url(profile: Profile) -> str:
    return reverse("admin:accounts_profile_change", args=[profile.pk])


def pay_forms(response) -> list[tuple[str, dict[str, str]]]:
    """The card's one-click payment forms: (action, the inputs it posts)."""
    forms = re.findall(
        r'<form method="post" action="([^"]+)" class="customer-card-pay">(.*?)</form>',
        response.content.decode(),
        flags=re.DOTALL,
    )
    return [
        (unescape(action), {n: unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', body)})
        for action, body in forms
    ]


def sections(response) -> list[str]:
    return re.findall(r'<h2 id="card-section-\d+">([^<]+)</h2>', response.content.decode())


def test_the_card_shows_invoices_deliveries_history_and_sync_state(superuser_client, unpaid):
    delivery = unpaid.deliveries.first()

    response = superuser_client.get(card_url(unpaid))

    assert sections(response) == ["Счета и баланс", "Доставки", "Что происходило", "Синхронизация с amoCRM"]
    text = page_text(response)
    assert "Оплата получена, 2 500,00 ₽" in text
    assert reverse("admin:accounts_delivery_change", args=[delivery.pk]) in text
    assert "Выставлен счёт на 2 500,00 ₽, ожидает оплаты" in text
    assert f"?profile__id__exact={unpaid.pk}" in text


def test_the_link_to_all_deliveries_lists_only_this_customers(superuser_client, unpaid, profile_factory):
    other = profile_factory()

    response = superuser_client.get(
        reverse("admin:accounts_delivery_changelist"), {"profile__id__exact": unpaid.pk}
    )

    shown = {delivery.profile_id for delivery in response.context["cl"].result_list}
    assert shown == {unpaid.pk} and other.pk not in shown


def test_one_click_pays_exactly_the_invoice_amount_and_returns_to_the_card(superuser_client, unpaid):
    invoice = unpaid.invoices.get()
    [(action, data)] = pay_forms(superuser_client.get(card_url(unpaid)))

    response = superuser_client.post(action, data)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == card_url(unpaid)
    invoice.refresh_from_db()
    unpaid.refresh_from_db()
    assert (invoice.status, invoice.source, invoice.confirmed_by) == ("paid", "staff", "boss@example.ru")
    assert unpaid.account_sum == invoice.amount == Decimal("2500.00")
    assert list(unpaid.ledger_entries.values_list("amount", "reason")) == [(Decimal("2500.00"), "payment")]
    card = re.sub(r"<[^>]+>", "", page_text(superuser_client.get(response.url)))
    assert "Баланс: 2 500,00 ₽" in card
    assert "Оплата получена · +2 500,00 ₽" in card  # the history's line
    assert pay_forms(superuser_client.get(response.url)) == []  # nothing left to pay


def test_a_second_click_on_a_stale_card_adds_nothing(superuser_client, unpaid):
    [(action, data)] = pay_forms(superuser_client.get(card_url(unpaid)))
    superuser_client.post(action, data)

    response = superuser_client.post(action, data, follow=True)

    assert "Этот счёт уже оплачен: ничего не добавлено." in page_text(response)
    assert LedgerEntry.objects.filter(profile=unpaid, reason="payment").count() == 1


def test_another_amount_still_asks_to_confirm_and_then_returns_to_the_card(superuser_client, unpaid):
    [(action, data)] = pay_forms(superuser_client.get(card_url(unpaid)))

    asked = superuser_client.post(action, {**data, "amount": "2000,00"})

    assert asked.status_code == HTTPStatus.OK
    assert "отличается от суммы счёта 2 500,00 ₽" in page_text(asked)
    assert unpaid.invoices.get().status == "awaiting"
    confirmed = superuser_client.post(action, {"amount": "2000,00", "confirm": "yes", "next": data["next"]})
    assert confirmed.url == card_url(unpaid)
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("2000.00")


def test_a_next_address_off_the_site_is_ignored(superuser_client, unpaid):
    invoice = unpaid.invoices.get()

    response = superuser_client.post(
        reverse("admin:accounts_invoice_pay", args=[invoice.pk]),
        {"amount": "2500.00", "next": "https://evil.example/"},
    )

    assert response.url == reverse("admin:accounts_invoice_change", args=[invoice.pk])


def test_one_click_carries_the_csrf_token_and_is_refused_without_it(superuser, unpaid):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    [(action, data)] = pay_forms(client.get(card_url(unpaid)))

    forged = client.post(action, {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"})
    assert forged.status_code == HTTPStatus.FORBIDDEN
    assert unpaid.invoices.get().status == "awaiting"

    assert client.post(action, data).status_code == HTTPStatus.FOUND
    assert unpaid.invoices.get().status == "paid"


def test_staff_without_the_change_invoice_permission_see_no_button_and_cannot_pay(user_factory, unpaid):
    florist = user_factory(email="florist@example.ru", is_staff=True)
    codenames = ["view_profile", "change_profile", "view_invoice"]
    florist.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(florist)
    invoice = unpaid.invoices.get()

    card = client.get(card_url(unpaid))
    response = client.post(
        reverse("admin:accounts_invoice_pay", args=[invoice.pk]),
        {"amount": "2500.00", "next": card_url(unpaid)},
    )

    assert card.status_code == HTTPStatus.OK and pay_forms(card) == []
    assert "ожидает оплаты" in page_text(card)
    assert response.status_code == HTTPStatus.FORBIDDEN
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.AWAITING


def test_profiles_are_never_added_by_hand(superuser_client):
    assert superuser_client.get(reverse("admin:accounts_profile_add")).status_code == HTTPStatus.FORBIDDEN
    listing = superuser_client.get(reverse("admin:accounts_profile_changelist")).content.decode()
    assert reverse("admin:accounts_profile_add") not in listing
    # Staff accounts are still added on the Users list.
    assert superuser_client.get(reverse("admin:accounts_user_add")).status_code == HTTPStatus.OK


def test_the_card_offers_no_delete_button_that_could_only_be_refused(superuser_client, unpaid):
    """Its invoices and deliveries are never deleted: Django's delete page said «Не удается удалить»."""
    card = superuser_client.get(reverse("admin:accounts_profile_change", args=[unpaid.pk])).content.decode()
    listing = superuser_client.get(reverse("admin:accounts_profile_changelist"))

    delete = reverse("admin:accounts_profile_delete", args=[unpaid.pk])
    assert delete not in card
    assert superuser_client.get(delete).status_code == HTTPStatus.FORBIDDEN
    assert "delete_selected" not in dict(listing.context["action_form"].fields["action"].choices)


def test_the_cards_history_writes_money_as_the_rest_of_the_admin_does(superuser_client, profile_factory):
    customer = profile_factory()
    delivery_actions.delivery_complete(delivery_id=due_today(customer.deliveries.first()).pk)

    history = page_text(superuser_client.get(card_url(customer))).split("Что происходило", 1)[1]

    assert "+5 000,00 ₽" in history  # the payment (profile_factory's invoice)
    assert "−2 500,00 ₽" in history  # the bouquet, with the minus sign formatting.rubles writes
    assert "-2 500,00" not in history


def test_saving_a_card_opened_before_a_payment_keeps_the_payment(superuser_client, unpaid):
    page = superuser_client.get(card_url(unpaid))
    shown = re.search(r'name="initial-account_sum" value="([^"]*)"', page.content.decode())
    assert shown is not None  # the page posts back the balance it showed
    data = change_form_data(superuser_client, card_url(unpaid))
    data = {k: v for k, v in data.items() if v is not False}
    data.update({"initial-account_sum": shown.group(1), "wishes": "Только белые"})
    [(action, pay)] = pay_forms(page)
    superuser_client.post(action, pay)  # meanwhile, from the same card in another tab

    response = superuser_client.post(card_url(unpaid), data)

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    unpaid.refresh_from_db()
    assert (unpaid.account_sum, unpaid.wishes) == (Decimal("2500.00"), "Только белые")
    assert list(unpaid.ledger_entries.values_list("reason", flat=True)) == ["payment"]


def test_a_new_balance_typed_over_one_that_moved_meanwhile_is_refused_and_nothing_lost(
    superuser_client, unpaid
):
    page = superuser_client.get(card_url(unpaid))
    shown = re.search(r'name="initial-account_sum" value="([^"]*)"', page.content.decode()).group(1)
    data = {k: v for k, v in change_form_data(superuser_client, card_url(unpaid)).items() if v is not False}
    data.update({"initial-account_sum": shown, "account_sum": "100.00"})  # meant: 0 → 100
    [(action, pay)] = pay_forms(page)
    superuser_client.post(action, pay)  # meanwhile, 2 500 ₽ came in

    response = superuser_client.post(card_url(unpaid), data)

    assert response.status_code == HTTPStatus.OK
    assert "Баланс изменился на 2 500,00 ₽, пока страница была открыта" in page_text(response)
    unpaid.refresh_from_db()
    assert unpaid.account_sum == Decimal("2500.00")
    assert list(unpaid.ledger_entries.values_list("reason", flat=True)) == ["payment"]


def test_the_card_edits_the_customers_email_name_and_active_flag(superuser_client, unpaid):
    data = change_form_data(superuser_client, card_url(unpaid))
    assert (data["email"], data["is_active"]) == ("anna@example.ru", True)
    data.update(email="Anna.New@Example.RU", first_name="Анна", last_name="Петрова", is_active="")
    data = {k: v for k, v in data.items() if v is not False}  # an unticked box posts nothing

    response = superuser_client.post(card_url(unpaid), data)

    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    user = User.objects.get(pk=unpaid.user_id)
    assert (user.email, user.first_name, user.last_name, user.is_active) == (
        "anna.new@example.ru",
        "Анна",
        "Петрова",
        False,
    )


def test_the_card_refuses_an_email_another_account_has_in_any_case(superuser_client, unpaid, user_factory):
    user_factory(email="taken@example.ru")
    data = change_form_data(superuser_client, card_url(unpaid))
    data.update(email="TAKEN@example.ru")

    response = superuser_client.post(card_url(unpaid), data)

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors["email"]
    assert User.objects.get(pk=unpaid.user_id).email == "anna@example.ru"


def test_view_only_staff_read_the_card_with_the_customers_email(user_factory, unpaid):
    reader = user_factory(email="reader@example.ru", is_staff=True)
    reader.user_permissions.add(*Permission.objects.filter(codename__in=["view_profile", "view_invoice"]))
    client = Client()
    client.force_login(reader)

    response = client.get(card_url(unpaid))

    assert response.status_code == HTTPStatus.OK
    assert len(sections(response)) == 4
    fields = {
        f.field["name"]: f.contents() for fs in response.context["adminform"] for line in fs for f in line
    }
    assert fields["email"] == "anna@example.ru"


def test_staff_who_may_not_change_users_cannot_change_the_login_on_the_card(user_factory, unpaid):
    florist = user_factory(email="florist@example.ru", is_staff=True)
    florist.user_permissions.add(*Permission.objects.filter(codename__in=["view_profile", "change_profile"]))
    client = Client()
    client.force_login(florist)
    data = change_form_data(client, card_url(unpaid))

    response = client.post(card_url(unpaid), {**data, "email": "mine@example.ru", "wishes": "Тюльпаны"})

    assert response.status_code == HTTPStatus.FOUND
    unpaid.refresh_from_db()
    assert (unpaid.wishes, unpaid.user.email, unpaid.user.is_active) == ("Тюльпаны", "anna@example.ru", True)


def test_a_payment_goes_into_the_invoices_admin_history(superuser_client, unpaid):
    [(action, data)] = pay_forms(superuser_client.get(card_url(unpaid)))

    superuser_client.post(action, data)

    invoice = unpaid.invoices.get()
    [entry] = LogEntry.objects.filter(object_id=str(invoice.pk))
    message = entry.get_change_message().replace("\xa0", " ")  # rubles() keeps "2 500,00 ₽" on one line
    assert (entry.user.email, message) == ("boss@example.ru", "Оплата получена: 2 500,00 ₽.")


def test_the_cards_deliveries_are_grouped_next_then_recent_and_an_empty_group_is_left_out(
    superuser_client, unpaid
):
    first_text = page_text(superuser_client.get(card_url(unpaid)))
    first = unpaid.deliveries.order_by("delivery_on").first()
    Delivery.objects.filter(pk=first.pk).update(delivery_on=first.delivery_on - datetime.timedelta(days=30))

    text = page_text(superuser_client.get(card_url(unpaid)))

    assert "Ближайшие" in first_text and "Прошедшие" not in first_text
    assert text.index("Ближайшие") < text.index("Прошедшие")
