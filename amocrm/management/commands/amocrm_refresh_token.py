"""Refresh the amoCRM OAuth tokens before they expire, so a quiet site never lets them lapse.

The access token lives 24 hours and each refresh token three months (single-use). Run hourly from cron:

    17 * * * *  cd /srv/flower-account && .venv/bin/python manage.py amocrm_refresh_token --margin 3600

Safe to overlap: the refresh runs under a row lock and re-checks the expiry after taking it.
Exits non-zero when amoCRM refuses (a revoked refresh token: staff must reconnect; a blocked account
says so). Once a day it also reads the account's own settings (id, subdomain, time zone).
"""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amocrm.exceptions import AmoCRMAuthError, AmoCRMError
from amocrm.services import connection
from amocrm.services.account import account_current

ACCOUNT_READ_EVERY = datetime.timedelta(hours=23)


class Command(BaseCommand):
    help = "Refresh the amoCRM access token when it expires within the margin (or now with --force)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--margin",
            type=int,
            default=3600,
            help="Refresh when the access token expires within this many seconds (default 3600).",
        )
        parser.add_argument("--force", action="store_true", help="Refresh now, whatever the expiry.")

    def handle(self, *args, margin: int, force: bool, **options) -> None:
        if settings.AMOCRM_LONG_LIVED_TOKEN:
            self.stdout.write("A long-lived token is in use (AMOCRM_LONG_LIVED_TOKEN): nothing to refresh.")
            self._read_account()
            return
        if margin < 0:
            raise CommandError("--margin must be zero or more seconds.")
        try:
            token, refreshed = connection.token_refresh(
                margin=datetime.timedelta(seconds=margin), force=force
            )
        except AmoCRMAuthError as e:
            raise CommandError(
                f"amoCRM refused to refresh the token: {e}. Reconnect at /amocrm/oauth/start/ "
                "or with manage.py amocrm_connect --code CODE."
            ) from e
        except AmoCRMError as e:
            raise CommandError(f"Could not refresh the amoCRM token: {e}") from e
        expiry = f"{timezone.localtime(token.expires_at):%Y-%m-%d %H:%M %Z}"
        if refreshed:
            self.stdout.write(self.style.SUCCESS(f"Refreshed; the access token now expires at {expiry}."))
        else:
            self.stdout.write(f"Still valid until {expiry}; not refreshed (use --force to refresh now).")
        self._read_account()

    def _read_account(self) -> None:
        # Once a day (this runs hourly): the account's time zone or subdomain may have changed.
        connection.account_read(max_age=ACCOUNT_READ_EVERY)
        account = account_current()
        if account is not None:
            self.stdout.write(f"Account {account} — time zone {account.timezone}.")
