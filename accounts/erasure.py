"""Deleting an account: the customer withdraws consent (152-FZ art. 9 §2) and the personal data go.

What goes: the login email (replaced by `deleted-<id>@invalid`, so the address is free for a new
signup), the name, the password (unusable, which also ends every session and every reset link),
the phone, the delivery address (on the profile and on every delivery), the wishes, the history's
details, allauth's email rows and authenticators. What stays, without personal data: the user and
profile rows, deliveries, invoices and the ledger (accounting keeps money records five years, law
402-FZ art. 29), and the consent records (the operator must prove consent was given and withdrawn).

`account_erased` is sent inside the transaction, before anything is wiped, with `user` and `profile`
(None for an account without a subscription): another app that mirrors the customer (the CRM)
records its own erasure in the same transaction, so it cannot be lost.
"""

import logging
import uuid

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest

from accounts import legal, services
from accounts.models import ConsentRecord, LegalText, Profile, User

logger = logging.getLogger(__name__)

account_erased = Signal()

ERASED_DOMAIN = "invalid"  # RFC 2606: never delivered anywhere


def erased_email(user: User) -> str:
    return f"deleted-{user.pk}@{ERASED_DOMAIN}"


def account_erase(*, user: User, request: HttpRequest) -> None:
    """Tell the customer (first, while the address is still theirs), then erase and log them out."""
    with transaction.atomic():
        # Queued in the erasing transaction (the mail outbox is a table): no "deleted" email for an
        # erasure that rolled back.
        get_adapter(request).render_mail(
            "accounts/email/account_deleted",
            user.email,
            {"site_url": settings.SITE_URL, "operator_email": settings.OPERATOR_EMAIL},
        ).send()
        legal.consent_record(
            user=user, kind=LegalText.Kind.CONSENT, request=request, action=ConsentRecord.Action.WITHDRAWN
        )
        profile = Profile.objects.select_for_update().filter(user=user).first()
        account_erased.send(sender=User, user=user, profile=profile)
        if profile is not None:
            _profile_erase(profile)
        _user_erase(user)
    logout(request)
    logger.info("accounts.account_erased user_id=%s", user.pk)


def _profile_erase(profile: Profile) -> None:
    profile.delivery_address = ""
    profile.phone = ""
    profile.wishes = ""
    profile.account_status = Profile.AccountStatus.CLOSED
    profile.paused_until = None
    profile.wants_reminders = False
    profile.referral_code = uuid.uuid4()  # an old referral link no longer names this customer
    profile.save(
        update_fields=[
            "delivery_address",
            "phone",
            "wishes",
            "account_status",
            "paused_until",
            "wants_reminders",
            "referral_code",
            "updated_at",
        ]
    )
    services.deliveries_reschedule(profile=profile)  # closed: nothing planned from today on
    profile.deliveries.update(delivery_address="")
    profile.events.update(details={})  # an old/new address or wish may be in there


def _user_erase(user: User) -> None:
    user.email = erased_email(user)
    user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()  # sessions and reset links carry the old hash: all invalid now
    user.save(update_fields=["email", "first_name", "last_name", "is_active", "password"])
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
