"""The outbox's background work (django.tasks; `manage.py db_worker` runs it).

A thin wrapper: it sends one email and, after a transient failure, enqueues its own retry at the
row's next attempt; a retry that goes through queues the emails that waited with it. A backend that
cannot defer (the immediate one in tests) gets no retry task; `manage.py emails_send_due` (every
minute) sends due rows anyway.
"""

from django.tasks import task

from emails import outbox

# Codes and reset links expire in minutes: ahead of every amoCRM task (syncs 0, webhook applies 50),
# so a signup burst's CRM calls never hold a sign-in code back.
EMAIL_PRIORITY = 90


@task(priority=EMAIL_PRIORITY)
def email_send(email_id: int) -> None:
    """Send one queued email: enqueued after the transaction that queued it commits."""
    attempt = outbox.email_send(email_id=email_id)
    if attempt.retry_at is not None and email_send.get_backend().supports_defer:
        email_send.using(run_after=attempt.retry_at).enqueue(email_id=email_id)
    if attempt.sent_on_retry:
        # The server is back: what waited with this email goes now, not at the next sweep.
        for other_id in outbox.emails_due():
            email_send.enqueue(email_id=other_id)
