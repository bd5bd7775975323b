"""The site's default mail backend: every email (allauth's codes and confirmations, Django's reset
link, the reminders) becomes a row of the outbox instead of an SMTP conversation in the caller.

The request answers in the time of one INSERT whatever the mail server does: down, slow or hung, it
costs the page nothing and tells no one whether an address has an account. The worker sends through
the `transport` mailer (EMAIL_URL); see emails/outbox.py.
"""

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from emails import enqueue, outbox


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        with transaction.atomic():  # all of a batch, or none of it
            ids = [
                outbox.email_queue(message=message).pk for message in email_messages if message.recipients()
            ]
            enqueue.emails_send_enqueue(email_ids=ids)
        return len(ids)
