"""allauth customised in one place (STYLE §7): only what our settings cannot say."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from accounts import emails


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter, with addresses normalised and look-alikes refused (accounts.emails)."""

    def clean_email(self, email: str) -> str:
        email = emails.normalize(email)
        emails.validate_one_script(email)
        return super().clean_email(email)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """Key the failed-login lock by the email alone, so it holds on every page and host.

        allauth prefixes the site's domain, which without django.contrib.sites is the Host header
        with its port; ALLOWED_HOSTS ignores ports, so each port was a fresh 5-per-5-minutes bucket.
        The admin logs in through the same form, so one lock covers both pages. The address is
        normalised as everywhere else, so `Mike@…` and `ＭＩＫＥ@…` share one lock.
        """
        return emails.normalize(credentials.get("email", credentials.get("username", "")))
