"""The mail settings as the environment makes them: the outbox is the default mailer, and the worker's
SMTP transport gives up on a silent server after EMAIL_TIMEOUT seconds (5 unless told)."""

import os
import subprocess
import sys

import pytest

CODE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.MAILERS['default']['BACKEND'], settings.MAILERS['transport']['OPTIONS']['timeout'])"
)


@pytest.mark.parametrize(("timeout", "expected"), [(None, "5"), ("2.5", "2.5")])
def test_the_worker_waits_email_timeout_seconds_for_the_mail_server(timeout, expected):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flower_account.settings"}
    env.update(EMAIL_URL="smtp://mailer:secret@smtp.example.ru:587", SECRET_KEY="test-only-insecure-key")
    env.pop("EMAIL_TIMEOUT", None)
    if timeout is not None:
        env["EMAIL_TIMEOUT"] = timeout

    printed = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    assert printed.stdout.split() == ["emails.backends.OutboxBackend", expected]
