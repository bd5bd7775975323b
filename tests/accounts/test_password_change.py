from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Lilac-after-the-rain-3"


def test_password_change_page_needs_login(client):
    response = client.get(reverse("account_change_password"))

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/login/?next=/account/password/"


def test_password_change_page_opens_in_russian(customer_client):
    response = customer_client.get(reverse("account_change_password"))

    assert response.status_code == HTTPStatus.OK
    assert "Изменить пароль" in page_text(response)


def test_password_change_sets_the_new_password_and_keeps_this_session(customer_client, customer, password):
    other_device = Client()
    other_device.force_login(customer.user)

    response = customer_client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.FOUND
    customer.user.refresh_from_db()
    assert customer.user.check_password(NEW_PASSWORD)
    assert customer_client.get("/account/").status_code == HTTPStatus.OK
    assert other_device.get("/account/").status_code == HTTPStatus.FOUND


def test_password_change_needs_the_current_password(customer_client, customer, password):
    response = customer_client.post(
        reverse("account_change_password"),
        {"oldpassword": "not-my-password", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == HTTPStatus.OK
    customer.user.refresh_from_db()
    assert customer.user.check_password(password)
