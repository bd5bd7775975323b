"""Background work of the accounts app on django.tasks (`manage.py db_worker` runs it).

Thin wrappers taking JSON-ready arguments and calling one service; the views enqueue them after
commit.
"""

from django.tasks import task

from accounts import login_code_mail, password_reset

# A code lives five minutes: as the outbox's emails.tasks.email_send, ahead of the CRM sync in the queue.
LOGIN_CODE_PRIORITY = 90


@task
def password_reset_send(email: str) -> None:
    """Send the reset mail for an address typed on the forgot-password page (or nothing)."""
    password_reset.password_reset_send(email=email)


@task(priority=LOGIN_CODE_PRIORITY)
def login_code_send(email: str, code: str) -> None:
    """Send a sign-in code asked for on /login/code/ (or nothing, for an unknown address)."""
    login_code_mail.login_code_send(email=email, code=code)
