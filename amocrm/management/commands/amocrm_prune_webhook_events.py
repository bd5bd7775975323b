"""Delete stored amoCRM webhook events older than N days (30 by default); run daily from a timer.

Events are kept for staff to look at and reprocess; a month is plenty, and ordering only ever
compares an event with the recent ones of the same lead.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError

from amocrm.services import webhook_events


class Command(BaseCommand):
    help = "Delete amoCRM webhook events received more than --days days ago."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=30, help="Keep events this many days (default 30).")
        parser.add_argument("--dry-run", action="store_true", help="Count the events; delete nothing.")

    def handle(self, *args, days: int, dry_run: bool, **options) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1.")
        count = webhook_events.webhook_events_prune(older_than=datetime.timedelta(days=days), dry_run=dry_run)
        if dry_run:
            self.stdout.write(f"{count} webhook event(s) older than {days} days would be deleted.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {count} webhook event(s) older than {days} days."))
