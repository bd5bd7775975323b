"""The task worker (`db_worker`, flower_account.worker) outlives its database and re-queues what it lost.

The database going away is injected in-process: the query that claims a task, or the one that records
a task's outcome, raises PostgreSQL's OperationalError once.
"""

import datetime
from importlib.metadata import version

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, DBTaskResultQuerySet

from amocrm import tasks as amocrm_tasks
from flower_account.worker import ABANDONED, UPSTREAM, ResilientWorker, tasks_reap_expired
from tests import worker_tasks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("tasks_database")]


@pytest.fixture(autouse=True)
def _fresh_task_state():
    worker_tasks.runs.clear()
    worker_tasks.fail_next.clear()


def run_worker(*, waits: list[float] | None = None, **options) -> ResilientWorker:
    """A worker that runs what is queued, then stops; its waits are recorded, not slept."""
    waits = [] if waits is None else waits
    worker = ResilientWorker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=options.get("max_tasks"),
        worker_id="worker-1",
        excluded_queue_names=[],
        sleep=waits.append,
    )
    worker.run()
    return worker


def results(status: str | None = None) -> list[DBTaskResult]:
    rows = DBTaskResult.objects.order_by("enqueued_at")
    return list(rows.filter(status=status) if status else rows)


def test_the_worker_goes_on_after_its_database_connection_drops(monkeypatch):
    worker_tasks.record.enqueue(value="after the restart")
    real_get_locked = DBTaskResultQuerySet.get_locked
    drops = [worker_tasks.database_gone(), worker_tasks.database_gone()]

    def dropped_then_back(self):
        if drops:
            raise drops.pop()
        return real_get_locked(self)

    monkeypatch.setattr(DBTaskResultQuerySet, "get_locked", dropped_then_back)
    waits: list[float] = []

    run_worker(waits=waits)

    assert worker_tasks.runs == ["after the restart"]
    assert waits == [1.0, 2.0]  # it waited, a little longer the second time, and went on


def test_a_task_whose_outcome_was_lost_with_the_database_runs_again_once_it_is_back(monkeypatch):
    worker_tasks.record.enqueue(value="signup 7")
    worker_tasks.fail_next.append(worker_tasks.database_gone())  # the task meets the outage...
    real_set_failed = DBTaskResult.set_failed
    gone = [worker_tasks.database_gone()]

    def cannot_record(self, exc):
        if gone:
            raise gone.pop()  # ...and so does recording its failure: it stays RUNNING
        return real_set_failed(self, exc)

    monkeypatch.setattr(DBTaskResult, "set_failed", cannot_record)

    run_worker()

    first, second = results()
    assert (first.status, first.exception_class_path) == (TaskResultStatus.FAILED, ABANDONED)
    assert (second.status, second.args_kwargs["kwargs"]) == (
        TaskResultStatus.SUCCESSFUL,
        {"value": "signup 7"},
    )
    assert worker_tasks.runs == ["signup 7"]


def test_a_task_that_failed_on_a_lost_connection_runs_again():
    worker_tasks.record.enqueue(value="reset email")
    worker_tasks.fail_next.append(worker_tasks.database_gone())

    run_worker()

    assert [r.status for r in results()] == [TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL]
    assert worker_tasks.runs == ["reset email"]


def test_a_task_that_fails_for_its_own_reasons_is_not_run_again():
    worker_tasks.record.enqueue(value="bad input")
    worker_tasks.fail_next.append(ValueError("bad input"))

    run_worker()

    assert [r.status for r in results()] == [TaskResultStatus.FAILED]


def test_the_reaper_fails_and_requeues_a_task_running_past_its_lease_once(settings):
    settings.TASKS_RUNNING_LEASE = 600
    lost = worker_tasks.record.enqueue(value="killed worker")
    alive = worker_tasks.record.enqueue(value="still running")
    now = timezone.now()
    DBTaskResult.objects.filter(pk=lost.id).update(
        status=TaskResultStatus.RUNNING, started_at=now - datetime.timedelta(seconds=601)
    )
    DBTaskResult.objects.filter(pk=alive.id).update(
        status=TaskResultStatus.RUNNING, started_at=now - datetime.timedelta(seconds=599)
    )

    reaped = [tasks_reap_expired(now=now), tasks_reap_expired(now=now)]  # two workers reap

    assert reaped == [1, 0]
    assert DBTaskResult.objects.get(pk=lost.id).status == TaskResultStatus.FAILED
    assert DBTaskResult.objects.get(pk=alive.id).status == TaskResultStatus.RUNNING
    (again,) = results(TaskResultStatus.READY)
    assert again.args_kwargs["kwargs"] == {"value": "killed worker"}


def test_the_worker_reaps_expired_tasks_as_it_runs(settings):
    settings.TASKS_RUNNING_LEASE = 600
    lost = worker_tasks.record.enqueue(value="killed worker")
    DBTaskResult.objects.filter(pk=lost.id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - datetime.timedelta(hours=1)
    )

    run_worker()

    assert worker_tasks.runs == ["killed worker"]


def test_managers_changes_run_before_a_signup_backlog():
    for profile_id in range(1, 21):
        amocrm_tasks.sync_profile.enqueue(profile_id=profile_id)
    amocrm_tasks.webhook_apply.enqueue(event_ids=[])

    run_worker(max_tasks=1)

    (ran,) = results(TaskResultStatus.SUCCESSFUL)
    assert ran.task_name == "webhook_apply"
    assert len(results(TaskResultStatus.READY)) == 20


def test_db_worker_is_the_resilient_worker(monkeypatch):
    worker_tasks.record.enqueue(value="via manage.py")
    drops = [worker_tasks.database_gone()]
    real_get_locked = DBTaskResultQuerySet.get_locked

    def dropped_once(self):
        if drops:
            raise drops.pop()
        return real_get_locked(self)

    monkeypatch.setattr(DBTaskResultQuerySet, "get_locked", dropped_once)
    monkeypatch.setattr(ResilientWorker, "configure_signals", lambda self: None)
    monkeypatch.setattr("flower_account.worker.time.sleep", lambda seconds: None)

    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", "--interval=0", verbosity=0)

    assert worker_tasks.runs == ["via manage.py"]


def test_a_task_whose_query_fails_is_not_run_again_for_ever():
    from django.db import OperationalError

    worker_tasks.record.enqueue(value="missing table")
    worker_tasks.fail_next.append(OperationalError("no such table: flowers"))

    run_worker()

    assert [r.status for r in results()] == [TaskResultStatus.FAILED]


def test_the_worker_loop_mirrors_the_installed_django_tasks_db():
    # ResilientWorker.run/_step and our db_worker's handle copy django-tasks-db's (no hook for a
    # step between two claims): an upgrade must re-read upstream's loop, port what changed and bump
    # UPSTREAM (flower_account/worker.py says which lines each part mirrors).
    assert version("django-tasks-db") == UPSTREAM
