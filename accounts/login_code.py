"""Sign-in by a code sent by email (allauth's login by code): the way in nobody can lock.

A stranger who knows an address can fail passwords for it, but cannot read its mailbox, so the code
is the owner's way in whatever the password locks say (docs/security.md). It therefore answers to
neither password lock. Its own limits: code requests per IP and per (client IP, address)
(ACCOUNT_RATE_LIMITS["request_login_code"]; allauth keys the latter by the address alone, which a
stranger could use up for the owner), and three guesses per code, after which the code is dead
(ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS). A code is eight letters from twenty: three guesses in 2.6e10.
The answers are the same for known and unknown addresses.
"""

from allauth.account import app_settings
from allauth.account import forms as allauth_forms
from allauth.account.adapter import get_adapter
from allauth.account.internal.userkit import filter_users_by_email  # the lookup allauth's form makes
from allauth.core import context, ratelimit

from accounts.adapters import client_address_key


class RequestLoginCodeForm(allauth_forms.RequestLoginCodeForm):
    def clean_email(self) -> str:
        """allauth's clean_email, with the address normalised first and the limit per (IP, address)."""
        adapter = get_adapter()
        email = self.cleaned_data["email"]
        if not email:
            return email
        # allauth's form skips the adapter's clean_email: normalise and refuse look-alikes here, as
        # signup and the password login do, before the address is looked up, counted or mailed.
        email = adapter.clean_email(email)
        users = filter_users_by_email(email, is_active=True, prefer_verified=True, for_login=True)
        if not app_settings.PREVENT_ENUMERATION and not users:
            raise adapter.validation_error("unknown_email")
        request = context.request
        if not ratelimit.consume(
            request, action="request_login_code", key=client_address_key(request, email)
        ):
            raise adapter.validation_error("too_many_login_attempts")
        self._user = users[0] if users else None
        return email
