"""Pages that send email answer while the mail server is down or slow, and in the same time for a
customer and a stranger: the request writes the same task row for both, the worker the email
(issue 23 item 1, issue 26 item 2)."""

import email as email_parser
import re
from collections.abc import Callable
from http import HTTPStatus

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

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


def test_known_and_unknown_addresses_wait_the_same_for_a_slow_mail_server(transport, customer, enqueued):
    transport.update(BACKEND=f"{__name__}.SlowMailServer")
    waited = {}
    for who, address in (("known", customer.user.email), ("unknown", "nobody@example.ru")):
        before = SlowMailServer.clock
        answer = ask_code(Client(), address)
        waited[who] = SlowMailServer.clock - before
        assert answer.status_code == HTTPStatus.FOUND

    assert waited == {"known": 0.0, "unknown": 0.0}
    # The same task for both; the worker looks the address up and writes the code's email.
    assert [(r.task.name, sorted(r.kwargs)) for r in enqueued] == [("login_code_send", ["code", "email"])] * 2
    assert not Email.objects.exists()


def test_the_code_enqueued_for_an_unknown_address_signs_no_one_in(customer, enqueued):
    client = Client()
    asked = ask_code(client, "nobody@example.ru")
    [request] = enqueued

    answer = client.post(asked.url, {"code": request.kwargs["code"]})

    assert answer.status_code == HTTPStatus.OK and "_auth_user_id" not in client.session


def db_work(send: Callable[[], object], capture) -> list[tuple[str, str]]:
    """The statements one request makes, as production runs it (the outbox, tasks as rows), each as
    its verb and first table: what it costs the database, not which row it touched."""
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        send()
    work = []
    for query in queries.captured_queries:
        table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', query["sql"])
        work.append((query["sql"].split(None, 1)[0], table.group(1) if table else ""))
    return work


@pytest.mark.parametrize("page", ["account_request_login_code", "account_reset_password"])
def test_a_known_and_an_unknown_address_cost_the_request_the_same_database_work(
    page, transport, customer, tasks_database, django_capture_on_commit_callbacks
):
    def ask(address: str) -> Callable[[], object]:
        return lambda: Client().post(reverse(page), {"email": address})

    db_work(ask("warm@example.ru"), django_capture_on_commit_callbacks)  # caches filled on both paths
    known = db_work(ask(customer.user.email), django_capture_on_commit_callbacks)
    unknown = db_work(ask("nobody@example.ru"), django_capture_on_commit_callbacks)

    assert known == unknown
    assert ("INSERT", "django_tasks_database_dbtaskresult") in known  # the one write besides the session
    assert not Email.objects.exists()  # the worker writes the email, for the known address only
    queued = [(row.task_path, tuple(sorted(row.args_kwargs["kwargs"]))) for row in DBTaskResult.objects.all()]
    assert len(set(queued)) == 1


def test_a_code_is_asked_for_while_the_mail_server_is_down_and_arrives_when_it_is_back(
    transport, customer, smtp_server, tasks_immediate
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
