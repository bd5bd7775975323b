"""The three bouquet categories of the seeds (Romantic / Seasonal / Luxe), with starting prices."""

from decimal import Decimal

from django.db import migrations

CATEGORIES = [
    {"slug": "romantic", "name": "Романтический", "price": Decimal("2500.00"), "ordering": 10},
    {"slug": "seasonal", "name": "Сезонный", "price": Decimal("1900.00"), "ordering": 20},
    {"slug": "luxe", "name": "Люкс", "price": Decimal("4900.00"), "ordering": 30},
]


def seed_categories(apps, schema_editor):
    BouquetCategory = apps.get_model("accounts", "BouquetCategory")
    for category in CATEGORIES:
        BouquetCategory.objects.update_or_create(slug=category["slug"], defaults=category)


def unseed_categories(apps, schema_editor):
    BouquetCategory = apps.get_model("accounts", "BouquetCategory")
    BouquetCategory.objects.filter(slug__in=[c["slug"] for c in CATEGORIES], profiles__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(seed_categories, unseed_categories)]
