""" "My data": one JSON download with everything the site holds about the customer, and no one else's."""

import json
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts import history
from accounts.models import AccountEvent
from accounts.signals import Action

pytestmark = pytest.mark.django_db

DOWNLOAD = reverse("accounts:my_data_download")


def download(client) -> dict:
    response = client.get(DOWNLOAD)
    assert response.status_code == HTTPStatus.OK
    return json.loads(response.content)


def test_the_download_is_a_json_attachment(customer_client):
    response = customer_client.get(DOWNLOAD)

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="flower-account-my-data-')
    assert response["Content-Disposition"].endswith('.json"')


def test_the_download_needs_a_login(client):
    response = client.get(DOWNLOAD)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith(reverse("account_login"))


def test_the_file_holds_account_preferences_deliveries_money_history_and_consents(client, signup_data):
    client.post(reverse("account_signup"), signup_data(), HTTP_USER_AGENT="Test browser")

    data = download(client)

    assert data["account"]["email"] == "anna@example.ru"
    assert data["account"]["date_joined"]
    subscription = data["subscription"]
    assert subscription["delivery_address"] == "Москва, ул. Тверская, 7, кв. 12"
    assert subscription["wishes"] == "Побольше пионов, без лилий"
    assert subscription["delivery_interval"] == "biweekly"
    assert subscription["account_status"] == "new"
    assert (
        data["deliveries"] and data["deliveries"][0]["delivery_address"] == subscription["delivery_address"]
    )
    assert data["invoices"] == [
        {
            "id": data["invoices"][0]["id"],
            "amount": "3000.50",
            "status": "awaiting",
            "source": "",
            "paid_at": None,
            "created_at": data["invoices"][0]["created_at"],
        }
    ]
    assert "ledger" in data
    assert [event["action"] for event in data["history"]] == [Action.SIGNED_UP]
    [consent] = data["consents"]
    assert consent["document"] == "consent" and consent["action"] == "given"
    assert consent["version"] == "2025-09-01" and len(consent["text_sha256"]) == 64
    assert consent["at"] and consent["user_agent"] == "Test browser"


def test_payments_and_the_ledger_are_in_the_file(customer_client, customer):
    data = download(customer_client)

    assert [i["status"] for i in data["invoices"]] == ["paid"]
    assert data["invoices"][0]["paid_at"]
    assert [(e["amount"], e["reason"]) for e in data["ledger"]] == [("5000.00", "payment")]


def test_one_customers_file_never_holds_anothers_data(client, profile_factory, user_factory):
    anna = profile_factory(user=user_factory(email="anna@example.ru"), delivery_address="Тверская, 1")
    boris = profile_factory(
        user=user_factory(email="boris@example.ru"), delivery_address="Арбат, 2", wishes="Только розы"
    )
    boris.referred_by = anna
    boris.save()
    history.event_send(boris, Action.PAUSED, until=None)
    client.force_login(anna.user)

    text = client.get(DOWNLOAD).content.decode()

    assert "anna@example.ru" in text and "Тверская, 1" in text
    assert "boris" not in text and "Арбат" not in text and "Только розы" not in text
    assert json.loads(text)["subscription"]["friends_referred"] == 1
    assert AccountEvent.objects.filter(profile=boris).exists()
