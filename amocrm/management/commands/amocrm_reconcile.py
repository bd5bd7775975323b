"""Read back what changed in amoCRM and apply it by the webhooks' rules: the two sides converge even
when hooks were lost. Run every 5 minutes (AMOCRM_RECONCILE_INTERVAL), from a timer:

    */5 * * * *  cd /srv/flower-account && .venv/bin/python manage.py amocrm_reconcile

or as a long-running process (a Procfile line): `manage.py amocrm_reconcile --every 300`.

Cheap when nothing changed (one request per kind, answered 204); safe beside webhooks and beside
itself (a second run finds the first one's lease and leaves); after downtime it pages until done,
saving its place after every page. See amocrm/services/reconcile.py.
"""

from django.core.management.base import CommandError

from amocrm.exceptions import AmoCRMError
from amocrm.services import connection, reconcile
from flower_account.commands import RepeatableCommand


class Command(RepeatableCommand):
    help = "Apply the changes made in amoCRM since the last run (reconciliation when webhooks are lost)."
    dry_run_help = "Count what would change; change nothing."

    def run_once(self, *, dry_run: bool, keep_going: bool) -> None:
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
