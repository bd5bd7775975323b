"""The contact's phone baseline (`LeadSync.contact_phone`) becomes E.164, as profiles' phones did
(accounts 0005) and as webhooks' phones are now parsed before they are compared with it.

Without this, the first webhook after the upgrade would compare `+79135550102` with a stored
`+7 913 555-01-02` and take a formatting difference for a manager's change. A baseline that does
not parse is kept as it was (it only decides whether a phone is an echo); nothing is blanked.
"""

import phonenumbers
from django.conf import settings
from django.db import migrations


def baselines_to_e164(apps, schema_editor):
    LeadSync = apps.get_model("amocrm", "LeadSync")
    region = settings.PHONENUMBER_DEFAULT_REGION
    rows = LeadSync.objects.exclude(contact_phone__isnull=True).exclude(contact_phone="")
    for row in rows.only("pk", "contact_phone").iterator():
        try:
            number = phonenumbers.parse(row.contact_phone, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if e164 != row.contact_phone:
                LeadSync.objects.filter(pk=row.pk).update(contact_phone=e164)


class Migration(migrations.Migration):
    dependencies = [
        ("amocrm", "0007_ordering_and_contact_baseline"),
        ("accounts", "0005_profile_phone_e164"),
    ]

    operations = [
        migrations.RunPython(baselines_to_e164, migrations.RunPython.noop),
    ]
