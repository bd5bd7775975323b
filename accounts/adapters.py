"""allauth customised in one place (STYLE §7): only what our settings cannot say."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """Key the failed-login lock by the email alone, so it holds on every page and host.

        allauth prefixes the site's domain, which without django.contrib.sites is the Host header
        with its port; ALLOWED_HOSTS ignores ports, so each port was a fresh 5-per-5-minutes bucket.
        The admin logs in through the same form, so one lock covers both pages.
        """
        return credentials.get("email", credentials.get("username", "")).lower()
