"""Staff see the outbox (waiting / sent / failed, and why) and can send a failed email again, but
never an email's body: it carries sign-in codes and reset links."""

from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from emails import outbox
from emails.models import Email

pytestmark = pytest.mark.django_db

SECRET_BODY = "Ваш код: QWER-TYUI\nhttp://127.0.0.1:8000/reset-password/MQ/secret-token/"


def queue(to: str) -> Email:
    mail.send_mail(
        "Flower Account: код для входа", SECRET_BODY, None, [to], html_message=f"<p>{SECRET_BODY}</p>"
    )
    return Email.objects.get(recipients=to)


def test_staff_see_what_waits_what_went_and_what_failed_with_why(transport, superuser_client):
    waiting, failed = queue("anna@example.ru"), queue("boris@example.ru")
    Email.objects.filter(pk=failed.pk).update(status=Email.Status.FAILED, last_error="SMTPRecipientsRefused")

    page = superuser_client.get(reverse("admin:emails_email_changelist")).content.decode()

    assert "anna@example.ru" in page and "boris@example.ru" in page
    assert "ожидает" in page and "ошибка" in page and "SMTPRecipientsRefused" in page
    failed_only = superuser_client.get(reverse("admin:emails_email_changelist"), {"status": "failed"})
    assert list(failed_only.context["cl"].result_list) == [failed]
    assert waiting.status == Email.Status.WAITING


def test_no_admin_page_shows_an_emails_body(transport, superuser_client):
    email = queue("anna@example.ru")

    pages = [
        superuser_client.get(reverse("admin:emails_email_changelist")),
        superuser_client.get(reverse("admin:emails_email_change", args=[email.pk])),
    ]

    assert [page.status_code for page in pages] == [HTTPStatus.OK, HTTPStatus.OK]
    for page in pages:
        assert "QWER-TYUI" not in page.content.decode() and "secret-token" not in page.content.decode()


def test_send_again_queues_a_failed_email_and_the_worker_sends_it(
    transport, superuser_client, enqueued, django_capture_on_commit_callbacks
):
    email = queue("anna@example.ru")
    Email.objects.filter(pk=email.pk).update(status=Email.Status.FAILED, attempts=30)

    with django_capture_on_commit_callbacks(execute=True):
        answer = superuser_client.post(
            reverse("admin:emails_email_changelist"),
            {"action": "send_again", "_selected_action": [email.pk]},
            follow=True,
        )

    assert "1 письмо поставлено в очередь на повторную отправку." in answer.content.decode()
    assert [r.kwargs for r in enqueued] == [{"email_id": email.pk}]
    outbox.email_send(email_id=email.pk)
    assert Email.objects.get().status == Email.Status.SENT and len(mail.outbox) == 1
