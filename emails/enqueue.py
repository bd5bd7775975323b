"""Putting emails on the task queue: the one module that imports emails.tasks.

Enqueued only after the transaction that queued the email commits, so the task always finds its
row; an enqueue lost with a crash is caught by `manage.py emails_send_due`, which queues only the
emails that have no send task waiting (a worker behind by minutes got one more a minute each).
"""

from collections.abc import Sequence
from functools import partial

from django.db import transaction
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from emails import tasks


def emails_send_enqueue(*, email_ids: Sequence[int]) -> None:
    for email_id in email_ids:
        transaction.on_commit(partial(tasks.email_send.enqueue, email_id=email_id), robust=True)


def emails_send_enqueue_missing(*, email_ids: Sequence[int]) -> list[int]:
    """The sweep's enqueue: of these emails, queue those with no send task waiting in the queue
    (their own, a retry's, an earlier sweep's), and return them.

    The queue is django-tasks-db's table (TASKS); with another backend (tests) nothing is seen
    waiting and every email is queued, which the claim under a lease makes safe (emails.outbox).
    """
    waiting = set(
        DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path=tasks.email_send.module_path)
        .values_list("args_kwargs__kwargs__email_id", flat=True)
        .distinct()
    )
    missing = [email_id for email_id in email_ids if email_id not in waiting]
    emails_send_enqueue(email_ids=missing)
    return missing
