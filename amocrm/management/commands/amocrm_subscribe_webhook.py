"""Register the site's webhook with amoCRM, for lead add/update/status/delete events.

    manage.py amocrm_subscribe_webhook            # subscribe, or nothing when already subscribed
    manage.py amocrm_subscribe_webhook --dry-run  # only say whether a subscription is needed

The destination is SITE_URL/amocrm/webhook/<AMOCRM_WEBHOOK_SECRET>/. The current subscriptions are
listed first: when amoCRM already has ours with every event, nothing is sent. Changing the secret
means subscribing again (and removing the old destination in amoCRM's settings → Webhooks).
The secret is never printed.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from amocrm.exceptions import AmoCRMError, AmoCRMRightsRefused
from amocrm.services import connection, webhook_events


class Command(BaseCommand):
    help = "Subscribe SITE_URL/amocrm/webhook/<secret>/ to amoCRM's lead events (safe to run twice)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Check only; subscribe nothing.")

    def handle(self, *args, dry_run: bool, **options) -> None:
        if not connection.is_enabled():
            raise CommandError("The amoCRM integration is off: set AMOCRM_BASE_URL and credentials first.")
        if not settings.AMOCRM_WEBHOOK_SECRET:
            raise CommandError("Set AMOCRM_WEBHOOK_SECRET first (a long random string).")
        shown = webhook_events.webhook_url(secret="SECRET")  # noqa: S106 - a placeholder: never print the secret
        try:
            needed = webhook_events.webhook_subscribe(dry_run=dry_run)
        except AmoCRMRightsRefused as e:
            raise CommandError(f"amoCRM refused the subscription: {e.ADMIN_NEEDED} ({e}).") from e
        except AmoCRMError as e:
            raise CommandError(f"amoCRM refused the subscription: {e}") from e
        events = ", ".join(webhook_events.WEBHOOK_EVENTS)
        if not needed:
            self.stdout.write(f"Already subscribed: {shown} ({events}).")
        elif dry_run:
            self.stdout.write(f"Would subscribe {shown} ({events}).")
        else:
            self.stdout.write(self.style.SUCCESS(f"Subscribed {shown} ({events})."))
