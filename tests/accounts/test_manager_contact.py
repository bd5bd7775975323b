"""Reaching the manager from the account page: the contact block (settings.SUPPORT_*) and the
"write to the manager" form, whose message is an event (the CRM's note and task) and a history line."""

import re
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages

from accounts.models import AccountEvent
from accounts.signals import Action, profile_changed
from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

URL = "/account/message/"


@pytest.fixture
def events():
    seen = []

    def receiver(sender, action=None, details=None, **kwargs):
        seen.append((action, details))

    profile_changed.connect(receiver, weak=False, dispatch_uid="test_manager_contact")
    yield seen
    profile_changed.disconnect(dispatch_uid="test_manager_contact")


def test_the_account_page_shows_the_managers_phone_email_and_messengers(customer_client, settings):
    settings.SUPPORT_PHONE = "+7 495 123-45-67"
    settings.SUPPORT_EMAIL = "help@flowers.example.ru"
    settings.SUPPORT_TELEGRAM = "@flowers_help"
    settings.SUPPORT_WHATSAPP = "+7 (900) 111-22-33"

    text = page_text(customer_client.get("/account/"))

    assert 'href="tel:+74951234567">+7 495 123-45-67</a>' in text
    assert 'href="mailto:help@flowers.example.ru"' in text
    assert 'href="https://t.me/flowers_help"' in text
    assert 'href="https://wa.me/79001112233"' in text
    assert 'action="/account/message/"' in text and "Написать менеджеру" in text


def test_a_messenger_left_empty_is_left_out(customer_client, settings):
    settings.SUPPORT_TELEGRAM = settings.SUPPORT_WHATSAPP = ""

    text = page_text(customer_client.get("/account/"))
    # The referral block's share links (t.me/share/…, wa.me/?text=…) are not the contact block's.
    contacts = text.replace("https://t.me/share/", "").replace("https://wa.me/?text=", "")

    assert "t.me/" not in contacts and "wa.me/" not in contacts


def test_a_message_is_told_as_one_event_and_shown_in_the_history(customer_client, customer, events):
    response = customer_client.post(URL, {"text": "Можно ли букет без лилий?"})

    assert response.status_code == HTTPStatus.FOUND
    assert response.url == "/account/#contact"
    assert events == [(Action.MANAGER_MESSAGE, {"text": "Можно ли букет без лилий?"})]
    assert "Сообщение отправлено" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    history = page_text(customer_client.get("/account/"))
    assert "Вы написали менеджеру: «Можно ли букет без лилий?»" in history


def test_an_empty_or_too_long_message_is_refused_and_nothing_is_told(customer_client, customer, events):
    empty = customer_client.post(URL, {"text": "   "})
    long = customer_client.post(URL, {"text": "я" * 2001})

    assert empty.status_code == long.status_code == HTTPStatus.FOUND
    assert events == []
    assert not AccountEvent.objects.filter(profile=customer, action=Action.MANAGER_MESSAGE).exists()


def test_messages_count_against_the_account_action_rate_limit(customer_client, customer, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "account_action": "3/m/user"}

    statuses = [customer_client.post(URL, {"text": f"Сообщение {i}"}).status_code for i in range(5)]

    assert statuses == [HTTPStatus.FOUND] * 3 + [HTTPStatus.TOO_MANY_REQUESTS] * 2
    assert AccountEvent.objects.filter(profile=customer, action=Action.MANAGER_MESSAGE).count() == 3


def test_writing_to_the_manager_needs_a_login(client):
    response = client.post(URL, {"text": "Привет"})

    assert response.status_code == HTTPStatus.FOUND and "/login/" in response.url


def contact_block(response) -> str:
    found = re.search(r'<section class="card" id="contact".*?</section>', page_text(response), re.S)
    assert found, "no contact block"
    return found.group(0)


@pytest.mark.parametrize(
    ("text", "said"),
    [("Можно ли букет без лилий?", "Сообщение отправлено"), ("   ", "Обязательное поле.")],
    ids=["sent", "refused"],
)
def test_what_came_of_a_message_is_said_in_the_contact_block_the_page_returns_to(customer_client, text, said):
    # The page comes back scrolled to #contact: a message at the top would be out of sight.
    response = customer_client.post(URL, {"text": text})
    page = customer_client.get(response.url)

    assert said in contact_block(page)
    assert page_text(page).count(said) == 1  # not also at the top
