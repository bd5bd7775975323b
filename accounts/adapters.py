"""allauth customised in one place (STYLE §7): only what our settings cannot say."""

import logging
from importlib import import_module
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpRequest
from django.shortcuts import redirect
from django.utils.translation import gettext

from accounts import emails

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter, with addresses normalised and look-alikes refused (accounts.emails)."""

    def clean_email(self, email: str) -> str:
        email = emails.normalize(email)
        emails.validate_one_script(email)
        return super().clean_email(email)

    def login(self, request: HttpRequest, user: Any) -> None:
        """Log the user in; when the database fails at this point, send them to sign in again.

        After a signup the account is already committed: a 500 here (the database restarting)
        made the customer sign up again and hear that the address was taken.
        """
        try:
            super().login(request, user)
        except DatabaseError:
            logger.warning("accounts.login_not_saved user_id=%s", user.pk)
            # A fresh, untouched session: the response must not try to write the one that failed.
            request.session = import_module(settings.SESSION_ENGINE).SessionStore()
            request.user = AnonymousUser()
            messages.warning(
                request,
                gettext("Your account is safe, but we could not sign you in just now. Please sign in again."),
            )
            raise ImmediateHttpResponse(redirect("account_login")) from None

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """Key the failed-login lock by the email alone, so it holds on every page and host.

        allauth prefixes the site's domain, which without django.contrib.sites is the Host header
        with its port; ALLOWED_HOSTS ignores ports, so each port was a fresh 5-per-5-minutes bucket.
        The admin logs in through the same form, so one lock covers both pages. The address is
        normalised as everywhere else, so `Mike@…` and `ＭＩＫＥ@…` share one lock.
        """
        return emails.normalize(credentials.get("email", credentials.get("username", "")))
