"""The lead's history: each subscription event (accounts.signals) becomes a short Russian note on the
customer's lead (amocrm.history writes it), posted through the lead sync's outbox and rate limit.

Never lost: the note row is written in the transaction of the change, and the profile's LeadSync
row is marked pending with it, so the worker (or the amocrm_sync_due sweep) sends it. Never
doubled: `sending_started_at` is committed before the POST; a note found with it set and no id
(the worker died, or the answer never came) is first looked for among the lead's recent notes in
amoCRM (same text, since shortly before the attempt) and only posted again when it is not there.
Notes wait for their profile's lead: a signup's note goes once the lead exists.

A skip and an un-skip of the same delivery cancel out while neither has left for amoCRM, so a burst
of back-and-forth leaves the lead at most one note for that delivery (what it ended as), not one a
click. A note being sent is never cancelled: the delete asks for `sending_started_at` unset, and a
batch posts only the notes still there once it has marked them.
"""

import datetime
import logging
from collections.abc import Mapping

from django.utils import timezone

from accounts.models import Profile
from accounts.signals import Action
from amocrm import batches, history
from amocrm.client import AmoCRMClient, chunks
from amocrm.exceptions import AmoCRMError, AmoCRMValidationError
from amocrm.models import ERROR_KEPT, LeadNote

logger = logging.getLogger(__name__)

# How far before a failed attempt to look for the note it may have made (clocks differ a little).
LOOK_BACK = datetime.timedelta(minutes=2)


# Events that undo each other when they concern the same delivery.
OPPOSITES = {
    Action.DELIVERY_SKIPPED: Action.DELIVERY_UNSKIPPED,
    Action.DELIVERY_UNSKIPPED: Action.DELIVERY_SKIPPED,
}


def note_record(*, profile: Profile, action: str, details: Mapping) -> LeadNote | None:
    """Keep one event for the lead's history (call inside the transaction of the change); None when
    it only undid an event still waiting to be sent, which is then dropped too."""
    opposite = OPPOSITES.get(action)
    if opposite is not None:
        undone = (
            LeadNote.objects.filter(
                profile=profile,
                action=opposite,
                text=history.note_text(opposite, dict(details)),
                note_id__isnull=True,
                sending_started_at__isnull=True,
                error="",
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if undone and LeadNote.objects.filter(pk=undone.pk, sending_started_at__isnull=True).delete()[0]:
            logger.info("amocrm.note_cancelled profile_id=%s action=%s", profile.pk, action)
            return None
    return LeadNote.objects.create(
        profile=profile, action=action, text=history.note_text(action, dict(details))
    )


def notes_send(client: AmoCRMClient, leads: Mapping[int, int]) -> dict[int, AmoCRMError]:
    """Post the waiting notes of these profiles (profile id → lead id), oldest first, 50 a request;
    the profiles whose notes could not be sent now, with the error (their sync is retried)."""
    waiting = list(
        LeadNote.objects.filter(profile_id__in=list(leads), note_id__isnull=True, error="").order_by(
            "created_at", "pk"
        )
    )
    failed: dict[int, AmoCRMError] = {}
    if not waiting:
        return failed
    to_post = []
    for note in waiting:
        lead_id = leads[note.profile_id]
        try:
            if note.sending_started_at is not None and _found(client, note, lead_id):
                continue
        except AmoCRMError as e:
            failed[note.profile_id] = e
            continue
        to_post.append(note)
    for chunk in chunks([note for note in to_post if note.profile_id not in failed]):
        _post(client, chunk, leads, failed)
    return failed


def _found(client: AmoCRMClient, note: LeadNote, lead_id: int) -> bool:
    """The note an interrupted attempt may have made, found among the lead's recent notes."""
    since = int((note.sending_started_at - LOOK_BACK).timestamp())
    taken = set(
        LeadNote.objects.filter(lead_id=lead_id, note_id__isnull=False).values_list("note_id", flat=True)
    )
    for remote in client.lead_notes_since(lead_id, since=since):
        text = (remote.get("params") or {}).get("text")
        if text == note.text and remote.get("id") and int(remote["id"]) not in taken:
            _mark_sent(note, lead_id, int(remote["id"]))
            logger.info("amocrm.note_recovered note_id=%s lead_id=%s", note.note_id, lead_id)
            return True
    return False


def _post(client: AmoCRMClient, chunk: list[LeadNote], leads: Mapping[int, int], failed: dict) -> None:
    """Post one batch. Notes a 400 names (a lead deleted meanwhile, say) are kept for staff and not
    tried again; the others go again at once (amocrm.batches)."""

    def named(batch: list[LeadNote], error: AmoCRMValidationError) -> set[int]:
        return {
            i
            for i, note in enumerate(batch)
            if str(note.pk) in error.request_ids or leads[note.profile_id] in error.entity_ids
        }

    def refuse(note: LeadNote, error: AmoCRMError) -> None:
        LeadNote.objects.filter(pk=note.pk).update(error=str(error)[:ERROR_KEPT], sending_started_at=None)
        logger.warning("amocrm.note_refused note=%s profile_id=%s", note.pk, note.profile_id)

    batches.send_refusing_named(
        chunk, lambda batch: _post_batch(client, batch, leads, failed), named=named, refuse=refuse
    )


def _post_batch(client: AmoCRMClient, chunk: list[LeadNote], leads: Mapping[int, int], failed: dict) -> None:
    marked = LeadNote.objects.filter(pk__in=[note.pk for note in chunk]).update(
        sending_started_at=timezone.now()
    )
    if marked < len(chunk):  # some were cancelled by their opposite since they were read
        left = set(LeadNote.objects.filter(pk__in=[note.pk for note in chunk]).values_list("pk", flat=True))
        chunk = [note for note in chunk if note.pk in left]
        if not chunk:
            return
    payload = [
        {
            "entity_id": leads[note.profile_id],
            "note_type": "common",
            "params": {"text": note.text},
            "request_id": str(note.pk),
        }
        for note in chunk
    ]
    try:
        answers = client.notes_create(payload)
    except AmoCRMValidationError:
        raise  # refused: _post decides which notes
    except AmoCRMError as e:
        for note in chunk:
            failed[note.profile_id] = e
        if not e.may_have_acted:  # certainly not made: no need to look for them next time
            LeadNote.objects.filter(pk__in=[note.pk for note in chunk]).update(sending_started_at=None)
        return
    by_request = {str(a.get("request_id")): a for a in answers if a.get("request_id") is not None}
    for index, note in enumerate(chunk):
        answer = by_request.get(str(note.pk)) or (answers[index] if index < len(answers) else {})
        if answer.get("id"):
            _mark_sent(note, leads[note.profile_id], int(answer["id"]))
        else:
            failed[note.profile_id] = AmoCRMError(
                "amoCRM did not return the note", path="/api/v4/leads/notes"
            )


def _mark_sent(note: LeadNote, lead_id: int, note_id: int) -> None:
    note.lead_id, note.note_id, note.sent_at = lead_id, note_id, timezone.now()
    LeadNote.objects.filter(pk=note.pk).update(lead_id=lead_id, note_id=note_id, sent_at=note.sent_at)
