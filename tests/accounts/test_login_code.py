"""Sign-in by a code sent by email, beside the password: the whole flow, the same answer for unknown
addresses, its own rate limits, and no password lock in its way (tests/accounts/test_login_lockout.py)."""

import re
from http import HTTPStatus
from importlib.metadata import version

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import login_code, tasks
from tests.accounts.helpers import input_value, page_text

# The code email is written by the worker: tasks run at once here (accounts.login_code_mail).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_immediate")]


def failed_logins_allowed_per_account() -> int:
    rates = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    return next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))


def ask_code(client: Client, email: str):
    return client.post(reverse("account_request_login_code"), {"email": email})


def code_from_mail(email: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [email] and "код для входа" in m.subject]
    return re.search(r"^\s*([A-Z0-9-]{4,})\s*$", message.body, re.M).group(1)


def test_the_login_page_offers_a_code_beside_the_password(client):
    text = page_text(client.get(reverse("account_login")))

    assert reverse("account_request_login_code") in text and "Войти по коду из письма" in text
    assert 'name="password"' in text


def test_a_customer_logs_in_with_the_code_from_a_russian_email(client, customer):
    email = customer.user.email

    asked = ask_code(client, email)

    assert asked.status_code == HTTPStatus.FOUND and asked.url == reverse("account_confirm_login_code")
    [message] = mail.outbox
    assert message.subject == "Flower Account: код для входа"
    assert "Ваш код для входа в Flower Account:" in message.body and "5 минут" in message.body
    page = page_text(client.get(asked.url))
    assert "Введите код" in page and 'autocomplete="one-time-code"' in page

    done = client.post(asked.url, {"code": code_from_mail(email)})

    assert done.status_code == HTTPStatus.FOUND and done.url == "/account/"
    assert client.session["_auth_user_id"] == str(customer.user.pk)


@pytest.mark.parametrize(
    ("timeout", "said"),
    [(60, "1 минуту"), (3 * 60, "3 минуты"), (15 * 60, "15 минут"), (21 * 60, "21 минуту")],
)
def test_the_page_and_the_email_say_how_long_the_code_lives_from_the_setting(
    client, customer, settings, timeout, said
):
    settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT = timeout

    asked = ask_code(client, customer.user.email)

    [message] = mail.outbox
    assert f"Код действует {said} и только один раз." in message.body
    assert f"Код действует {said}." in page_text(client.get(asked.url))


def test_an_unknown_address_gets_the_same_answer_and_no_code(client, customer):
    known = ask_code(Client(), customer.user.email)
    unknown_client = Client()

    unknown = ask_code(unknown_client, "nobody@example.ru")

    assert (unknown.status_code, unknown.url) == (known.status_code, known.url)
    page = page_text(unknown_client.get(unknown.url))
    assert "Введите код" in page and "nobody@example.ru" in page
    assert not [m for m in mail.outbox if m.to == ["nobody@example.ru"]]  # no "no such account" mail either
    assert "_auth_user_id" not in unknown_client.session


def test_the_worker_mails_a_known_address_its_code_in_russian_and_an_unknown_one_nothing(customer):
    # The task runs in the worker, outside any request: language and subject come from the settings.
    tasks.login_code_send.call(email=customer.user.email, code="ABCD-EFGH")
    tasks.login_code_send.call(email="nobody@example.ru", code="KLMN-PQRS")

    [message] = mail.outbox
    assert message.to == [customer.user.email] and message.subject == "Flower Account: код для входа"
    assert code_from_mail(customer.user.email) == "ABCD-EFGH" and "5 минут" in message.body


def test_three_wrong_codes_kill_the_code(client, customer):
    email = customer.user.email
    ask_code(client, email)
    code = code_from_mail(email)
    url = reverse("account_confirm_login_code")

    first = client.post(url, {"code": "WRONG-1"})
    assert first.status_code == HTTPStatus.OK and "Неверный код" in page_text(first)
    client.post(url, {"code": "WRONG-2"})
    last = client.post(url, {"code": "WRONG-3"})
    late = client.post(url, {"code": code}, follow=True)

    assert last.status_code == HTTPStatus.FOUND
    assert "_auth_user_id" not in client.session
    assert late.redirect_chain[-1][0] == reverse("account_request_login_code")


def test_an_address_locked_by_wrong_passwords_still_gets_a_code_and_the_same_answer_as_unknown(customer):
    # Issue 26 item 6: the code is the owner's way in, so the password lock no longer stops it.
    answers = []
    for n, email in enumerate((customer.user.email, "nobody@example.ru")):
        client = Client(REMOTE_ADDR=f"10.0.0.{n + 1}")
        for _ in range(failed_logins_allowed_per_account()):
            client.post(reverse("account_login"), {"login": email, "password": "wrong-password"})

        response = ask_code(client, email)

        answers.append((response.status_code, response.url))
    assert answers[0] == answers[1] == (HTTPStatus.FOUND, reverse("account_confirm_login_code"))
    assert [m.to for m in mail.outbox] == [[customer.user.email]]


