"""Signup top-ups posted before invoices existed become paid invoices; nobody's balance changes.

The assumption: every sum posted at signup before this release ("signup" ledger entries, the opening
balances of migration 0004 included) was money the business has been collecting outside the site,
so it stays on the balance. Each such positive entry gets a paid invoice (source "migration", paid
when the entry was posted) linked to it, so the one-entry-per-payment rule holds for old sums too.
Entries of zero or less had nothing to pay and are left alone. Run twice, it adds nothing.
"""

from django.db import migrations

MIGRATION_SOURCE = "migration"


def signup_entries_to_invoices(apps, schema_editor):
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    Invoice = apps.get_model("accounts", "Invoice")
    entries = LedgerEntry.objects.filter(reason="signup", invoice__isnull=True, amount__gt=0)
    for entry in entries.iterator(chunk_size=500):
        invoice = Invoice.objects.create(
            profile_id=entry.profile_id,
            amount=entry.amount,
            status="paid",
            source=MIGRATION_SOURCE,
            paid_at=entry.created_at,
        )
        Invoice.objects.filter(pk=invoice.pk).update(created_at=entry.created_at)  # not the migration's day
        LedgerEntry.objects.filter(pk=entry.pk).update(invoice=invoice)


def invoices_to_signup_entries(apps, schema_editor):
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    invoices = apps.get_model("accounts", "Invoice").objects.filter(source=MIGRATION_SOURCE)
    LedgerEntry.objects.filter(invoice__in=invoices).update(invoice=None)
    invoices.delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_invoices_and_account_events")]

    operations = [migrations.RunPython(signup_entries_to_invoices, invoices_to_signup_entries)]
