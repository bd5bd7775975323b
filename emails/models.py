from django.db import models
from django.utils.translation import gettext_lazy as _


class Email(models.Model):
    """One email on its way out: the outbox row, written in the transaction that wanted it sent.

    `message` holds the whole email (bodies with sign-in codes and reset links): it is read only by
    the worker that sends it and never shown in the admin. Staff see the envelope and the state.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.WAITING)
    recipients = models.TextField(_("recipients"))
    subject = models.CharField(_("subject"), max_length=998)
    message = models.JSONField(_("message"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    # A worker holds the row while it talks to the mail server; a lease that ran out (the worker was
    # killed) lets the next sweep take it again.
    claimed_until = models.DateTimeField(_("held by a worker until"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    # The last attempt failed on the mail server (unreachable, hung), not on this email: until its
    # next attempt, no other email tries the server either.
    failed_on_server = models.BooleanField(_("mail server down"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="emails_due_idx")]

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipients}"
