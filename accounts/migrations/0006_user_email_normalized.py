"""Stored addresses become what accounts.emails.normalize makes of them (NFKC, case-folded).

Older code stored them lower-cased, which is the same for nearly every address; the difference is
in letters like `ß` (→ `ss`), `ſ` (→ `s`) and full-width forms. An address whose normalised form
already belongs to another account is a collision: both rows are left as they are and the user ids
are logged, for staff to decide (nothing is ever deleted or merged here). allauth's EmailAddress
rows follow their user's address the same way. Look-alike addresses that already exist (`mıke@…`)
are only logged: the owner may be real. Reversing keeps the normalised addresses.
"""

import logging
import unicodedata

from django.db import IntegrityError, migrations, transaction

logger = logging.getLogger(__name__)


def _normalize(email: str) -> str:
    # Frozen copy of accounts.emails.normalize: a migration must not change when the app does.
    return unicodedata.normalize("NFKC", (email or "").strip()).casefold()


def _lookalike(email: str) -> bool:
    return not email.isascii() and any(
        unicodedata.name(c, "").startswith("LATIN") or unicodedata.category(c).startswith("M")
        for c in email
        if not c.isascii()
    )


def normalize_emails(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for user in User.objects.only("pk", "email").iterator():
        email = _normalize(user.email)
        if _lookalike(email):
            logger.warning("accounts.email_lookalike_kept user_id=%s", user.pk)
        if email == user.email:
            continue
        other = User.objects.filter(email__iexact=email).exclude(pk=user.pk).values_list("pk", flat=True)
        if other:
            logger.warning("accounts.email_collision_kept user_id=%s other_user_id=%s", user.pk, other[0])
            continue
        try:
            with transaction.atomic():  # a savepoint: a collision the lookup above missed is logged too
                User.objects.filter(pk=user.pk).update(email=email)
        except IntegrityError:
            logger.warning("accounts.email_collision_kept user_id=%s", user.pk)
            continue
        for address in EmailAddress.objects.filter(user_id=user.pk).exclude(email=email):
            if _normalize(address.email) == email and not EmailAddress.objects.filter(email=email).exists():
                EmailAddress.objects.filter(pk=address.pk).update(email=email)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_profile_phone_e164"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunPython(normalize_emails, migrations.RunPython.noop),
    ]
