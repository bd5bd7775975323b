"""Every email goes through the outbox: queued in the caller's transaction, sent by the worker,
retried with backoff while the mail server refuses or hangs, sent once when it is back, never twice."""

import datetime
import io
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from emails import outbox, tasks
from emails.messages import message_from_dict, message_to_dict
from emails.models import Email
from tests.emails.conftest import smtp_at
from tools.harness.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def queue_one(to: str = "anna@example.ru") -> Email:
    mail.send_mail("Тема", "Ваш код: ABCD-EFGH", None, [to])
    return Email.objects.get(recipients=to)


def later(email: Email) -> datetime.datetime:
    email.refresh_from_db()
    return email.next_attempt_at + datetime.timedelta(seconds=1)


def test_an_email_is_a_row_until_the_worker_sends_it(transport, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_one()
        assert enqueued == []  # the task waits for the commit

    assert email.status == Email.Status.WAITING and mail.outbox == []
    assert [result.args or result.kwargs for result in enqueued] == [{"email_id": email.pk}]

    outbox.email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == Email.Status.SENT and email.sent_at is not None
    assert email.message == {}  # the code is not kept once the server has it
    [sent] = mail.outbox
    assert sent.to == ["anna@example.ru"] and sent.body == "Ваш код: ABCD-EFGH"


def test_an_email_of_a_rolled_back_transaction_is_never_sent(
    transport, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        queue_one()
        raise RuntimeError

    assert Email.objects.count() == 0 and enqueued == []


def test_a_refused_mail_server_leaves_the_email_waiting_and_it_goes_once_when_back(transport, smtp_server):
    transport.update(smtp_at(SmtpServer.refusing_port()))
    email = queue_one()

    retry_at = outbox.email_send(email_id=email.pk).retry_at

    email.refresh_from_db()
    assert email.status == Email.Status.WAITING and email.attempts == 1
    assert email.last_error == "ConnectionRefusedError" and retry_at == email.next_attempt_at > timezone.now()

    transport.update(smtp_at(smtp_server.port))
    outbox.email_send(email_id=email.pk, now=later(email))
    outbox.email_send(email_id=email.pk, now=later(email))

    email.refresh_from_db()
    assert email.status == Email.Status.SENT and email.attempts == 2
    assert [r.recipients for r in smtp_server.received] == [["<anna@example.ru>"]]


def test_a_hanging_mail_server_times_out_and_the_email_goes_once_when_back(transport, smtp_server):
    with SmtpServer(mode="hang") as hanging:
        transport.update(smtp_at(hanging.port, timeout=0.2))  # EMAIL_TIMEOUT, short for the test
        email = queue_one()

        outbox.email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == Email.Status.WAITING and email.last_error in (
        "TimeoutError",
        "SMTPServerDisconnected",
    )
    transport.update(smtp_at(smtp_server.port))
    outbox.email_send(email_id=email.pk, now=later(email))

    email.refresh_from_db()
    assert email.status == Email.Status.SENT and len(smtp_server.received) == 1


def test_retries_back_off_and_wait_for_their_time(transport):
    transport.update(smtp_at(SmtpServer.refusing_port()))
    email = queue_one()
    first = timezone.now()
    outbox.email_send(email_id=email.pk, now=first)
    email.refresh_from_db()
    first_wait = email.next_attempt_at - first

    assert outbox.emails_due() == []  # not before its time
    assert outbox.email_send(email_id=email.pk).retry_at is None and Email.objects.get().attempts == 1

    second = later(email)
    outbox.email_send(email_id=email.pk, now=second)
    email.refresh_from_db()

    assert email.attempts == 2 and email.next_attempt_at - second >= first_wait  # 15–30 s, then 30–60 s


def test_backoff_doubles_up_to_an_hour():
    no_jitter = [outbox.retry_delay(n, jitter=lambda: 1.0).total_seconds() for n in (1, 2, 3, 12)]

    assert no_jitter == [30, 60, 120, 3600]


def test_an_email_is_never_sent_twice_when_its_task_runs_twice(transport, tasks_immediate):
    email = queue_one()  # its own on-commit task never runs: the test is one transaction

    tasks.email_send.enqueue(email_id=email.pk)
    tasks.email_send.enqueue(email_id=email.pk)

    assert len(mail.outbox) == 1 and Email.objects.get().attempts == 1


def test_an_email_another_worker_holds_is_left_alone(transport):
    email = queue_one()
    Email.objects.filter(pk=email.pk).update(claimed_until=timezone.now() + datetime.timedelta(minutes=1))

    outbox.email_send(email_id=email.pk)

    assert mail.outbox == [] and outbox.emails_due() == []


def test_an_email_whose_worker_was_killed_is_due_again_once_its_lease_runs_out(transport):
    email = queue_one()
    Email.objects.filter(pk=email.pk).update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))

    assert outbox.emails_due() == [email.pk]
    outbox.email_send(email_id=email.pk)
    assert len(mail.outbox) == 1


