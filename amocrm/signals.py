"""Profile saves and subscription events → the lead sync, thin: record the change (and the event for
the lead's history) in the outbox, enqueue after commit, never any HTTP.

With no CRM configured the pending state is still recorded (one cheap row in the same transaction),
but nothing is enqueued: `make run` stays quiet, the admin shows the profiles as pending, and once
amoCRM is connected `manage.py amocrm_resync` (or the amocrm_sync_due cron) catches them up.
"""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.erasure import account_erased
from accounts.models import Profile, User
from accounts.signals import subscription_event
from amocrm.services import enqueue, erasure, notes
from amocrm.services.connection import is_enabled
from amocrm.services.outbox import lead_sync_mark_pending


@receiver(post_save, sender=Profile, dispatch_uid="amocrm.profile_saved")
def profile_saved(sender, instance: Profile, raw: bool = False, **kwargs) -> None:
    if raw:
        return  # loaddata
    sync = lead_sync_mark_pending(profile=instance)
    if is_enabled() and not sync.is_waiting_for_retry(now=timezone.now()):
        enqueue.lead_sync_after_commit(profile_id=instance.pk)


@receiver(subscription_event, dispatch_uid="amocrm.subscription_event")
def subscription_changed(sender, profile: Profile, action: str, details: dict, **kwargs) -> None:
    # The lead's history: the note waits in the outbox with a pending sync, both in this transaction.
    if not settings.AMOCRM_LEAD_NOTES:
        return
    notes.note_record(profile=profile, action=action, details=details)
    profile_saved(sender=Profile, instance=profile)


@receiver(post_save, sender=User, dispatch_uid="amocrm.user_saved")
def user_saved(
    sender, instance: User, created: bool, update_fields=None, raw: bool = False, **kwargs
) -> None:
    # The email is on the lead (its name and a field); logins save only last_login.
    if raw or created or (update_fields is not None and "email" not in update_fields):
        return
    profile = Profile.objects.filter(user=instance).first()
    if profile is not None:
        profile_saved(sender=Profile, instance=profile)


@receiver(account_erased, dispatch_uid="amocrm.account_erased")
def account_erased_in_crm(sender, user: User, profile: Profile | None, **kwargs) -> None:
    # Same transaction as the erasure: the contact's and the lead's data are cleared by the sync.
    if profile is None:
        return
    erasure.erasure_record(profile=profile)
    if is_enabled():
        enqueue.lead_sync_after_commit(profile_id=profile.pk)
