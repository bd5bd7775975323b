"""The safety net under the email outbox: queue a send of every waiting email whose attempt is due.

An email queues its own task when it is written, and a failed attempt queues its retry; this catches
what those miss: a task lost with a killed worker, a lease that ran out, a retry on a task backend
that cannot defer. Run every minute (deploy/flower-account-emails.timer, or the Procfile's `mail`
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
        if not dry_run:
            enqueue.emails_send_enqueue(email_ids=email_ids)
        verb = "Due" if dry_run else "Queued"
        self.stdout.write(self.style.SUCCESS(f"{verb}: {len(email_ids)} email(s)."))
