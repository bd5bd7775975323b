"""Make the amoCRM account ready: the lead custom fields the site syncs, and their enums.

Finds each field by its code (FA_*) or name, creates what is missing with the right type, adds
missing select enums (existing enums keep their ids), and stores every id in the database.
Run it again after adding bouquet categories in the admin; a run with nothing to do changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError

from amocrm.exceptions import AmoCRMError, AmoCRMRightsRefused
from amocrm.services import connection, fields


class Command(BaseCommand):
    help = "Create or update the amoCRM lead custom fields and enums the site syncs, and store their ids."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; change nothing.")

    def handle(self, *args, dry_run: bool, **options) -> None:
        try:
            report = fields.fields_setup(client=connection.client_get(), dry_run=dry_run)
        except AmoCRMRightsRefused as e:
            raise CommandError(f"amoCRM refused the field set-up: {e.ADMIN_NEEDED} ({e}).") from e
        except AmoCRMError as e:
            raise CommandError(f"amoCRM field setup failed: {e}") from e
        for line in report.lines:
            self.stdout.write(line)
        created, updated = report.fields_created, report.fields_updated
        if dry_run:
            self.stdout.write(
                f"Dry run: would create {created} field(s) and update {updated}; nothing was changed."
            )
        elif report.changed:
            self.stdout.write(
                self.style.SUCCESS(f"Done: created {created} field(s), updated {updated}; ids stored.")
            )
        else:
            self.stdout.write(self.style.SUCCESS("Nothing to change: amoCRM is set up."))
