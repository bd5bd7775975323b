"""The rows that decide whether and when amoCRM may be called at all: the request-spacing slot, the
circuit breaker and the last health check. Re-exported by amocrm.models (Django registers them there)."""

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class RateLimit(models.Model):
    """A request-spacing slot shared by every process and machine that talks to amoCRM.

    `next_at` is the earliest moment (database clock) the next request may start; see amocrm.ratelimit.
    """

    name = models.CharField(_("name"), max_length=64, unique=True)
    next_at = models.DateTimeField(_("next request at"))

    class Meta:
        verbose_name = _("rate limit")
        verbose_name_plural = _("rate limits")

    def __str__(self) -> str:
        return self.name


class CircuitBreaker(models.Model):
    """Whether amoCRM may be called at all, for every process of the deployment (one row).

    Open after a 403/402 (the account is blocked or its plan lapsed: every call would fail and
    prolong a block) or a run of 5xx/timeouts; `retry_at` is when one probe call may decide whether
    it closes, and `probe_until` is the lease of the probe in flight. See amocrm.services.breaker.
    """

    class Reason(models.TextChoices):
        BLOCKED = "blocked", _("amoCRM blocked the account or this server's IP (403)")
        PAYMENT = "payment", _("the amoCRM account's paid plan has lapsed (402)")
        UNAVAILABLE = "unavailable", _("amoCRM is not answering (5xx, timeouts)")

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    is_open = models.BooleanField(_("open"), default=False)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason, blank=True)
    detail = models.CharField(_("last error"), max_length=500, blank=True)
    opened_at = models.DateTimeField(_("open since"), null=True, blank=True)
    retry_at = models.DateTimeField(_("next probe at"), null=True, blank=True)
    probe_until = models.DateTimeField(_("probe in flight until"), null=True, blank=True)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    calls_while_open = models.PositiveIntegerField(_("probe calls while open"), default=0)
    cooldown_seconds = models.PositiveIntegerField(_("current cool-down (seconds)"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("amoCRM circuit breaker")
        verbose_name_plural = _("amoCRM circuit breaker")

    def __str__(self) -> str:
        if self.is_open:
            return gettext("amoCRM calls stopped: %(reason)s") % {"reason": self.get_reason_display()}
        return gettext("amoCRM calls allowed")


class HealthCheck(models.Model):
    """The last result of `manage.py amocrm_check` (one row): what it repaired and what staff must
    fix, shown on the control room. See amocrm.services.health."""

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    checked_at = models.DateTimeField(_("checked at"))
    is_healthy = models.BooleanField(_("all is well"), default=False)
    problems = models.JSONField(_("to fix"), default=list, blank=True)
    repairs = models.JSONField(_("repaired"), default=list, blank=True)
    requests = models.PositiveSmallIntegerField(_("requests made"), default=0)

    class Meta:
        verbose_name = _("amoCRM check")
        verbose_name_plural = _("amoCRM checks")

    def __str__(self) -> str:
        return (
            f"{self.name}: {'healthy' if self.is_healthy else 'problems'} at {self.checked_at:%Y-%m-%d %H:%M}"
        )
