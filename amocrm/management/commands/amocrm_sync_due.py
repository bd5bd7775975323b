"""The safety net under the lead sync: re-queue pending profiles whose next attempt is due.

A profile save queues its own task, and a failed sync queues its retry; this catches what those
miss: tasks never queued while the integration was off, a worker killed mid-sync (its lease
expires after five minutes), a retry lost with its task. Webhook events still unapplied a few
minutes after they came are queued again the same way. Run every few minutes from cron:

    */5 * * * *  cd /srv/flower-account && .venv/bin/python manage.py amocrm_sync_due

Safe to overlap with the worker and with itself: a profile a worker holds is skipped, and one
already synced by an earlier task sends nothing.
"""

import datetime

from django.core.management.base import BaseCommand

from amocrm.services import connection, enqueue, outbox, webhook_events

# An event's task runs within seconds of the webhook; one still waiting after this lost its task.
WEBHOOK_STALE_AFTER = datetime.timedelta(minutes=2)


class Command(BaseCommand):
    help = "Queue a sync of every pending profile whose next attempt is due (cron safety net)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count the due profiles; queue nothing.")

    def handle(self, *args, dry_run: bool, **options) -> None:
        stale_events = webhook_events.webhook_events_stale(older_than=WEBHOOK_STALE_AFTER)
        if stale_events and not dry_run:
            enqueue.webhook_events_enqueue(event_ids=stale_events)
        self.stdout.write(f"{len(stale_events)} unapplied webhook event(s) {'due' if dry_run else 'queued'}.")
        if not connection.is_enabled():
            self.stdout.write("The amoCRM integration is off: nothing to queue.")
            return
        profile_ids = outbox.lead_sync_due()
        if dry_run or not profile_ids:
            self.stdout.write(f"{len(profile_ids)} profile(s) due.")
            return
        count = enqueue.lead_sync_enqueue(profile_ids=profile_ids)
        self.stdout.write(self.style.SUCCESS(f"Queued {len(profile_ids)} due profile(s) in {count} task(s)."))
