"""Tasks (a manager's to-do with a deadline, shown in the lead's card), in memory, apart from the
leads as notes are: the account composes them and says which leads are live. No HTTP here."""

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from tools.amocrm_standin.constants import ACCOUNT_ID, API_USER_ID
from tools.amocrm_standin.validation import check_task, validate_batch


def _now() -> int:
    return int(time.time())


class Tasks:
    """Every task by id; `leads()` gives the live lead ids (read under `lock`)."""

    def __init__(
        self, *, lock: threading.RLock, base_url: Callable[[], str], leads: Callable[[], Collection[int]]
    ) -> None:
        self.lock = lock
        self._base_url = base_url
        self._leads = leads
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tasks: dict[int, dict[str, Any]] = {}
            self.next_id = 50000001

    def create(self, body: list[Any], *, by: int = API_USER_ID) -> list[dict[str, Any]]:
        """The new tasks in item order (all or none)."""
        with self.lock:
            leads = self._leads()
            checked = validate_batch(body, lambda item, errors: check_task(item, errors, leads=leads))
            now, made = _now(), []
            for item in checked:
                task = {
                    **item,
                    "id": self.next_id,
                    "responsible_user_id": item["responsible_user_id"] or by,
                    "created_by": by,
                    "updated_by": by,
                    "created_at": now,
                    "updated_at": now,
                }
                self.tasks[task["id"]] = task
                self.next_id += 1
                made.append(self.render(task))
            return made

    def search(self, *, entity_type: str | None, entity_ids: set[int] | None) -> list[dict[str, Any]]:
        """Tasks matching the filters, oldest first (a deleted lead's are not listed)."""
        with self.lock:
            live = self._leads()
            return [
                self.render(task)
                for task in self.tasks.values()
                if (task["entity_type"] != "leads" or task["entity_id"] in live)
                and (entity_type is None or task["entity_type"] == entity_type)
                and (entity_ids is None or task["entity_id"] in entity_ids)
            ]

    def of_lead(self, lead_id: int) -> list[dict[str, Any]]:
        """A lead's tasks, live or deleted (for the control API)."""
        with self.lock:
            return [
                self.render(task)
                for task in self.tasks.values()
                if task["entity_type"] == "leads" and task["entity_id"] == lead_id
            ]

    def render(self, task: dict[str, Any]) -> dict[str, Any]:
        """A task as GET /api/v4/tasks lists it."""
        return {
            "id": task["id"],
            "created_by": task["created_by"],
            "updated_by": task["updated_by"],
            "created_at": task["created_at"],
            "updated_at": task["updated_at"],
            "responsible_user_id": task["responsible_user_id"],
            "group_id": 0,
            "entity_id": task["entity_id"],
            "entity_type": task["entity_type"],
            "duration": 0,
            "is_completed": task["is_completed"],
            "task_type_id": task["task_type_id"],
            "text": task["text"],
            "result": [],
            "complete_till": task["complete_till"],
            "account_id": ACCOUNT_ID,
            "_links": {"self": {"href": f"{self._base_url()}/api/v4/tasks/{task['id']}"}},
        }
