"""The sign-in code's email, written by the task worker (accounts.tasks.login_code_send).

The code request enqueues the same task with the same arguments for every address, known or not
(accounts.login_code.LoginCodeProcess); the account is looked up here, so the request does the same
database work either way and its time tells no one whether the address has an account. The email
itself is a row of the site's outbox (MAILERS default), retried until the mail server takes it.
"""

import logging

from allauth.account.adapter import get_adapter
from allauth.account.internal.userkit import filter_users_by_email  # the lookup allauth's form makes
from django.conf import settings
from django.utils import translation

logger = logging.getLogger(__name__)

TEMPLATE_PREFIX = "account/email/login_code"


def login_code_send(*, email: str, code: str) -> None:
    """Mail the code to the active account with this address; for an unknown address, nothing."""
    if not filter_users_by_email(email, is_active=True, prefer_verified=True, for_login=True):
        logger.info("accounts.login_code_skipped reason=unknown_address")
        return
    # No request in the worker: the email is in the site's language, its subject prefixed by
    # ACCOUNT_EMAIL_SUBJECT_PREFIX (allauth would otherwise ask the request for the site's name).
    with translation.override(settings.LANGUAGE_CODE):
        get_adapter().render_mail(TEMPLATE_PREFIX, email, {"email": email, "code": code}).send()
