"""A change to a subscription (accounts.signals.profile_changed) → the lead, thin: one receiver.

In the transaction of the change it records the event for the lead's history (a note), stamps the
conflict clock of the fields the site changed and marks the outbox row pending; the sync is
enqueued after commit (services.enqueue). A change that came from amoCRM was recorded as synced by
whoever applied it (services.crm_changes): nothing is sent back from here. No model signal is
listened to: a save is not a change to tell, the service that changed something says so.
"""

from django.conf import settings
from django.dispatch import receiver

from accounts.erasure import account_erased
from accounts.models import Profile, User
from accounts.signals import Action, Origin, profile_changed
from amocrm import mapping
from amocrm.services import enqueue, erasure, lead_tasks, notes


@receiver(profile_changed, dispatch_uid="amocrm.profile_changed")
def on_profile_changed(
    sender,
    profile: Profile,
    fields: tuple[str, ...],
    origin: Origin,
    action: Action | None = None,
    details: dict | None = None,
    **kwargs,
) -> None:
    noted = action is not None and settings.AMOCRM_LEAD_NOTES
    if noted:
        # The lead's history: the note waits in the outbox with a pending sync, both in this transaction.
        notes.note_record(profile=profile, action=action, details=details or {})
    if action == Action.MANAGER_MESSAGE:
        # Also a task for the lead's manager, notes on or off: a message must reach someone.
        lead_tasks.task_record(profile=profile, text=(details or {}).get("text", ""))
        noted = True
    if origin == Origin.CRM:
        if noted:
            enqueue.lead_sync_request(profile=profile)
        return
    if fields or noted:
        enqueue.lead_sync_request(profile=profile, site_changed=mapping.keys_changed_by(fields))


@receiver(account_erased, dispatch_uid="amocrm.account_erased")
def on_account_erased(sender, user: User, profile: Profile | None, **kwargs) -> None:
    # Same transaction as the erasure: the sync clears the lead's fields (the site's change wins
    # their conflict clock) and the contact, and posts the note.
    if profile is None:
        return
    enqueue.lead_sync_request(profile=profile, site_changed=mapping.keys_changed_by(erasure.ERASED_FIELDS))
    erasure.erasure_record(profile=profile)
