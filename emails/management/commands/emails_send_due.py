"""The safety net under the email outbox: queue a send of every waiting email whose attempt is due.

An email queues its own task when it is written, and a failed attempt queues its retry; this catches
what those miss: a task lost with a killed worker, a lease that ran out, a retry on a task backend
that cannot defer. An email whose send task still waits in the queue (the worker is behind) gets no
second one. Run every minute (deploy/flower-account-emails.timer, or the Procfile's `mail`
line with --every 60). Safe to overlap with the worker and with itself: each email is claimed under
a lease before it is sent, and a sent one is never sent again.
"""

from emails import enqueue, outbox
from flower_account.commands import RepeatableCommand


class Command(RepeatableCommand):
    help = "Queue a send of every waiting email whose next attempt is due (the outbox's safety net)."
    dry_run_help = "Count the due emails; queue nothing."

    def run_once(self, *, dry_run: bool, keep_going: bool) -> None:
        email_ids = outbox.emails_due()
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"Due: {len(email_ids)} email(s)."))
            return
        queued = enqueue.emails_send_enqueue_missing(email_ids=email_ids)
        waiting = len(email_ids) - len(queued)
        note = f" {waiting} already waiting for the worker." if waiting else ""
        self.stdout.write(self.style.SUCCESS(f"Queued: {len(queued)} email(s).{note}"))
