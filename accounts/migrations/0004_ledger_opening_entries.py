"""Existing profiles get one ledger entry equal to their current sum, so sum == ledger from now on."""

from django.db import migrations

OPENING_NOTE = "opening balance"


def open_ledgers(apps, schema_editor):
    Profile = apps.get_model("accounts", "Profile")
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(profile_id=pk, amount=account_sum, reason="signup", note=OPENING_NOTE)
            for pk, account_sum in Profile.objects.filter(ledger_entries__isnull=True).values_list(
                "pk", "account_sum"
            )
        ],
        batch_size=500,
    )


def close_ledgers(apps, schema_editor):
    apps.get_model("accounts", "LedgerEntry").objects.filter(note=OPENING_NOTE).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_delivery_ledger")]

    operations = [migrations.RunPython(open_ledgers, close_ledgers)]
