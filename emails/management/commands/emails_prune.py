"""Delete sent emails older than N days (30 by default); run daily from the cleanup timer.

A sent email keeps only its envelope (the body is erased once the server has it); a month answers
"did my email go?" without keeping customers' addresses for ever. Waiting and failed emails stay.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError

from emails import outbox


class Command(BaseCommand):
    help = "Delete emails sent more than --days days ago (waiting and failed ones stay)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days", type=int, default=30, help="Keep sent emails this many days (default 30)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count the emails; delete nothing.")

    def handle(self, *args, days: int, dry_run: bool, **options) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1.")
        count = outbox.emails_prune(older_than=datetime.timedelta(days=days), dry_run=dry_run)
        if dry_run:
            self.stdout.write(f"{count} sent email(s) older than {days} days would be deleted.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {count} sent email(s) older than {days} days."))
