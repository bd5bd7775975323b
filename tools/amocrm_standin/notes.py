"""The notes on leads (the history managers read in a lead's card), in memory, apart from the leads:
the account composes them and says which leads are live. A deleted lead's notes stay stored but are
not listed, so a restored lead has them back; no note is made on a deleted lead. No HTTP here.
"""

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from tools.amocrm_standin.constants import API_USER_ID
from tools.amocrm_standin.shapes import note_shape
from tools.amocrm_standin.validation import check_note, validate_batch


def _now() -> int:
    return int(time.time())


class Notes:
    """Every lead's notes by id; `leads()` gives the live lead ids (read under `lock`)."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        base_url: Callable[[], str],
        leads: Callable[[], Collection[int]],
    ) -> None:
        self.lock = lock
        self._base_url = base_url
        self._leads = leads
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.notes: dict[int, dict[str, Any]] = {}
            self.next_id = 40000001

    def create(
        self, body: list[Any], *, entity_id: int | None = None, by: int = API_USER_ID
    ) -> list[dict[str, Any]]:
        """The new notes in item order (all or none); `entity_id` is the lead of /leads/<id>/notes."""
        with self.lock:
            leads = self._leads()
            checked = validate_batch(
                body, lambda item, errors: check_note(item, errors, leads=leads, entity_id=entity_id)
            )
            now, made = _now(), []
            for item in checked:
                note = {
                    "id": self.next_id,
                    "entity_id": item["entity_id"],
                    "created_by": by,
                    "updated_by": by,
                    "created_at": now,
                    "updated_at": now,
                    "responsible_user_id": item["responsible_user_id"] or by,
                    "note_type": item["note_type"],
                    "params": item["params"],
                }
                self.notes[note["id"]] = note
                self.next_id += 1
                made.append(self.render(note))
            return made

    def search(
        self, *, entity_ids: set[int] | None, ids: set[int] | None, note_types: set[str] | None
    ) -> list[dict[str, Any]]:
        """The notes of live leads that match every filter given, oldest first."""
        with self.lock:
            live = self._leads()
            return [
                self.render(note)
                for note in self.notes.values()
                if note["entity_id"] in live
                and (entity_ids is None or note["entity_id"] in entity_ids)
                and (ids is None or note["id"] in ids)
                and (note_types is None or note["note_type"] in note_types)
            ]

    def get(self, entity_id: int, note_id: int) -> dict[str, Any] | None:
        found = self.search(entity_ids={entity_id}, ids={note_id}, note_types=None)
        return found[0] if found else None

    def of_lead(self, lead_id: int) -> list[dict[str, Any]]:
        """A lead's notes, oldest first, whether the lead is live or deleted (for the control API)."""
        with self.lock:
            return [self.render(note) for note in self.notes.values() if note["entity_id"] == lead_id]

    def render(self, note: dict[str, Any]) -> dict[str, Any]:
        return note_shape(note, self._base_url())
