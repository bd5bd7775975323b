import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

INVALID_LOGIN = "Указанные вами адрес электронной почты и/или пароль неверны."
TOO_MANY_FAILED = "Слишком много неудачных попыток входа в систему. Повторите попытку позже."


def _failed_logins_allowed_per_account() -> int:
    """The `N/period/key` part of allauth's `login_failed` limit, read from our settings."""
    rates = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    return next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))


def _log_in(client: Client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_login_page_is_in_russian(client):
    response = client.get(reverse("account_login"))

    assert response.status_code == HTTPStatus.OK
    assert "Забыли пароль?" in page_text(response)


def test_login_by_email_lands_on_the_account_page(client, customer, password):
    response = _log_in(client, customer.user.email, password)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/account/"
    assert client.session["_auth_user_id"] == str(customer.user.pk)


def test_login_follows_next_to_a_page_of_the_site(client, customer, password):
    response = client.post(
        reverse("account_login"),
        {"login": customer.user.email, "password": password, "next": "/account/preferences/"},
    )

    assert response.url == "/account/preferences/"


def test_login_ignores_next_to_another_site(client, customer, password):
    response = client.post(
        reverse("account_login"),
        {"login": customer.user.email, "password": password, "next": "https://evil.example/"},
    )

    assert response.url == "/account/"


def test_login_email_is_case_insensitive(client, user_factory, password):
    user = user_factory(email="anna@x.ru")

    response = _log_in(client, "Anna@X.RU", password)

    assert response.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_with_a_wrong_password_shows_an_error_and_starts_no_session(client, customer, password):
    response = _log_in(client, customer.user.email, password + "x")

    assert response.status_code == HTTPStatus.OK
    assert INVALID_LOGIN in page_text(response)
    assert "_auth_user_id" not in client.session


def test_login_with_an_unknown_email_gives_the_same_error(client, db, password):
    response = _log_in(client, "nobody@example.ru", password)

    assert response.status_code == HTTPStatus.OK
    assert INVALID_LOGIN in page_text(response)


def test_login_of_an_inactive_user_is_refused(client, user_factory, password):
    user_factory(email="gone@example.ru", is_active=False)

    _log_in(client, "gone@example.ru", password)

    assert "_auth_user_id" not in client.session


def test_login_is_refused_even_with_the_right_password_after_too_many_failures(client, customer, password):
    allowed = _failed_logins_allowed_per_account()
    for _ in range(allowed):
        assert INVALID_LOGIN in page_text(_log_in(client, customer.user.email, "wrong-password"))

    response = _log_in(client, customer.user.email, password)

    # allauth refuses inside the form (not with a 429): the page comes back with its error.
    assert response.status_code == HTTPStatus.OK
    assert TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in client.session


def test_login_rate_limit_counts_the_account_whatever_the_case(client, customer, password):
    for _ in range(_failed_logins_allowed_per_account()):
        _log_in(client, customer.user.email.upper(), "wrong-password")

    response = _log_in(client, customer.user.email, password)

    assert TOO_MANY_FAILED in page_text(response)


def test_login_just_below_the_limit_still_works(client, customer, password):
    for _ in range(_failed_logins_allowed_per_account() - 1):
        _log_in(client, customer.user.email, "wrong-password")

    response = _log_in(client, customer.user.email, password)

    assert response.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(customer.user.pk)


def test_login_rate_limit_is_per_account(client, user_factory, password):
    victim, other = user_factory(email="victim@example.ru"), user_factory(email="other@example.ru")
    for _ in range(_failed_logins_allowed_per_account()):
        _log_in(client, victim.email, "wrong-password")

    response = _log_in(client, other.email, password)

    assert response.status_code == HTTPStatus.FOUND


def test_logout_by_get_shows_a_confirmation_and_keeps_the_session(customer_client):
    response = customer_client.get(reverse("account_logout"))

    assert response.status_code == HTTPStatus.OK
    assert "Вы действительно хотите выйти?" in page_text(response)
    assert "_auth_user_id" in customer_client.session
    assert customer_client.get("/account/").status_code == HTTPStatus.OK


def test_logout_by_post_ends_the_session(customer_client):
    response = customer_client.post(reverse("account_logout"))

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/login/"
    assert "_auth_user_id" not in customer_client.session
    assert customer_client.get("/account/").status_code == HTTPStatus.FOUND


def test_logout_needs_the_csrf_token(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer.user)

    response = client.post(reverse("account_logout"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "_auth_user_id" in client.session


def test_login_lock_holds_whatever_port_the_host_header_names(customer, password):
    # allauth keys the lock by the site's domain; without django.contrib.sites that is
    # request.get_host(), port included, and ALLOWED_HOSTS ignores ports: each port was a new bucket.
    for port in range(1000, 1000 + _failed_logins_allowed_per_account()):
        _log_in(Client(HTTP_HOST=f"127.0.0.1:{port}"), customer.user.email, "wrong-password")

    client = Client(HTTP_HOST="127.0.0.1:2000")
    response = _log_in(client, customer.user.email, password)

    assert TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in client.session


def test_login_lock_holds_across_host_names(customer, password):
    for host in ["127.0.0.1", "localhost", "127.0.0.1", "localhost", "127.0.0.1"]:
        _log_in(Client(HTTP_HOST=host), customer.user.email, "wrong-password")

    response = _log_in(Client(HTTP_HOST="localhost:8000"), customer.user.email, password)

    assert TOO_MANY_FAILED in page_text(response)


def test_remember_me_is_a_checkbox_inside_its_label(client):
    text = page_text(client.get(reverse("account_login")))

    assert re.search(
        r'<label class="checkbox" for="id_remember"><input type="checkbox" name="remember"[^>]*>'
        r"<span>Запомнить меня</span></label>",
        text,
    )
