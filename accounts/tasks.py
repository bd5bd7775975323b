"""Background work of the accounts app on django.tasks (`manage.py db_worker` runs it).

Thin wrappers taking JSON-ready arguments and calling one service; the views enqueue them after
commit.
"""

from django.tasks import task

from accounts import password_reset


@task
def password_reset_send(email: str) -> None:
    """Send the reset mail for an address typed on the forgot-password page (or nothing)."""
    password_reset.password_reset_send(email=email)
