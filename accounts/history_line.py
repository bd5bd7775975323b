"""One line of a customer's history as `accounts.history` reads it: a row of the one query that
unites the customer's own events, ledger entries and invoices. Re-exported by accounts.models
(Django registers it there). No table: `managed = False`, and only `HistoryLine.objects.raw()`
reads it, so the rows come back converted by the fields below on every database."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class HistoryLine(models.Model):
    key = models.CharField(primary_key=True, max_length=32)  # "event-7": ids repeat across the tables
    at = models.DateTimeField()
    kind = models.CharField(max_length=8)  # "event", "ledger" or "invoice"
    code = models.CharField(max_length=32)  # the event's action, the entry's reason, the invoice's status
    money = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    day = models.DateField(null=True)  # a debited delivery's date
    text = models.TextField()  # an event's details, as JSON text (NULL for the others)
    row_id = models.IntegerField()  # the row's id in its own table: the order among lines of one time

    class Meta:
        managed = False
        # Nothing to grant: staff never add, change, delete or view it (it has no admin, no table),
        # so the permission picker does not offer «Can add history line».
        default_permissions = ()
        verbose_name = _("history line")
        verbose_name_plural = _("history lines")

    def __str__(self) -> str:
        return self.key
