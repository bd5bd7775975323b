"""Stored phones become E.164 (+79001234567), as the forms now save them.

What libphonenumber parses as a valid number (read in the PHONENUMBER_DEFAULT_REGION setting's
country when it has no "+<code>") is rewritten; anything else is kept as it was: it is the only
number the customer gave, the couriers' CSV quotes it, staff see it, and the next save of the
profile (clean()) asks for a valid one. Nothing is blanked and the migration never fails on a value.
Reversing keeps the E.164 values: they were valid input before too.
"""

import logging

import phonenumbers
from django.conf import settings
from django.db import migrations

logger = logging.getLogger(__name__)


def phones_to_e164(apps, schema_editor):
    Profile = apps.get_model("accounts", "Profile")
    region = settings.PHONENUMBER_DEFAULT_REGION
    kept = 0
    for profile in Profile.objects.exclude(phone="").only("pk", "phone").iterator():
        try:
            number = phonenumbers.parse(profile.phone, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            kept += 1
            logger.warning("accounts.phone_kept_unparsed profile_id=%s", profile.pk)
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 != profile.phone:
            Profile.objects.filter(pk=profile.pk).update(phone=e164)
    if kept:
        logger.warning("accounts.phones_kept_unparsed count=%s", kept)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_ledger_opening_entries"),
    ]

    operations = [
        migrations.RunPython(phones_to_e164, migrations.RunPython.noop),
    ]
