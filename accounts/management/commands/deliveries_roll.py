from django.core.management.base import BaseCommand

from accounts import delivery_actions


class Command(BaseCommand):
    help = (
        "Move every subscription's window of planned deliveries one day on and end pauses whose "
        "resume date has come. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        counts = delivery_actions.deliveries_roll(dry_run=dry_run)
        verb = "Would roll" if dry_run else "Rolled"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {counts['profiles']} subscriptions, resumed {counts['resumed']} paused."
            )
        )
