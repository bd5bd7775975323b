"""The email outbox: queue an email in the caller's transaction, send it from the worker under a
lease, retry what the mail server did not take, and give staff a way to try a failed one again.

Delivery is at least once, and in practice once. A claim (a conditional UPDATE of `claimed_until`)
lets one worker at a time hold a row, so a task that runs twice, or the sweep racing the task, sends
nothing the second time; a row is marked sent right after the server's "250 OK". A worker killed
mid-conversation leaves nothing at the server (SMTP takes a message only at the end of DATA), and
its lease runs out so the sweep sends the email then. Only a kill in the instant between the server's
answer and our commit sends twice; the email keeps its Message-ID across attempts, so receivers may
collapse even that. Losing email instead (at most once) would lose sign-in codes and reset links.
"""

import datetime
import logging
import random
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.mail import EmailMessage, mailers
from django.db.models import F, Min, Q
from django.utils import timezone

from emails.messages import message_from_dict, message_to_dict
from emails.models import Email

logger = logging.getLogger(__name__)

# The MAILERS alias the worker sends through (EMAIL_URL); "default" is the outbox itself.
TRANSPORT = "transport"
# Longer than any SMTP conversation (a few commands, each cut off by EMAIL_TIMEOUT).
LEASE = datetime.timedelta(minutes=5)
RETRY_BASE = datetime.timedelta(seconds=30)
RETRY_CAP = datetime.timedelta(hours=1)
# 30 s doubling to an hour: about 18 hours of trying before staff are asked to look (status failed).
MAX_ATTEMPTS = 30


def retry_delay(attempts: int, *, jitter: Callable[[], float] = random.random) -> datetime.timedelta:
    """Exponential backoff with jitter after the n-th failure: 15–30 s, 30–60 s, … at most an hour."""
    ceiling = min(RETRY_CAP.total_seconds(), RETRY_BASE.total_seconds() * 2 ** min(max(attempts, 1) - 1, 20))
    return datetime.timedelta(seconds=ceiling / 2 + jitter() * ceiling / 2)


