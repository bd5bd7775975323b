from django.core.management.base import BaseCommand

from amocrm.services import connection


class Command(BaseCommand):
    help = (
        "Re-encrypt the stored amoCRM tokens with the first key of AMOCRM_TOKEN_KEYS "
        "(put the new key first, run this, then remove the old key)."
    )

    def handle(self, *args, **options) -> None:
        count = connection.token_rotate_keys()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} token row(s) with the current key."))
