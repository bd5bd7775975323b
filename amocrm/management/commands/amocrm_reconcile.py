"""Read back what changed in amoCRM and apply it by the webhooks' rules: the two sides converge even
when hooks were lost. Run every 5 minutes (AMOCRM_RECONCILE_INTERVAL), from a timer:

    */5 * * * *  cd /srv/flower-account && .venv/bin/python manage.py amocrm_reconcile

or as a long-running process (a Procfile line): `manage.py amocrm_reconcile --every 300`.

Cheap when nothing changed (one request per kind, answered 204); safe beside webhooks and beside
itself (a second run finds the first one's lease and leaves); after downtime it pages until done,
saving its place after every page. See amocrm/services/reconcile.py.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from amocrm.exceptions import AmoCRMError
from amocrm.services import connection, reconcile


class Command(BaseCommand):
    help = "Apply the changes made in amoCRM since the last run (reconciliation when webhooks are lost)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")
        parser.add_argument(
            "--every",
            type=int,
            metavar="SECONDS",
            help="Run again every SECONDS, until stopped (a Procfile process).",
        )

    def handle(self, *args, dry_run: bool, every: int | None, **options) -> None:
        if every is not None and every < 1:
            raise CommandError("--every takes a whole number of seconds, 1 or more.")
        while True:
            self._run_once(dry_run=dry_run, keep_going=every is not None)
            if every is None:
                return
            time.sleep(every)

    def _run_once(self, *, dry_run: bool, keep_going: bool) -> None:
        if not connection.is_enabled():
            self.stdout.write("The amoCRM integration is off: nothing to read.")
            return

        def progress(entity: str, page: int, read: int, drifts: int) -> None:
            self.stdout.write(f"{entity}: page {page}, {read} read, {drifts} drift(s) repaired")

        try:
            report = reconcile.reconcile_run(dry_run=dry_run, progress=progress)
        except AmoCRMError as e:
            if keep_going:  # the next round tries again; the cursor kept its place
                self.stderr.write(f"Reading amoCRM failed: {e}")
                return
            raise CommandError(
                f"Reading amoCRM failed: {e}. The next run resumes where this one stopped."
            ) from e
        if report.busy:
            self.stdout.write("Another run is reading amoCRM: nothing to do.")
            return
        read, drifts = sum(report.read.values()), sum(report.drifts.values())
        verb = "would repair" if dry_run else "repaired"
        self.stdout.write(
            self.style.SUCCESS(
                f"Read {read} changed lead(s)/contact(s) in {report.requests} request(s); "
                f"{verb} {drifts} drift(s)."
            )
        )
