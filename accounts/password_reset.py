"""Password reset mail, sent by the task worker (accounts.tasks), never inside the request.

The request only validates the address and enqueues `password_reset_send` after commit, whatever
the address: a known and an unknown one cost the page the same, and a slow or failing mail server
never slows it or turns it into an error. The user lookup, the token and the mail all happen here,
in the worker; the token is made here, so its one-day validity starts when the task runs.
The mail itself is a row of the site's email outbox (MAILERS default): a mail server that is down
delays it, and the outbox retries it until the server takes it.
"""

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import translation

from accounts import emails, services

logger = logging.getLogger(__name__)

SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
EMAIL_TEMPLATE = "registration/password_reset_email.txt"
HTML_EMAIL_TEMPLATE = "registration/password_reset_email.html"  # the same words, with a link to tap


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form: the view validates the address with it, the task sends with it."""

    def get_users(self, email: str) -> Iterator[AbstractBaseUser]:
        """The one active account whose normalised address is exactly this one's, if any: never
        Django's `email__iexact`, which on PostgreSQL also matches `ſam@…` for `sam@…`."""
        user = get_user_model()._default_manager.filter(email=emails.normalize(email), is_active=True).first()
        if user is not None and user.has_usable_password():  # the address is unique: one at most
            yield user


def password_reset_send(*, email: str) -> None:
    """Mail a reset link to the active account with this address, if there is one (Django's
    PasswordResetForm.save: only users with a usable password), and note the request in its history."""
    form = PasswordResetForm(data={"email": email})
    if not form.is_valid():
        logger.info("accounts.password_reset_skipped reason=invalid_address")
        return
    site = urlsplit(settings.SITE_URL)
    # No request in the worker: the mail is in the site's language, its link on SITE_URL.
    with translation.override(settings.LANGUAGE_CODE):
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            subject_template_name=SUBJECT_TEMPLATE,
            email_template_name=EMAIL_TEMPLATE,
            html_email_template_name=HTML_EMAIL_TEMPLATE,
            extra_email_context={"site_url": settings.SITE_URL},
        )
    services.password_reset_requested(email=form.cleaned_data["email"])
