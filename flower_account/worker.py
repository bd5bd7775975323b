"""The task worker that outlives its database, and the reaper of tasks whose worker died.

django-tasks-db 0.13's worker exits on the first OperationalError (a PostgreSQL restart took both
workers down; only systemd brought them back), and a task it was running stays RUNNING for ever:
the library has no lease. Here:
  * the loop is the library's (claim the next task in an exclusive transaction, run it), but a
    database error closes the connections, waits (1 s, doubling up to 30 s) and goes on;
  * once the database answers again, the tasks this worker had claimed and not finished are failed
    and queued again at once: this worker knows it is no longer running them;
  * every minute one worker fails and re-queues tasks RUNNING longer than TASKS_RUNNING_LEASE
    (their worker was killed). The UPDATE that fails a task is conditional, so a task is re-queued
    once however many workers reap. Tasks are idempotent (their outbox rows say what is left).

Why a copy of the library's loop and not a subclass hook: its `Worker.run` is one `while` loop that
calls no method of ours between two claims (only `run_task`, and only when a task was claimed),
re-raises every OperationalError but SQLite's lock, and sleeps with the module's `time.sleep`. A
wrapper that restarts `super().run()` after an outage could not reap from an idle worker nor tell a
claim that went through. So `run` and `_step` mirror UPSTREAM's `Worker.run` (see the comments on
them) and `run_task` calls the library's own; tests/test_worker.py fails once the installed
django-tasks-db is another version, so an upgrade re-reads upstream's loop first.
"""

import contextlib
import datetime
import logging
import random
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connections
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

logger = logging.getLogger(__name__)

RECONNECT_FIRST_WAIT = 1.0  # seconds; doubles while the database stays away
RECONNECT_MAX_WAIT = 30.0
REAP_EVERY = 60.0  # seconds between two looks for tasks past their lease
ABANDONED = "flower_account.worker.WorkerLost"  # the exception path staff see on a reaped task
LOST_DATABASE_ERRORS = {"django.db.utils.OperationalError", "django.db.utils.InterfaceError"}
# What PostgreSQL's errors say when the connection, not the query, failed ("server closed the
# connection unexpectedly", "terminating connection due to administrator command", "the connection
# is closed"); an OperationalError about the query itself ("no such table") would fail again.
LOST_CONNECTION_WORDS = ("connection", "connect to server", "SSL SYSCALL")
# The django-tasks-db whose django_tasks_db/management/commands/db_worker.py this module and
# flower_account/management/commands/db_worker.py mirror (line numbers below are that file's).
UPSTREAM = "0.13.0"


def tasks_requeue(*, results: "list[DBTaskResult]", why: str) -> int:
    """Fail each task still RUNNING and queue it again; the number re-queued (by this caller)."""
    requeued = 0
    for result in results:
        failed = DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            exception_class_path=ABANDONED,
            traceback=why,
        )
        if not failed:
            continue  # it finished meanwhile, or another worker took it
        task_enqueue_again(result=result, why=why)
        requeued += 1
    return requeued


def task_enqueue_again(*, result: DBTaskResult, why: str) -> None:
    """Queue a new run of `result`'s task with the same arguments, queue and priority."""
    task = result.task.using(queue_name=result.queue_name, priority=result.priority)
    task.enqueue(*result.args_kwargs["args"], **result.args_kwargs["kwargs"])
    logger.warning("tasks.requeued task=%s id=%s why=%s", result.task_name, result.pk, why)


def tasks_reap_expired(*, now: datetime.datetime | None = None) -> int:
    """Re-queue tasks RUNNING longer than TASKS_RUNNING_LEASE: their worker is gone."""
    started_before = (now or timezone.now()) - datetime.timedelta(seconds=settings.TASKS_RUNNING_LEASE)
    expired = list(DBTaskResult.objects.running().filter(started_at__lt=started_before))
    return tasks_requeue(results=expired, why="running past TASKS_RUNNING_LEASE")


