"""The outbox's background work (django.tasks; `manage.py db_worker` runs it).

A thin wrapper: it sends one email and, after a transient failure, enqueues its own retry at the
row's next attempt. A backend that cannot defer (the immediate one in tests) gets no retry task;
`manage.py emails_send_due` (every minute) sends due rows anyway.
"""

from django.tasks import task

from emails import outbox


@task
def email_send(email_id: int) -> None:
    """Send one queued email: enqueued after the transaction that queued it commits."""
    retry_at = outbox.email_send(email_id=email_id)
    if retry_at is not None and email_send.get_backend().supports_defer:
        email_send.using(run_after=retry_at).enqueue(email_id=email_id)
