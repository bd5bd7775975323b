import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client, TestCase
from django.urls import reverse

from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

SITE_URL = "https://flowers.example.ru"
NEW_PASSWORD = "Chrysanthemums-in-May-7"
TOO_MANY = "Слишком много попыток. Подождите минуту и попробуйте снова."


@pytest.fixture(autouse=True)
def _site_url(settings, tasks_immediate):
    """The mail goes from a task: here it runs at once, when the request's work commits."""
    settings.SITE_URL = SITE_URL


def _ask_for_reset(client: Client, email: str, **kwargs):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("account_reset_password"), {"email": email}, **kwargs)


def _reset_link(message) -> str:
    match = re.search(rf"{re.escape(SITE_URL)}/reset-password/[^/\s]+/[^/\s]+/", message.body)
    assert match, message.body
    return match.group(0).removeprefix(SITE_URL)


def _set_new_password(client: Client, link: str, password: str = NEW_PASSWORD):
    set_password_page = client.get(link)
    return client.post(set_password_page.url, {"new_password1": password, "new_password2": password})


def _can_log_in(email: str, password: str) -> bool:
    client = Client()
    client.post(reverse("account_login"), {"login": email, "password": password})
    return "_auth_user_id" in client.session


def _resets_allowed_per_address() -> int:
    rates = settings.ACCOUNT_RATE_LIMITS["reset_password"].split(",")
    return next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))


def test_forgot_password_page_is_in_russian(client):
    response = client.get("/forgot-password/")

    assert response.status_code == HTTPStatus.OK
    assert "Отправить ссылку" in page_text(response)


def test_reset_for_a_known_email_sends_one_russian_email_with_the_link(client, customer):
    response = _ask_for_reset(client, customer.user.email)

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/forgot-password/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [customer.user.email]
    assert message.subject == "Flower Account: смена пароля"
    assert "Чтобы задать новый пароль, откройте ссылку:" in message.body
    assert _reset_link(message).startswith("/reset-password/")


def test_reset_email_link_starts_with_site_url(client, customer):
    _ask_for_reset(client, customer.user.email)

    links = re.findall(r"https?://\S+", mail.outbox[0].body)
    assert len(links) == 1
    assert links[0].startswith(f"{SITE_URL}/reset-password/")


def test_reset_for_an_email_typed_in_another_case_is_sent(client, user_factory):
    user_factory(email="anna@x.ru")

    _ask_for_reset(client, "ANNA@x.ru")

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@x.ru"]


def test_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(customer):
    known_client, unknown_client = Client(), Client()

    known = _ask_for_reset(known_client, customer.user.email, follow=True)
    unknown = _ask_for_reset(unknown_client, "nobody@example.ru", follow=True)

    assert unknown.redirect_chain == known.redirect_chain == [("/forgot-password/sent/", HTTPStatus.FOUND)]
    assert unknown.status_code == known.status_code == HTTPStatus.OK
    assert unknown.content == known.content
    assert [message.to for message in mail.outbox] == [[customer.user.email]]


def test_reset_link_leads_to_the_set_password_page(client, customer):
    _ask_for_reset(client, customer.user.email)
    uidb64 = _reset_link(mail.outbox[0]).split("/")[2]

    response = client.get(_reset_link(mail.outbox[0]))

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == f"/reset-password/{uidb64}/set-password/"
    assert "Задайте новый пароль" in page_text(client.get(response.url))


def test_reset_link_sets_a_new_password_that_logs_in(client, customer, password):
    _ask_for_reset(client, customer.user.email)

    response = _set_new_password(client, _reset_link(mail.outbox[0]))

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/reset-password/done/"
    assert _can_log_in(customer.user.email, NEW_PASSWORD)
    assert not _can_log_in(customer.user.email, password)


def test_reset_refuses_a_weak_new_password(client, customer, password):
    _ask_for_reset(client, customer.user.email)

    response = _set_new_password(client, _reset_link(mail.outbox[0]), password="12345678")

    assert response.status_code == HTTPStatus.OK
    assert "Введённый пароль слишком широко распространён" in page_text(response)
    customer.user.refresh_from_db()
    assert customer.user.check_password(password)


def test_reset_link_works_only_once(client, customer):
    _ask_for_reset(client, customer.user.email)
    link = _reset_link(mail.outbox[0])
    _set_new_password(client, link)

    response = Client().get(link)

    assert response.status_code == HTTPStatus.OK
    assert "Ссылка больше не действует" in page_text(response)


def test_reset_with_a_forged_token_is_refused(client, customer):
    _ask_for_reset(client, customer.user.email)
    uidb64 = _reset_link(mail.outbox[0]).split("/")[2]

    response = client.get(f"/reset-password/{uidb64}/abc-0123456789abcdef/")

    assert response.status_code == HTTPStatus.OK
    assert "Ссылка больше не действует" in page_text(response)


def test_reset_logs_out_the_users_other_sessions(client, customer, password):
    other_device = Client()
    other_device.post(reverse("account_login"), {"login": customer.user.email, "password": password})
    assert other_device.get("/account/").status_code == HTTPStatus.OK

    _ask_for_reset(client, customer.user.email)
    _set_new_password(client, _reset_link(mail.outbox[0]))

    response = other_device.get("/account/")
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/login/?next=/account/"


def test_reset_requests_are_rate_limited_per_address(client, customer):
    allowed = _resets_allowed_per_address()
    for _ in range(allowed):
        assert _ask_for_reset(client, customer.user.email).status_code == HTTPStatus.FOUND

    response = _ask_for_reset(client, customer.user.email.upper())

    assert response.status_code == HTTPStatus.OK
    assert TOO_MANY in page_text(response)
    assert len(mail.outbox) == allowed


def test_reset_rate_limit_for_an_unknown_address_looks_the_same(client, db):
    for _ in range(_resets_allowed_per_address()):
        _ask_for_reset(client, "nobody@example.ru")

    response = _ask_for_reset(client, "nobody@example.ru")

    assert response.status_code == HTTPStatus.OK
    assert TOO_MANY in page_text(response)


def test_reset_rate_limit_for_one_address_leaves_others_alone(client, customer, user_factory):
    other = user_factory(email="other@example.ru")
    for _ in range(_resets_allowed_per_address() + 1):
        _ask_for_reset(client, customer.user.email)

    response = _ask_for_reset(client, other.email)

    assert response.status_code == HTTPStatus.FOUND
    assert mail.outbox[-1].to == [other.email]


def test_reset_lifts_the_failed_login_lock(client, customer, password):
    rates = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    allowed = next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))
    for _ in range(allowed):
        Client().post(reverse("account_login"), {"login": customer.user.email, "password": "wrong-password"})
    assert not _can_log_in(customer.user.email, password)  # locked: even the right password is refused

    _ask_for_reset(client, customer.user.email)
    _set_new_password(client, _reset_link(mail.outbox[0]))

    assert _can_log_in(customer.user.email, NEW_PASSWORD)


def test_the_set_password_page_states_the_password_rule_in_one_line_as_signup_does(client, customer):
    _ask_for_reset(client, customer.user.email)
    set_password_page = client.get(_reset_link(mail.outbox[0]))

    text = page_text(client.get(set_password_page.url))

    rule = "Не короче 8 символов, не только цифры и не слишком простой."
    assert f'<p class="help" id="id_new_password1_helptext">{rule}</p>' in text
    assert rule in page_text(client.get(reverse("account_signup")))
    assert "<ul><li>" not in text  # Django's list of every validator
