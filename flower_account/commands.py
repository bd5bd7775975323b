"""What the site's periodic commands share: run once (from a timer), or again every N seconds
until stopped (a Procfile process), with a dry run that counts and changes nothing."""

import logging
import time

from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger(__name__)


class RepeatableCommand(BaseCommand):
    """`--dry-run` and `--every SECONDS` for a command whose one round is `run_once`."""

    dry_run_help = "Count what is due; change nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)
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
            # A repeating process keeps going after a failed round (the next one retries); a one-off
            # run reports the failure to its timer.
            try:
                self.run_once(dry_run=dry_run, keep_going=every is not None)
            except Exception as e:
                if every is None:
                    raise
                logger.exception("%s.round_failed", self.__module__.rsplit(".", 1)[-1])
                self.stderr.write(f"This round failed ({e}); the next one runs in {every} s.")
            if every is None:
                return
            time.sleep(every)

    def run_once(self, *, dry_run: bool, keep_going: bool) -> None:
        raise NotImplementedError
