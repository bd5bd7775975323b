"""Pages that send email answer while the mail server is down or slow, and in the same time for a
customer and a stranger: the request only writes the outbox row (issue 23 item 1, issue 26 item 2)."""

import email as email_parser
import re
from http import HTTPStatus

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse

from emails import outbox
from emails.models import Email
from tests.emails.conftest import smtp_at
from tools.harness.smtp import SmtpServer

pytestmark = pytest.mark.django_db


class SlowMailServer(BaseEmailBackend):
    """A mail server taking 300 ms an email, on a clock of the test's own: no real sleep."""

    clock = 0.0

    def send_messages(self, email_messages) -> int:
        SlowMailServer.clock += 0.3 * len(email_messages)
        return len(email_messages)


def ask_code(client: Client, address: str):
    return client.post(reverse("account_request_login_code"), {"email": address})


def test_known_and_unknown_addresses_wait_the_same_for_a_slow_mail_server(transport, customer):
    transport.update(BACKEND=f"{__name__}.SlowMailServer")
    waited = {}
    for who, address in (("known", customer.user.email), ("unknown", "nobody@example.ru")):
        before = SlowMailServer.clock
        answer = ask_code(Client(), address)
        waited[who] = SlowMailServer.clock - before
        assert answer.status_code == HTTPStatus.FOUND

    assert waited == {"known": 0.0, "unknown": 0.0}
    assert Email.objects.filter(recipients=customer.user.email).count() == 1  # the code waits for the worker


def test_a_code_is_asked_for_while_the_mail_server_is_down_and_arrives_when_it_is_back(
    transport, customer, smtp_server
):
    transport.update(smtp_at(SmtpServer.refusing_port()))
    client = Client()

    asked = ask_code(client, customer.user.email)

    assert asked.status_code == HTTPStatus.FOUND and asked.url == reverse("account_confirm_login_code")
    [queued] = Email.objects.all()
    outbox.email_send(email_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == Email.Status.WAITING and queued.last_error == "ConnectionRefusedError"

    transport.update(smtp_at(smtp_server.port))
    outbox.email_send(email_id=queued.pk, now=queued.next_attempt_at)
    [received] = smtp_server.received
    code = re.search(r"^\s*([A-Z0-9-]{4,})\s*$", _text(received.data), re.M).group(1)
    done = client.post(asked.url, {"code": code})

    assert done.status_code == HTTPStatus.FOUND and done.url == "/account/"


def test_a_reset_asked_for_while_the_mail_server_is_down_waits_in_the_outbox(
    transport, customer, tasks_immediate, django_capture_on_commit_callbacks
):
    transport.update(smtp_at(SmtpServer.refusing_port()))

    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(reverse("account_reset_password"), {"email": customer.user.email})

    assert answer.status_code == HTTPStatus.FOUND
    [waiting] = Email.objects.all()
    assert waiting.recipients == customer.user.email and waiting.status == Email.Status.WAITING
    assert waiting.attempts == 1 and waiting.last_error == "ConnectionRefusedError"


def test_the_reset_email_goes_through_the_outbox_once(
    transport, customer, tasks_immediate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("account_reset_password"), {"email": customer.user.email})

    [sent] = Email.objects.all()
    assert sent.status == Email.Status.SENT
    [message] = mail.outbox
    assert "/reset-password/" in message.body


def _text(data: bytes) -> str:
    parsed = email_parser.message_from_bytes(data)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset())
