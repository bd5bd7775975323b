"""`db_worker`, as django-tasks-db's, with a worker that outlives a database restart.

Replaces the library's command of the same name (flower_account comes first in INSTALLED_APPS, as
staticfiles replaces `runserver`), so the Procfile, `make run`, systemd and the test harness all
run this one. See flower_account.worker for what it adds.

`handle` mirrors Command.handle, lines 328-376 of django-tasks-db 0.13.0's db_worker.py
(flower_account.worker.UPSTREAM, which tests/test_worker.py checks against the installed version):
the library builds its `Worker` by name, with no attribute naming another class, so ours is built
here; the options, their parsing and the logging set-up stay the library's (inherited).
"""

import os

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from flower_account.worker import ResilientWorker


class Command(db_worker.Command):
    help = "Run the task worker; it reconnects when the database restarts and re-queues lost tasks."

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = ResilientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the child process runs tasks
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