def tasks_requeue_own(*, worker_id: str) -> int:
    """Re-queue the tasks `worker_id` claimed and lost with its database connection."""
    # Few tasks run at a time, and SQLite has no JSON `contains`: filter the list here.
    own = [result for result in DBTaskResult.objects.running() if worker_id in result.worker_ids]
    return tasks_requeue(results=own, why="worker lost its database")


class ResilientWorker(Worker):
    """django-tasks-db's worker, with a loop that survives the database going away."""

    def __init__(self, *args, sleep: Callable[[float], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sleep = sleep or time.sleep
        self._lost_since: float | None = None
        self._wait = RECONNECT_FIRST_WAIT
        self._next_reap = 0.0

    def run(self) -> None:
        # Mirrors Worker.run, lines 95-106 of UPSTREAM (start-up log and delay, the loop), with a
        # database error caught around each step instead of ending the worker.
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        if self.startup_delay and self.interval:
            self.sleep(random.random())  # noqa: S311 - spreads workers that start together
        while self.running:
            try:
                finished = self._step()
            except (OperationalError, InterfaceError) as error:
                if is_locked_database_exception(error):
                    self.sleep(self.interval)  # SQLite's lock: it is released soon
                    continue
                self._database_lost(error)
                continue
            if finished:
                return

    def _step(self) -> bool:
        """Claim and run one task (or wait); True when the worker is done (batch, max tasks)."""
        # Mirrors the body of Worker.run's loop, lines 107-161 of UPSTREAM, in the same order; ours:
        # the database coming back, the reaper, and the reconnect wait reset after a claim.
        close_old_connections()  # as the library does: drop connections past CONN_MAX_AGE or broken
        if self._lost_since is not None:
            self._database_back()
        if time.monotonic() >= self._next_reap:
            tasks_reap_expired()
            self._next_reap = time.monotonic() + REAP_EVERY
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is not None:
                task_result.claim(self.worker_id)
        self._wait = RECONNECT_FIRST_WAIT  # a whole claim went through: the next outage starts afresh
        if task_result is not None:
            self.run_task(task_result)
            close_old_connections()
        elif self.batch:
            logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
            return True
        if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
            logger.info(
                "Run maximum tasks (%d) on worker=%s - exiting gracefully.", self._run_tasks, self.worker_id
            )
            return True
        if self.running and task_result is None:
            self.sleep(self.interval)
        return False

    def run_task(self, db_task_result: DBTaskResult) -> None:
        # When the database goes away under a task, recording its failure fails too: the error
        # reaches run(), and the task, still RUNNING, is re-queued once the database is back.
        super().run_task(db_task_result)
        if db_task_result.status == TaskResultStatus.FAILED and self._lost_database(db_task_result):
            # The task met the outage but its failure was recorded: it did nothing wrong, run it again.
            task_enqueue_again(result=db_task_result, why="the database went away during the task")

    @staticmethod
    def _lost_database(db_task_result: DBTaskResult) -> bool:
        if db_task_result.exception_class_path not in LOST_DATABASE_ERRORS:
            return False
        message = db_task_result.traceback.strip().rsplit("\n", 1)[-1]
        return any(word in message for word in LOST_CONNECTION_WORDS)

    def _database_lost(self, error: DatabaseError) -> None:
        if self._lost_since is None:
            self._lost_since = time.monotonic()
        logger.warning(
            "tasks.worker_database_lost worker_id=%s error=%s retry_in_s=%.0f",
            self.worker_id,
            type(error).__name__,
            self._wait,
        )
        for connection in connections.all(initialized_only=True):
            with contextlib.suppress(DatabaseError):  # already broken: a query opens a new one
                connection.close()
        self.sleep(self._wait)
        self._wait = min(self._wait * 2, RECONNECT_MAX_WAIT)

    def _database_back(self) -> None:
        requeued = tasks_requeue_own(worker_id=self.worker_id)
        logger.warning(
            "tasks.worker_database_back worker_id=%s away_s=%.1f requeued=%s",
            self.worker_id,
            time.monotonic() - (self._lost_since or time.monotonic()),
            requeued,
        )
        self._lost_since = None
