"""Putting emails on the task queue: the one module that imports emails.tasks.

Enqueued only after the transaction that queued the email commits, so the task always finds its
row; an enqueue lost with a crash is caught by `manage.py emails_send_due`.
"""

from collections.abc import Sequence
from functools import partial

from django.db import transaction

from emails import tasks


def emails_send_enqueue(*, email_ids: Sequence[int]) -> None:
    for email_id in email_ids:
        transaction.on_commit(partial(tasks.email_send.enqueue, email_id=email_id), robust=True)
