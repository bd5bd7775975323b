"""Check the amoCRM integration end to end, repair the webhook, and say what staff must fix.

    manage.py amocrm_check              # check, repair the webhook, store the result; exit 1 on problems
    manage.py amocrm_check --dry-run    # check only: repair nothing, store nothing
    manage.py amocrm_check --every 86400

Runs daily from deploy/flower-account-check.timer; the last result is on the control room. Four
requests to amoCRM when all is well (amocrm/services/health.py).
"""

from django.core.management.base import CommandError

from amocrm.services import health
from flower_account.commands import RepeatableCommand


class Command(RepeatableCommand):
    help = "Check the amoCRM connection, pipeline, stages, fields and webhook; repair the webhook."
    dry_run_help = "Check only; repair nothing and store nothing."

    def run_once(self, *, dry_run: bool, keep_going: bool) -> None:
        report = health.health_check(dry_run=dry_run)
        for line in report.lines:
            self.stdout.write(f"  ok     {line}")
        for line in report.repairs:
            self.stdout.write(self.style.WARNING(f"  fixed  {line}"))
        for line in report.problems:
            self.stdout.write(self.style.ERROR(f"  FIX    {line}"))
        summary = f"{report.requests} request(s) to amoCRM."
        if report.is_healthy:
            self.stdout.write(self.style.SUCCESS(f"amoCRM is set up as the site needs. {summary}"))
            return
        message = f"{len(report.problems)} problem(s) for staff to fix. {summary}"
        if keep_going:  # a repeating process reports and carries on; the control room shows it
            self.stderr.write(message)
            return
        raise CommandError(message)
