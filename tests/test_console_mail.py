"""Where no email is sent (EMAIL_URL=consolemail://, `make run`), the console shows each email as
the customer reads it: a Russian body, a reset link and a sign-in code are readable, not base64."""

import io
import os
import subprocess
import sys

from django.core.mail import EmailMultiAlternatives

from flower_account.console_mail import EmailBackend


def test_a_russian_email_is_printed_readably_with_its_other_parts_named():
    stream = io.StringIO()
    message = EmailMultiAlternatives(
        "Flower Account: код для входа",
        "Здравствуйте!\n\nВаш код: BGRS-TSSM\nhttp://127.0.0.1:8000/reset/Mg/abc-123/",
        "Flower Account <noreply@flower-account.local>",
        ["анна@example.ru"],
    )
    message.attach_alternative("<p>Здравствуйте!</p>", "text/html")

    EmailBackend(stream=stream).send_messages([message])

    printed = stream.getvalue()
    assert "Subject: Flower Account: код для входа" in printed
    assert "To: анна@example.ru" in printed
    assert "Ваш код: BGRS-TSSM\nhttp://127.0.0.1:8000/reset/Mg/abc-123/" in printed
    assert "(also in this email: text/html)" in printed
    assert "base64" not in printed


def test_consolemail_in_the_environment_picks_the_readable_backend():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flower_account.settings", "EMAIL_URL": "consolemail://"}
    env.setdefault("SECRET_KEY", "test-only-insecure-key")
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.MAILERS['transport']['BACKEND'])"
    )

    chosen = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    assert chosen.stdout.strip() == "flower_account.console_mail.EmailBackend"
