"""The forgot-password page only enqueues; the worker's task looks the address up and mails."""

from http import HTTPStatus

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import tasks

pytestmark = pytest.mark.django_db


def ask(client: Client, email: str, capture, *, execute: bool = True):
    with capture(execute=execute):
        return client.post(reverse("account_reset_password"), {"email": email}, follow=True)


def test_the_request_enqueues_the_mail_and_sends_nothing(
    client, customer, enqueued, django_capture_on_commit_callbacks
):
    response = ask(client, customer.user.email, django_capture_on_commit_callbacks)

    assert response.redirect_chain == [("/forgot-password/sent/", HTTPStatus.FOUND)]
    assert mail.outbox == []
    assert [(r.task.name, r.args, r.kwargs) for r in enqueued] == [
        ("password_reset_send", [], {"email": customer.user.email})
    ]


def test_the_mail_is_enqueued_only_after_the_request_commits(
    client, customer, enqueued, django_capture_on_commit_callbacks
):
    ask(client, customer.user.email, django_capture_on_commit_callbacks, execute=False)

    assert list(enqueued) == []


def test_a_known_and_an_unknown_address_enqueue_the_same_work_and_get_the_same_page(
    customer, enqueued, django_capture_on_commit_callbacks
):
    known = ask(Client(), customer.user.email, django_capture_on_commit_callbacks)
    unknown = ask(Client(), "nobody@example.ru", django_capture_on_commit_callbacks)

    assert known.content == unknown.content
    assert [(r.task.name, sorted(r.kwargs)) for r in enqueued] == [
        ("password_reset_send", ["email"]),
        ("password_reset_send", ["email"]),
    ]
    assert mail.outbox == []


def test_the_task_sends_the_russian_mail_with_a_working_link(client, customer, settings):
    settings.SITE_URL = "https://flowers.example.ru"

    tasks.password_reset_send.call(email=customer.user.email.upper())

    [message] = mail.outbox
    assert message.to == [customer.user.email]
    assert message.subject == "Flower Account: смена пароля"
    link = message.body.split("https://flowers.example.ru", 1)[1].split()[0]
    assert client.get(link, follow=True).context["validlink"] is True


def test_the_task_for_an_unknown_or_invalid_address_sends_nothing(db):
    tasks.password_reset_send.call(email="nobody@example.ru")
    tasks.password_reset_send.call(email="not an address")

    assert mail.outbox == []


def test_the_reset_mail_has_an_html_part_with_the_same_working_link(client, customer, settings):
    settings.SITE_URL = "https://flowers.example.ru"

    tasks.password_reset_send.call(email=customer.user.email)

    [message] = mail.outbox
    [(html, kind)] = message.alternatives
    link = message.body.split("https://flowers.example.ru", 1)[1].split()[0]
    assert kind == "text/html" and 'lang="ru"' in html
    assert f'href="https://flowers.example.ru{link}"' in html and "Здравствуйте!" in html
