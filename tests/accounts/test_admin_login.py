"""The admin's login goes through the site's login (allauth), so allauth's limits guard it too."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

ADMIN_INDEX = reverse("admin:index")
ADMIN_LOGIN = reverse("admin:login")
TOO_MANY_FAILED = "Слишком много неудачных попыток входа в систему. Повторите попытку позже."


@pytest.fixture
def staff(user_factory):
    return user_factory(email="boss@example.ru", is_staff=True, is_superuser=True)


def _failed_logins_allowed_per_account() -> int:
    rates = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    return next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))


def _admin_login(client: Client, email: str, password: str):
    """Log in the way a browser does from the admin: the admin's login page, then where it leads."""
    response = client.post(
        f"{ADMIN_LOGIN}?next={ADMIN_INDEX}", {"username": email, "password": password, "next": ADMIN_INDEX}
    )
    if response.status_code == HTTPStatus.FOUND and response.url.startswith(reverse("account_login")):
        response = client.post(response.url, {"login": email, "password": password})
    return response


def test_posting_passwords_to_the_admin_login_page_never_logs_in(client, staff, password):
    for _ in range(40):
        client.post(ADMIN_LOGIN, {"username": staff.email, "password": "wrong-password"})

    response = client.post(ADMIN_LOGIN, {"username": staff.email, "password": password})

    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_admin_login_page_sends_staff_to_the_site_login_and_back(client, staff, password):
    response = client.get(f"{ADMIN_LOGIN}?next={ADMIN_INDEX}")
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"{reverse('account_login')}?next={ADMIN_INDEX.replace('/', '%2F')}"

    response = _admin_login(client, staff.email, password)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == ADMIN_INDEX
    assert client.get(ADMIN_INDEX).status_code == HTTPStatus.OK


def test_failed_site_logins_lock_the_admin_login_of_that_account(client, staff, password):
    for _ in range(_failed_logins_allowed_per_account()):
        client.post(reverse("account_login"), {"login": staff.email, "password": "wrong-password"})

    response = _admin_login(client, staff.email, password)

    assert TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in client.session


def test_failed_admin_logins_lock_the_site_login_of_that_account(client, staff, password):
    for _ in range(_failed_logins_allowed_per_account()):
        _admin_login(client, staff.email, "wrong-password")

    response = client.post(reverse("account_login"), {"login": staff.email, "password": password})

    assert TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in client.session


def test_admin_login_attempts_over_the_per_ip_limit_answer_429(client, staff, password):
    per_minute = int(settings.ACCOUNT_RATE_LIMITS["login"].split("/")[0])
    for number in range(per_minute):
        _admin_login(client, f"guess{number}@example.ru", "wrong-password")

    response = _admin_login(client, staff.email, password)

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Слишком много попыток" in page_text(response)
    assert "_auth_user_id" not in client.session


def test_admin_login_page_refuses_a_logged_in_customer(customer_client):
    assert customer_client.get(ADMIN_LOGIN).status_code == HTTPStatus.FORBIDDEN
