"""Staff two-factor sign-in (allauth.mfa): set up before any admin page, a code at every sign-in."""

import time
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.conf import settings
from django.urls import reverse

from tests.accounts.helpers import page_text

pytestmark = [pytest.mark.django_db, pytest.mark.admin_2fa]

ADMIN_INDEX = reverse("admin:index")


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture
def staff(user_factory):
    return user_factory(email="boss@example.ru", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_secret(staff) -> str:
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    return secret


def password_login(client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password, "next": ADMIN_INDEX})


def test_two_factor_is_required_for_the_admin_by_default():
    from flower_account import settings as project_settings

    assert project_settings.ADMIN_REQUIRE_2FA is True
    assert settings.ADMIN_REQUIRE_2FA is True  # this test is marked: the fixture leaves it on


def test_staff_without_an_authenticator_are_sent_to_set_one_up_before_any_admin_page(client, staff):
    client.force_login(staff)

    for url in (ADMIN_INDEX, reverse("admin:accounts_profile_changelist")):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FOUND
        assert urlsplit(response.url).path == reverse("mfa_activate_totp")


def test_staff_set_up_the_authenticator_app_and_then_reach_the_admin(client, staff, password):
    password_login(client, staff.email, password)
    # allauth asks for the password once more before a security change.
    assert urlsplit(client.get(reverse("mfa_activate_totp")).url).path == reverse("account_reauthenticate")
    client.post(reverse("account_reauthenticate"), {"password": password})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == HTTPStatus.OK
    secret = page.context["form"].secret

    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})

    assert response.status_code == HTTPStatus.FOUND
    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists()
    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.RECOVERY_CODES).exists()
    assert client.get(ADMIN_INDEX).status_code == HTTPStatus.OK


def test_each_staff_sign_in_asks_for_the_code(client, staff, staff_secret, password):
    response = password_login(client, staff.email, password)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # the password alone logs no one in
    assert client.get(ADMIN_INDEX).status_code == HTTPStatus.FOUND

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(staff_secret)})

    assert response.status_code == HTTPStatus.FOUND
    assert client.get(ADMIN_INDEX).status_code == HTTPStatus.OK


def test_code_attempts_are_rate_limited(client, staff, staff_secret, password):
    password_login(client, staff.email, password)
    for _ in range(5):
        client.post(reverse("mfa_authenticate"), {"code": "000000"})

    response = client.post(reverse("mfa_authenticate"), {"code": current_code(staff_secret)})

    assert "_auth_user_id" not in client.session
    assert "Слишком много неудачных попыток" in page_text(response)


def test_customers_are_not_asked_for_a_code(client, customer, password):
    response = client.post(reverse("account_login"), {"login": customer.user.email, "password": password})

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse("accounts:dashboard")


def test_with_the_requirement_off_staff_reach_the_admin_without_an_authenticator(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(staff)

    assert client.get(ADMIN_INDEX).status_code == HTTPStatus.OK
