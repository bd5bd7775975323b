"""Send the reminder emails due now: one before each delivery, one per low-balance shortfall.
Run hourly, from a timer (deploy/flower-account-remind.timer):

    0 * * * *  cd /srv/flower-account && .venv/bin/python manage.py deliveries_remind

or as a long-running process (a Procfile line): `manage.py deliveries_remind --every 3600`.

Safe to run twice or side by side: each email is claimed on its row before it goes (see
accounts/reminders.py for why at-most-once).
"""

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
                f"{report.low_balance_due} low-balance email(s); {report.failed} failed (retried next run); "
                f"{report.low_balance_cleared} shortfall(s) covered since."
            )
        )