def test_a_refused_recipient_fails_for_good_and_is_not_retried(transport, monkeypatch):
    email = queue_one()
    refused = smtplib.SMTPRecipientsRefused({"anna@example.ru": (550, b"no such mailbox")})
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", _raise(refused))

    assert outbox.email_send(email_id=email.pk).retry_at is None

    email.refresh_from_db()
    assert email.status == Email.Status.FAILED and email.last_error == "SMTPRecipientsRefused"
    assert outbox.emails_due() == []


def test_a_try_later_answer_is_retried(transport, monkeypatch):
    email = queue_one()
    busy = smtplib.SMTPDataError(451, b"try again later")
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", _raise(busy))

    outbox.email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == Email.Status.WAITING and email.last_error == "SMTPDataError 451"


def test_after_the_last_attempt_the_email_fails_for_staff_to_see(transport, monkeypatch):
    email = queue_one()
    Email.objects.filter(pk=email.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", _raise(OSError()))

    outbox.email_send(email_id=email.pk)

    assert Email.objects.get().status == Email.Status.FAILED


def test_a_retry_sends_a_failed_email_again_but_never_a_sent_one(transport):
    failed, sent = queue_one("a@example.ru"), queue_one("b@example.ru")
    Email.objects.filter(pk=failed.pk).update(status=Email.Status.FAILED, attempts=7)
    outbox.email_send(email_id=sent.pk)

    assert outbox.emails_retry(email_ids=[failed.pk, sent.pk]) == [failed.pk]

    failed.refresh_from_db()
    assert failed.status == Email.Status.WAITING and failed.attempts == 0
    assert outbox.emails_due() == [failed.pk]


def test_the_message_keeps_its_html_part_and_one_message_id_across_attempts():
    message = EmailMultiAlternatives(
        "Тема", "текст", "from@example.ru", ["to@example.ru"], bcc=["b@example.ru"]
    )
    message.attach_alternative("<p>текст</p>", "text/html")
    data = message_to_dict(message)

    first, second = message_from_dict(data), message_from_dict(data)

    assert first.alternatives == [("<p>текст</p>", "text/html")] and first.bcc == ["b@example.ru"]
    assert first.message()["Message-ID"] == second.message()["Message-ID"]


def _raise(error: Exception):
    def send_messages(self, messages):
        raise error

    return send_messages


def test_the_sweep_queues_what_is_due_and_nothing_else(
    transport, enqueued, django_capture_on_commit_callbacks
):
    due, later_one = queue_one("a@example.ru"), queue_one("b@example.ru")
    Email.objects.filter(pk=later_one.pk).update(next_attempt_at=timezone.now() + datetime.timedelta(hours=1))
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("emails_send_due", stdout=out)

    assert [r.kwargs for r in enqueued] == [{"email_id": due.pk}]
    assert "Queued: 1 email(s)." in out.getvalue()


def test_the_sweep_queues_no_second_send_while_one_waits_for_the_worker(
    transport, tasks_database, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        waiting = queue_one("a@example.ru")  # queues its own task; the worker is behind
    lost = queue_one("b@example.ru")  # its task was never queued (a crash after the commit)

    for _minute in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("emails_send_due", stdout=io.StringIO())

    queued = DBTaskResult.objects.filter(task_path=tasks.email_send.module_path)
    assert sorted(r.args_kwargs["kwargs"]["email_id"] for r in queued) == [waiting.pk, lost.pk]


def test_a_hung_mail_server_costs_one_timeout_not_one_per_email(transport):
    first, second, third = queue_one("a@example.ru"), queue_one("b@example.ru"), queue_one("c@example.ru")
    with SmtpServer(mode="hang") as hanging:
        transport.update(smtp_at(hanging.port, timeout=0.2))

        for email in (first, second, third):  # their tasks, run one after another by the worker
            outbox.email_send(email_id=email.pk)

    rows = {e.recipients: e for e in Email.objects.all()}
    assert [rows[a].attempts for a in ("a@example.ru", "b@example.ru", "c@example.ru")] == [1, 0, 0]
    assert (
        rows["b@example.ru"].next_attempt_at
        == rows["a@example.ru"].next_attempt_at
        == later(first) - (datetime.timedelta(seconds=1))
    )
    assert outbox.emails_due() == []


def test_an_answer_about_one_email_does_not_hold_back_the_others(transport, monkeypatch):
    first, second = queue_one("a@example.ru"), queue_one("b@example.ru")
    busy = smtplib.SMTPDataError(451, b"try again later")
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", _raise(busy))

    outbox.email_send(email_id=first.pk)

    assert outbox.emails_due() == [second.pk]


def test_when_a_retry_goes_through_the_emails_that_waited_with_it_go_too(
    transport, tasks_immediate, monkeypatch
):
    first = queue_one("a@example.ru")
    queue_one("b@example.ru")
    transport.update(smtp_at(SmtpServer.refusing_port()))
    outbox.email_send(email_id=first.pk)  # the server is down: both wait
    transport.update(BACKEND="django.core.mail.backends.locmem.EmailBackend", OPTIONS={})
    monkeypatch.setattr(timezone, "now", lambda: later(first))

    tasks.email_send.enqueue(email_id=first.pk)  # its retry, when the server is back

    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.ru", "b@example.ru"]
    assert set(Email.objects.values_list("status", flat=True)) == {Email.Status.SENT}


def test_pruning_forgets_old_sent_emails_and_keeps_the_rest(transport):
    old, recent, waiting = queue_one("a@example.ru"), queue_one("b@example.ru"), queue_one("c@example.ru")
    for email in (old, recent):
        outbox.email_send(email_id=email.pk)
    Email.objects.filter(pk=old.pk).update(sent_at=timezone.now() - datetime.timedelta(days=31))
    Email.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - datetime.timedelta(days=60))
    out = io.StringIO()

    call_command("emails_prune", "--days", "30", stdout=out)

    assert sorted(Email.objects.values_list("recipients", flat=True)) == ["b@example.ru", "c@example.ru"]
    assert "Deleted 1 sent email(s) older than 30 days." in out.getvalue()


def test_an_email_queued_while_the_server_is_down_waits_for_the_next_try_without_one_of_its_own(transport):
    first = queue_one("a@example.ru")
    transport.update(smtp_at(SmtpServer.refusing_port()))
    outbox.email_send(email_id=first.pk)
    first.refresh_from_db()
    latecomer = queue_one("b@example.ru")

    outbox.email_send(email_id=latecomer.pk)

    latecomer.refresh_from_db()
    assert latecomer.attempts == 0 and latecomer.next_attempt_at == first.next_attempt_at
    assert first.failed_on_server and not latecomer.failed_on_server


def test_emails_go_ahead_of_every_amocrm_task_in_the_workers_queue():
    from accounts.tasks import login_code_send
    from amocrm import tasks as amocrm_tasks
    from emails.tasks import email_send

    crm_priorities = [
        amocrm_tasks.sync_profile.priority,
        amocrm_tasks.sync_profiles.priority,
        amocrm_tasks.webhook_apply.priority,
    ]
    assert email_send.priority > max(crm_priorities)
    assert login_code_send.priority > max(crm_priorities)  # the sign-in code's email is written there
