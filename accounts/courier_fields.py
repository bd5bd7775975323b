"""The courier fields the profile and each delivery share (an abstract model). Re-exported by
accounts.models; accounts.courier_details edits them."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts import phones


class CourierDetails(models.Model):
    """What a courier needs beyond the address: who takes the bouquet, when, how to get in.

    The profile holds the customer's usual answers; a delivery holds its own only where the customer
    changed them for that day (blank: the profile's). `Delivery.courier_details()` is the one reader
    of the effective values (the couriers' file, the delivery card)."""

    class TimeWindow(models.TextChoices):
        MORNING = "09-12", _("9:00–12:00")
        MIDDAY = "12-15", _("12:00–15:00")
        AFTERNOON = "15-18", _("15:00–18:00")
        EVENING = "18-21", _("18:00–21:00")

    recipient_name = models.CharField(
        _("recipient's name"), max_length=150, blank=True, help_text=_("Empty: the customer.")
    )
    # E.164 or empty, parsed as the profile's phone is (accounts.phones).
    recipient_phone = models.CharField(
        _("recipient's phone"), max_length=32, blank=True, help_text=_("Empty: the customer's phone.")
    )
    time_window = models.CharField(_("delivery time"), max_length=8, choices=TimeWindow, blank=True)
    entrance = models.CharField(_("entrance"), max_length=16, blank=True)
    floor = models.CharField(_("floor"), max_length=16, blank=True)
    intercom = models.CharField(_("intercom code"), max_length=32, blank=True)
    courier_note = models.CharField(_("note for the courier"), max_length=500, blank=True)

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None) -> None:
        super().clean_fields(exclude=exclude)
        if self.recipient_phone and "recipient_phone" not in (exclude or ()):
            try:
                self.recipient_phone = phones.to_e164(self.recipient_phone)
            except phones.InvalidPhone:
                raise ValidationError({"recipient_phone": phones.INVALID_MESSAGE}, code="phone") from None


COURIER_FIELDS = tuple(f.name for f in CourierDetails._meta.local_fields)
