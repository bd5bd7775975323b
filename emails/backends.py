"""The site's default mail backend: every email (allauth's codes and confirmations, Django's reset
link, the reminders) becomes a row of the outbox instead of an SMTP conversation in the caller.

The request answers in the time of one INSERT whatever the mail server does: down, slow or hung, it
costs the page nothing and tells no one whether an address has an account. The worker sends through
the `transport` mailer (EMAIL_URL); see emails/outbox.py.
"""

import contextlib

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from emails import enqueue, outbox


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        messages = [message for message in email_messages if message.recipients()]
        # A batch is all or nothing; one email (most sends: a code, a reset, a notice) is one INSERT
        # with no transaction of its own to commit, a database round trip less.
        with transaction.atomic() if len(messages) > 1 else contextlib.nullcontext():
            ids = [outbox.email_queue(message=message).pk for message in messages]
            enqueue.emails_send_enqueue(email_ids=ids)
        return len(ids)
