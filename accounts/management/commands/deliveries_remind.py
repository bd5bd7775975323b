"""Send the reminder emails due now: one before each delivery, one per low-balance shortfall.
Run hourly, from a timer (deploy/flower-account-remind.timer):

    0 * * * *  cd /srv/flower-account && .venv/bin/python manage.py deliveries_remind

or as a long-running process (a Procfile line): `manage.py deliveries_remind --every 3600`.

Safe to run twice or side by side: each email is claimed on its row before it goes (see
accounts/reminders.py for why at-most-once).
"""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts import reminders


class Command(BaseCommand):
    help = "Send the delivery reminders and low-balance emails that are due now. Safe to run twice."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what is due; send nothing.")
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
            self._run_once(dry_run=dry_run)
            if every is None:
                return
            time.sleep(every)

    def _run_once(self, *, dry_run: bool) -> None:
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
