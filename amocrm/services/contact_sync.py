"""The customer's phone and email → the lead's main contact (`PATCH /api/v4/contacts`), after the
lead sync of a run:

  * the phone goes when it differs from the one the contact was last known to hold
    (`LeadSync.contact_phone`; None, unknown, for a contact found by email or relinked by a manager);
  * the email goes when the lead's email field just changed (the customer's login changed);
  * amoCRM replaces a field's values as a whole, so the contact is read first and the manager's other
    numbers and addresses stay; only the value the customer replaced goes.
A failure never undoes the lead's update: a lead job still open fails with it (and is retried by its
class), a lead already recorded (just created) leaves it to the next sync, which sees the phone due.
"""

import logging

from accounts import emails, phones
from amocrm import mapping
from amocrm.client import AmoCRMClient
from amocrm.exceptions import AmoCRMError
from amocrm.models import CustomField, LeadSync
from amocrm.services.sync_outcomes import SyncJob

logger = logging.getLogger(__name__)

Key = CustomField.Key


def same_phone(a: str, b: str) -> bool:
    """Two ways of writing one number (a manager types `8 (900) 123-45-67`)."""
    try:
        return phones.to_e164(a) == phones.to_e164(b)
    except phones.InvalidPhone:
        return a.strip() == b.strip()


def _email_sent(values: dict | None) -> str:
    return next((str(v.get("value") or "") for v in (values or {}).get("values") or []), "")


def _due(job: SyncJob) -> tuple[str, str, str]:
    """(phone to send, email to send, the email it replaces); "" where nothing is due."""
    phone = job.profile.phone or ""
    known = job.sync.contact_phone
    made_now = job.contact is not None and "id" not in job.contact  # made with the phone just now
    phone_due = phone if phone and not made_now and not (known and same_phone(phone, known)) else ""
    old_email = _email_sent(job.baseline.get(Key.EMAIL))
    new_email = _email_sent((job.state or {}).get(Key.EMAIL))
    email_due = new_email if old_email and new_email and not emails.same(old_email, new_email) else ""
    return phone_due, email_due, old_email


def contacts_send(client: AmoCRMClient, jobs: list[SyncJob]) -> None:
    """Send each job's contact what is due (see the module docstring); one GET and one PATCH each."""
    for job in jobs:
        if job.error is not None or not job.contact_id or job.lead_id is None:
            continue
        phone, email, old_email = _due(job)
        if not phone and not email:
            continue
        try:
            held = client.contact_get(job.contact_id)
            if held is None:
                continue  # deleted: the lead's next read names its new main contact
            values = []
            if phone:
                values.append(
                    mapping.contact_values_update(
                        held, "PHONE", phone, [job.sync.contact_phone or ""], same_phone
                    )
                )
            if email:
                values.append(mapping.contact_values_update(held, "EMAIL", email, [old_email], emails.same))
            client.contacts_update([{"id": job.contact_id, "custom_fields_values": values}])
        except AmoCRMError as e:
            logger.warning("amocrm.contact_send_failed contact_id=%s status=%s", job.contact_id, e.status)
            if not job.recorded:
                job.fail(e)
            continue
        logger.info(
            "amocrm.contact_updated contact_id=%s profile_id=%s phone=%s email=%s",
            job.contact_id,
            job.profile.pk,
            bool(phone),
            bool(email),
        )
        if phone:
            # What the contact holds now: its hook echoing this number back changes nothing.
            LeadSync.objects.filter(pk=job.sync.pk).update(contact_phone=phone)
