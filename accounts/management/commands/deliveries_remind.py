"""Send the reminder emails due now: one before each delivery, one per low-balance shortfall.
Run hourly, from a timer (deploy/flower-account-remind.timer):

    0 * * * *  cd /srv/flower-account && .venv/bin/python manage.py deliveries_remind

or as a long-running process (a Procfile line): `manage.py deliveries_remind --every 3600`.

Safe to run twice or side by side: each email is claimed on its row as it is queued (see
accounts/reminders.py). The emails go out through the outbox (emails.outbox), which retries what
the mail server does not take and shows it to staff; "failed" here is an email this run could not
queue (a template or the database broke): its claim is given back, and a one-off run exits 1 so its
timer shows the failure. With --every, the process goes on and the next round retries.
"""

from django.core.management.base import CommandError

from accounts import reminders
from flower_account.commands import RepeatableCommand


class Command(RepeatableCommand):
    help = "Send the delivery reminders and low-balance emails that are due now. Safe to run twice."
    dry_run_help = "Count what is due; send nothing."

    def run_once(self, *, dry_run: bool, keep_going: bool) -> None:
        def progress(report: reminders.Report) -> None:
            done = report.sent + report.failed
            if done % 50 == 0 or done == report.due:
                self.stdout.write(f"reminders: {done}/{report.due} ({report.failed} failed)")

        report = reminders.reminders_send(dry_run=dry_run, progress=progress)
        if dry_run:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Due: {report.due} reminder(s), {report.low_balance_due} low-balance email(s); "
                    "nothing sent."
                )
            )
            return
        style = self.style.WARNING if report.failed else self.style.SUCCESS
        self.stdout.write(
            style(
                f"Sent {report.sent} of {report.due} reminder(s) and {report.low_balance_sent} of "
                f"{report.low_balance_due} low-balance email(s) to the outbox; {report.failed} failed "
                f"(retried next run); "
                f"{report.low_balance_cleared} shortfall(s) covered since."
            )
        )
        if report.failed and not keep_going:
            raise CommandError(f"{report.failed} email(s) could not be queued; the next run retries them.")
