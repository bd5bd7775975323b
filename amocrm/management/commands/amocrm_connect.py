"""Connect amoCRM on a server with no browser: exchange an authorization code for stored tokens.

Copy the code from the integration's settings in amoCRM (it is single-use and lives about 20 minutes).
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from amocrm.exceptions import AmoCRMError
from amocrm.services import connection, enqueue


class Command(BaseCommand):
    help = "Exchange an amoCRM authorization code for OAuth tokens and store them, encrypted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--code", required=True, help="The authorization code copied from amoCRM.")

    def handle(self, *args, code: str, **options) -> None:
        if not code.strip():
            raise CommandError("--code is empty.")
        try:
            token = connection.oauth_connect(code=code)
        except AmoCRMError as e:
            raise CommandError(f"amoCRM refused the code: {e}") from e
        waiting = enqueue.lead_sync_waiting_enqueue()
        expiry = f"{timezone.localtime(token.expires_at):%Y-%m-%d %H:%M %Z}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Connected {token.base_url}; the access token expires at {expiry}. "
                f"{waiting} waiting profile(s) queued."
            )
        )
