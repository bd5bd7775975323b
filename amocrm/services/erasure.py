"""A deleted account in amoCRM: the contact's name, phone and email cleared, the lead's address and
wishes cleared (the lead sync sends the erased profile like any change), and a note on the lead that
the customer deleted the account, with no personal data in it.

Durable like every change: on accounts.erasure.account_erased, in the transaction that erases the
account, the receiver marks the lead's sync pending and `erasure_record` writes the note and flags
the LeadSync row; the lead sync then PATCHes the contact (`contacts_erase`) with its own retries,
breaker and sweep. Local copies go too: notes already sent lose their text (amoCRM has it), unsent
ones are dropped (they could carry an old address), and the sync row forgets the contact's phone
and email and the last values sent.
"""

import logging
from typing import Any

from django.db.models import Value
from django.utils import timezone

from accounts.models import Profile
from amocrm import mapping
from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError
from amocrm.models import LeadNote, LeadSync
from amocrm.services.sync_outcomes import SyncJob

logger = logging.getLogger(__name__)

ACTION = "account_deleted"
NOTE_TEXT = (
    "Клиент удалил аккаунт на сайте и отозвал согласие на обработку персональных данных: "
    "имя, телефон и email контакта, адрес и пожелания в сделке стёрты."
)
CONTACT_NAME = "Клиент удалил аккаунт"  # amoCRM shows a nameless contact as "Контакт #<id>"
# The profile facts an erasure changes (accounts.erasure): their lead fields are the site's to clear.
ERASED_FIELDS = ("delivery_address", "phone", "wishes", "user")  # "user": its email


def erasure_record(*, profile: Profile) -> None:
    """Record the erasure for amoCRM; call inside the transaction that erases the account, after
    marking the lead's sync pending (enqueue.lead_sync_request)."""
    LeadNote.objects.filter(profile=profile, note_id__isnull=True).delete()
    LeadNote.objects.filter(profile=profile).update(text=Value("—"))
    LeadNote.objects.create(profile=profile, action=ACTION, text=NOTE_TEXT)
    # The local copies of what amoCRM held go too; with no last values, the next sync sends every
    # field (the cleared ones included).
    LeadSync.objects.filter(profile=profile).update(
        contact_erase_requested_at=timezone.now(), contact_phone="", contact_email="", synced_values={}
    )
    logger.info("amocrm.erasure_recorded profile_id=%s", profile.pk)


def contact_erase_payload(contact_id: int) -> dict[str, Any]:
    """One item of PATCH /api/v4/contacts: the names replaced, PHONE and EMAIL cleared."""
    return {
        "id": int(contact_id),
        "name": CONTACT_NAME,
        "first_name": "",
        "last_name": "",
        "custom_fields_values": [
            {"field_code": "PHONE", "values": None},
            {"field_code": "EMAIL", "values": None},
        ],
    }


def contacts_erase(client: AmoCRMClient, jobs: list[SyncJob]) -> None:
    """Clear the contacts of these jobs' leads; a job that failed keeps its flag and is retried."""
    wanted = [j for j in jobs if j.sync.contact_erase_requested_at and j.lead_id and j.error is None]
    for job in wanted:
        try:
            contact_id = job.contact_id or mapping.lead_contact_id(
                client.lead_get(int(job.lead_id), with_contacts=True) or {}
            )
            if contact_id:
                client.contacts_update([contact_erase_payload(contact_id)])
        except AmoCRMError as e:
            job.fail(e)
            continue
        LeadSync.objects.filter(pk=job.sync.pk).update(contact_erase_requested_at=None)
        job.sync.contact_erase_requested_at = None
        logger.info("amocrm.contact_erased lead_id=%s contact_id=%s", job.lead_id, contact_id)
