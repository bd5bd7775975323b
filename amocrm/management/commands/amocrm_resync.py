"""Re-send profiles to amoCRM in bulk: after connecting the CRM, after fixing a failure, or to repair leads.

    manage.py amocrm_resync              # every profile not synced yet (pending, failed, never recorded)
    manage.py amocrm_resync --failed     # only the ones that failed permanently (after fixing the cause)
    manage.py amocrm_resync --all        # every profile: all fields sent again, overwriting CRM edits
    manage.py amocrm_resync --all --now  # in this process instead of the worker (no worker running)

With --all or --failed every lead gets all its fields again (a repair); by default a lead gets
what differs from what was last sent (so a second run after a first sync sends nothing). Batches
of 50 leads a request (new leads through leads/complex, the others through PATCH) within the
deployment-wide rate limit; many new leads at once match their contacts against one listing of
the account's contacts (one request per 250) instead of a search each. --now shows the progress
batch by batch. Queued by default: the worker (`manage.py db_worker`) sends them. Safe to run
twice: a profile a worker holds is skipped and rows are claimed before anything is sent.
"""

from django.core.management.base import BaseCommand, CommandError

from amocrm.client import chunks
from amocrm.exceptions import AmoCRMError
from amocrm.services import connection, enqueue, lead_sync, outbox
from amocrm.services.contacts import ContactFinder


class Command(BaseCommand):
    help = "Queue (or with --now, send) a resync of profiles to amoCRM in batches of 50 leads a request."

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--failed",
            action="store_const",
            dest="which",
            const="failed",
            help="Only failed profiles and those whose lead was deleted in amoCRM.",
        )
        which.add_argument("--all", action="store_const", dest="which", const="all", help="Every profile.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the profiles; send and queue nothing."
        )
        parser.add_argument(
            "--now", action="store_true", help="Send from this process instead of queueing for the worker."
        )

    def handle(self, *args, which: str | None, dry_run: bool, now: bool, **options) -> None:
        which = which or "unsynced"
        # A repair sends every field; catching up on what is not synced yet sends what differs.
        full = which in ("all", "failed")
        profile_ids = outbox.lead_sync_select(which=which)
        if dry_run:
            self.stdout.write(f"{len(profile_ids)} profile(s) would be resynced ({which}).")
            return
        if not connection.is_enabled():
            raise CommandError("The amoCRM integration is off: set AMOCRM_BASE_URL and credentials first.")
        if not profile_ids:
            self.stdout.write("Nothing to resync.")
            return
        if not now:
            count = enqueue.lead_sync_enqueue(profile_ids=profile_ids, full=full)
            self.stdout.write(
                self.style.SUCCESS(f"Queued {len(profile_ids)} profile(s) in {count} task(s) for the worker.")
            )
            return
        totals: dict[str, int] = {}
        done = 0

        def progress(recorded: int, total: int) -> None:
            self.stdout.write(f"  {done + recorded}/{len(profile_ids)} profiles")

        try:
            client = connection.client_get()
            contacts = ContactFinder(client)  # one listing of the account for the whole run
            for chunk in chunks(profile_ids, outbox.SYNC_TASK_SIZE):
                report = lead_sync.lead_sync_profiles(
                    profile_ids=chunk, full=full, client=client, progress=progress, contacts=contacts
                )
                done += len(chunk)
                for key, value in report.as_dict().items():
                    totals[key] = totals.get(key, 0) + value
        except AmoCRMError as e:
            raise CommandError(f"amoCRM resync stopped: {e}") from e
        summary = ", ".join(f"{key} {value}" for key, value in totals.items())
        self.stdout.write(self.style.SUCCESS(f"Resynced {len(profile_ids)} profile(s): {summary}."))
