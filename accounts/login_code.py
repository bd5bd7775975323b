"""Sign-in by a code sent by email (allauth's login by code) under the same lockout as passwords.

allauth limits code requests (ACCOUNT_RATE_LIMITS["request_login_code"]) and guesses per code
(ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS), but a code never goes through `authenticate`, so the
failed-login lockout of passwords (`login_failed`: per address and per IP) would not see it. These
two forms, plugged in through allauth's ACCOUNT_FORMS, make it one lockout: a wrong code counts as
a failed login for that address, and while the address is locked out no code is sent or accepted.
The answers are the same for known and unknown addresses (the lockout counts addresses, not users).
"""

from allauth.account import forms as allauth_forms
from allauth.account.adapter import get_adapter
from allauth.account.internal.stagekit import unstash_login
from allauth.core import context, ratelimit
from django import forms
from django.http import HttpRequest


def _lockout(request: HttpRequest, email: str, *, dry_run: bool) -> bool:
    """True while `email` may still try (and, unless `dry_run`, count one failed try)."""
    # The key allauth's own password check counts failed logins under (the address: accounts.adapters).
    key = get_adapter(request)._get_login_attempts_cache_key(request, email=email)
    return ratelimit.consume(request, action="login_failed", key=key, dry_run=dry_run)


class RequestLoginCodeForm(allauth_forms.RequestLoginCodeForm):
    def clean_email(self) -> str:
        # allauth's form skips the adapter's clean_email: normalise and refuse look-alikes here, as
        # signup and the password login do, before the address is looked up, counted or mailed.
        if self.cleaned_data.get("email"):
            self.cleaned_data["email"] = get_adapter().clean_email(self.cleaned_data["email"])
        email = super().clean_email()
        if email and not _lockout(context.request, email, dry_run=True):
            raise get_adapter().validation_error("too_many_login_attempts")
        return email


class ConfirmLoginCodeForm(allauth_forms.ConfirmLoginCodeForm):
    def clean_code(self) -> str:
        request = context.request
        login = unstash_login(request, peek=True)  # the sign-in this code is for (allauth's stash)
        email = (login.email if login else "") or ""
        if email and not _lockout(request, email, dry_run=True):
            raise get_adapter().validation_error("too_many_login_attempts")
        try:
            return super().clean_code()
        except forms.ValidationError:
            if email:
                _lockout(request, email, dry_run=False)
            raise
