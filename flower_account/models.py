"""The site's own bookkeeping, apart from customers (accounts) and the CRM (amocrm)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """A row a probe rewrites to prove the database still takes writes (see flower_account.health)."""

    READYZ = "readyz"

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    beat_at = models.DateTimeField(_("last beat at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name}: {self.beat_at:%Y-%m-%d %H:%M:%S}"