def is_transient(error: Exception) -> bool:
    """Worth trying again: the server was unreachable, slow, or answered 4xx ("try later").

    A 5xx answer about this email (recipient or sender refused, message rejected) will not change;
    a login refused (535) is the site's configuration and is fixed by staff, so it is retried.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _text in error.recipients.values())
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return True
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, OSError | EmailNotTaken)  # smtplib's other errors are OSErrors too


def is_server_down(error: Exception) -> bool:
    """Unreachable, hung or hanging up, as opposed to an answer about one email (any SMTP code)."""
    if isinstance(error, smtplib.SMTPConnectError):
        return True
    return isinstance(error, OSError) and not isinstance(
        error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
    )


class EmailNotTaken(Exception):
    """The transport returned without raising and without sending (a backend told to fail silently)."""


def _describe(error: Exception) -> str:
    # The class and the server's code only: the server's text may quote an address.
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__}{f' {code}' if code else ''}"[:200]


def email_queue(*, message: EmailMessage, now: datetime.datetime | None = None) -> Email:
    """Store the email in the current transaction; the worker sends it once that commits."""
    data = message_to_dict(message)
    return Email.objects.create(
        recipients=", ".join([*data["to"], *data["cc"], *data["bcc"]]),
        subject=data["subject"][:998],
        message=data,
        next_attempt_at=now or timezone.now(),
    )


def emails_due(*, now: datetime.datetime | None = None) -> list[int]:
    """Waiting emails whose attempt is due and that no worker holds (lost tasks, killed workers)."""
    now = now or timezone.now()
    return list(
        Email.objects.filter(status=Email.Status.WAITING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class Attempt:
    retry_at: datetime.datetime | None = None  # failed for now: when to try again
    sent_on_retry: bool = False  # sent, after failing before: the server is back


def email_send(*, email_id: int, now: datetime.datetime | None = None) -> Attempt:
    """Send one email if it is still waiting and no other worker holds it."""
    now = now or timezone.now()
    lease = now + LEASE
    due = Email.objects.filter(pk=email_id, status=Email.Status.WAITING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    )
    if (server_back_at := _server_down_until(now=now)) is not None:
        # Queued while the server is down: it waits for the next probe instead of a timeout of its own.
        due.update(next_attempt_at=server_back_at)
        return Attempt()
    claimed = due.update(claimed_until=lease, attempts=F("attempts") + 1)
    if not claimed:
        return Attempt()  # sent, failed, not due, or another worker has it
    email = Email.objects.get(pk=email_id)
    try:
        if not mailers[TRANSPORT].send_messages([message_from_dict(email.message)]):
            raise EmailNotTaken
    except Exception as error:  # whatever the transport raises, the row records it and stays visible
        return Attempt(retry_at=_record_failure(email, error, now=now, lease=lease))
    # The body goes once the server has it: a reset link or a code kept here would outlive its use.
    Email.objects.filter(pk=email_id, claimed_until=lease).update(
        status=Email.Status.SENT,
        sent_at=timezone.now(),
        claimed_until=None,
        last_error="",
        failed_on_server=False,
        message={},
    )
    logger.info("emails.sent email_id=%s attempts=%s", email_id, email.attempts)
    return Attempt(sent_on_retry=email.attempts > 1)


def _server_down_until(*, now: datetime.datetime) -> datetime.datetime | None:
    """When the next try of a server that was down is due, if that is still ahead."""
    return Email.objects.filter(
        status=Email.Status.WAITING, failed_on_server=True, next_attempt_at__gt=now
    ).aggregate(until=Min("next_attempt_at"))["until"]


def _record_failure(
    email: Email, error: Exception, *, now: datetime.datetime, lease: datetime.datetime
) -> datetime.datetime | None:
    transient = is_transient(error) and email.attempts < MAX_ATTEMPTS
    retry_at = now + retry_delay(email.attempts) if transient else None
    server_down = retry_at is not None and is_server_down(error)
    detail = _describe(error)
    Email.objects.filter(pk=email.pk, claimed_until=lease).update(
        status=Email.Status.WAITING if transient else Email.Status.FAILED,
        next_attempt_at=retry_at or F("next_attempt_at"),
        claimed_until=None,
        last_error=detail,
        failed_on_server=server_down,
    )
    if server_down:
        # The server, not this email: the others wait with it (their tasks find them not due, the
        # sweep queues them then). A hung server costs the worker one timeout per backoff step,
        # not one per email, so a morning's reminders cannot hold the worker for an hour.
        Email.objects.filter(status=Email.Status.WAITING, next_attempt_at__lt=retry_at).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
        ).update(next_attempt_at=retry_at)
    logger.warning(
        "emails.send_failed email_id=%s attempts=%s error=%s retry=%s",
        email.pk,
        email.attempts,
        detail,
        transient,
    )
    return retry_at


def emails_retry(*, email_ids: Sequence[int], now: datetime.datetime | None = None) -> list[int]:
    """Staff's "try again": failed or waiting emails go now, with a fresh backoff. Sent ones never."""
    now = now or timezone.now()
    rows = Email.objects.filter(
        pk__in=email_ids, status__in=[Email.Status.WAITING, Email.Status.FAILED]
    ).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
    ids = list(rows.values_list("pk", flat=True))
    # The same conditions again: a worker may have sent one of them between the two queries.
    rows.filter(pk__in=ids).update(status=Email.Status.WAITING, next_attempt_at=now, attempts=0)
    return ids


def emails_prune(*, older_than: datetime.timedelta, dry_run: bool = False) -> int:
    """Forget sent emails older than `older_than` (an envelope is only kept for "did it go?")."""
    rows = Email.objects.filter(status=Email.Status.SENT, sent_at__lt=timezone.now() - older_than)
    return rows.count() if dry_run else rows.delete()[0]
