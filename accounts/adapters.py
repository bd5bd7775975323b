"""allauth customised in one place (STYLE §7): only what our settings cannot say.

Failed sign-ins are counted so that nobody can lock anybody out (docs/security.md): allauth's
`login_failed` limit is keyed by the client IP *and* the address, so a stranger who fails fifty
times locks only their own IP out of that address, and a slower ceiling per address
(`login_failed_address`) still bounds guesses spread over many IPs. Sign-in by code has its own
limits and ignores both (accounts.login_code), so the owner always has a way in.
"""

import logging
from importlib import import_module
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal import ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import emails

logger = logging.getLogger(__name__)


def _address(credentials: dict[str, Any]) -> str:
    return emails.normalize(credentials.get("email", credentials.get("username", "")))


def client_address_key(request: HttpRequest, email: str) -> str:
    """`<client IP>:<address>`: the key of every per-address limit a stranger must not use up.

    The IP is allauth's own (the trusted proxy count, IPv6 cut to its /64), so one owner of the
    IP rule. The address is normalised as everywhere else, so `Mike@…` and `ＭＩＫＥ@…` share a key.
    """
    return f"{ratelimit.get_ip(request)}:{emails.normalize(email)}"


LOGGED_IN_MESSAGE = "account/messages/logged_in.txt"
WELCOME_MESSAGE = "account/messages/welcome.txt"


CODE_SPENT_MESSAGE = _(
    "This code no longer works: it was typed wrong too many times. Ask for a new code or log in with "
    "your password."
)


def _is_code_page(request: HttpRequest) -> bool:
    return getattr(request.resolver_match, "url_name", None) == "account_confirm_login_code"


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter, with addresses normalised and look-alikes refused (accounts.emails)."""

    is_signing_up = False

    def post_login(self, request: HttpRequest, user: Any, *, signup: bool, **kwargs: Any) -> HttpResponse:
        """A new customer is welcomed, not told "Successfully signed in as …" (add_message below)."""
        self.is_signing_up = signup
        try:
            return super().post_login(request, user, signup=signup, **kwargs)
        finally:
            self.is_signing_up = False

    def add_message(
        self, request: HttpRequest, level: int, message_template: str | None = None, *args, **kwargs
    ):
        if self.is_signing_up and message_template == LOGGED_IN_MESSAGE:
            message_template = WELCOME_MESSAGE
        if kwargs.get("message") == self.error_messages["too_many_login_attempts"] and _is_code_page(request):
            # Wrong codes end the code, not the sign-in: a new code can be asked for at once.
            kwargs["message"] = CODE_SPENT_MESSAGE
        super().add_message(request, level, message_template, *args, **kwargs)

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
        """Key the failed-login lock by (client IP, address), the same on every page and host.

        allauth keys it by the address alone, so anyone anywhere could lock the owner out with five
        wrong passwords. It also prefixes the site's domain, which without django.contrib.sites is
        the Host header with its port; ALLOWED_HOSTS ignores ports, so each port was a fresh bucket.
        The admin logs in through the same form, so one lock covers both pages.
        """
        return client_address_key(request, _address(credentials))

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """allauth's per-IP and per-(IP, address) check, then the slower ceiling per address.

        The ceiling is taken only once the IP's own lock let the attempt through, so a locked-out
        IP hammering on cannot eat into it; and it joins allauth's usage, so a right password
        gives its slot back (allauth's `authenticate` rolls the usage back on success).
        """
        super().pre_authenticate(request, **credentials)
        ceiling = ratelimit.consume(
            request, app="allauth.account", action="login_failed_address", key=_address(credentials)
        )
        if not ceiling:
            self._rollback_login_failed_rl_usage()
            raise self.validation_error("too_many_login_attempts")
        self._login_failed_rl_usage.usage.extend(ceiling.usage)

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        """A password reset (proof of the mailbox) lifts the IP's lock and the address's ceiling."""
        super()._delete_login_attempts_cached_email(request, **credentials)
        ratelimit.clear(
            request, app="allauth.account", action="login_failed_address", key=_address(credentials)
        )