def test_wrong_codes_do_not_lock_the_password(customer, password):
    email = customer.user.email
    allowed = failed_logins_allowed_per_account()
    for _ in range(-(-allowed // 3)):  # as many wrong codes as the password lock allows, and more
        client = Client()
        ask_code(client, email)
        for attempt in range(3):
            client.post(reverse("account_confirm_login_code"), {"code": f"WRONG-{attempt}"})

    response = Client().post(reverse("account_login"), {"login": email, "password": password})

    assert response.status_code == HTTPStatus.FOUND and response.url == "/account/"


def test_the_right_code_is_accepted_while_the_password_is_locked(client, customer):
    email = customer.user.email
    ask_code(client, email)
    code = code_from_mail(email)
    for _ in range(failed_logins_allowed_per_account()):
        Client().post(reverse("account_login"), {"login": email, "password": "wrong-password"})

    response = client.post(reverse("account_confirm_login_code"), {"code": code})

    assert response.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(customer.user.pk)


def test_code_requests_are_rate_limited_per_address(client, customer):
    rates = settings.ACCOUNT_RATE_LIMITS["request_login_code"].split(",")
    per_key = next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))
    for _ in range(per_key):
        assert ask_code(Client(), customer.user.email).status_code == HTTPStatus.FOUND

    response = ask_code(Client(), customer.user.email)

    assert response.status_code == HTTPStatus.OK
    assert len(mail.outbox) == per_key


def test_code_pages_are_russian_and_only_the_needed_allauth_urls_are_mounted(client):
    text = page_text(client.get(reverse("account_request_login_code")))

    assert "Вход по коду" in text and "Прислать код" in text
    assert (
        client.get(reverse("account_confirm_login_code")).status_code == HTTPStatus.FOUND
    )  # nothing asked yet
    assert client.get("/accounts/login/code/").status_code == HTTPStatus.NOT_FOUND


def test_a_code_for_a_look_alike_address_goes_to_the_address_it_stands_for(
    client, user_factory, profile_factory
):
    profile_factory(user=user_factory(email="sam@example.ru"))

    response = ask_code(client, "ſam@Example.RU")  # a long s and capitals: the same mailbox

    assert response.status_code == HTTPStatus.FOUND
    assert [m.to for m in mail.outbox] == [["sam@example.ru"]]


def test_a_code_for_an_address_mixing_alphabets_is_refused_in_russian(client):
    response = ask_code(client, "mıke@example.ru")  # dotless ı

    assert response.status_code == HTTPStatus.OK
    assert "нельзя смешивать алфавиты" in page_text(response)
    assert mail.outbox == []


def test_the_code_page_sends_no_second_code(client, customer):
    ask_code(client, customer.user.email)

    client.post(reverse("account_confirm_login_code"), {"action": "resend", "code": ""})

    assert len(mail.outbox) == 1  # a new code is asked for on /login/code/, under its request limit


@pytest.mark.parametrize("url_name", ["account_login", "account_request_login_code"])
def test_a_pending_code_does_not_send_the_sign_in_pages_back_to_the_code_page(client, customer, url_name):
    ask_code(client, "anna@exmaple.ru")  # mistyped

    response = client.get(reverse(url_name))

    assert response.status_code == HTTPStatus.OK


def test_the_password_still_logs_in_while_a_code_is_pending(client, customer, password):
    ask_code(client, customer.user.email)

    response = client.post(reverse("account_login"), {"login": customer.user.email, "password": password})

    assert response.status_code == HTTPStatus.FOUND and response.url == "/account/"
    assert client.session["_auth_user_id"] == str(customer.user.pk)


def test_changing_the_address_drops_the_pending_code_and_offers_the_typed_address(client, customer):
    ask_code(client, "anna@exmaple.ru")
    code_page = page_text(client.get(reverse("account_confirm_login_code")))
    assert "Изменить адрес" in code_page

    form = client.get(reverse("account_request_login_code"))

    assert input_value(form, "email") == "anna@exmaple.ru"
    assert client.get(reverse("account_confirm_login_code")).url == reverse("account_request_login_code")


def test_the_corrected_address_gets_the_code(client, customer):
    ask_code(client, "nobody@example.ru")
    client.get(reverse("account_request_login_code"))

    asked = ask_code(client, customer.user.email)
    done = client.post(asked.url, {"code": code_from_mail(customer.user.email)})

    assert done.status_code == HTTPStatus.FOUND and done.url == "/account/"


def test_asking_for_a_code_flashes_nothing_that_the_page_does_not_say(customer):
    answers = []
    for email in (customer.user.email, "nobody@example.ru"):
        client = Client()
        asked = ask_code(client, email)
        page = client.get(asked.url)
        answers.append([str(m) for m in page.context["messages"]])
        assert f"Если адрес {email} есть у нас, мы отправили на него код." in page_text(page)

    assert answers == [[], []]


def test_the_code_mail_has_an_html_part_in_russian_with_the_code(customer):
    tasks.login_code_send.call(email=customer.user.email, code="ABCD-EFGH")

    [message] = mail.outbox
    [(html, kind)] = message.alternatives
    assert kind == "text/html" and 'lang="ru"' in html
    assert "ABCD-EFGH" in html and "Ваш код для входа" in html and "5 минут" in html


def test_a_code_typed_wrong_three_times_says_to_ask_for_a_new_one_not_to_wait(client, customer):
    # allauth's "Too many failed login attempts. Try again later." sent the customer away, though a
    # new code can be asked for at once.
    ask_code(client, customer.user.email)
    url = reverse("account_confirm_login_code")
    client.post(url, {"code": "WRONG-1"})
    client.post(url, {"code": "WRONG-2"})

    response = client.post(url, {"code": "WRONG-3"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("account_request_login_code")
    assert [str(m) for m in response.context["messages"]] == [
        "Этот код больше не действует: его ввели неверно слишком много раз. Запросите новый код "
        "или войдите с паролем."
    ]


def test_the_code_process_copies_the_installed_allauths_initiate():
    # LoginCodeProcess.initiate is allauth's, copied: another allauth may start its process otherwise.
    assert version("django-allauth") == login_code.UPSTREAM
