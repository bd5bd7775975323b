"""A customer's message to their manager → a task for the lead's responsible user in amoCRM
(`POST /api/v4/tasks`), through the lead sync as the history notes go (services.notes).

Never lost: the task row is written in the transaction of the message (amocrm.signals) with the
profile's LeadSync marked pending. Never doubled: `sending_started_at` is committed before the POST;
a task found with it set and no id is first looked for among the lead's tasks (same text) and only
posted again when it is not there. The responsible user is the lead's own (read in one GET per
batch, as amoCRM would otherwise give the task to the integration's user); the type is 1, amoCRM's
standard "follow-up" (Связаться). A task amoCRM refuses (400) is kept with its error for staff.
"""

import datetime
import logging
from collections.abc import Mapping

from django.conf import settings
from django.utils import timezone

from accounts.models import Profile
from amocrm import batches
from amocrm.client import AmoCRMClient, chunks
from amocrm.exceptions import AmoCRMError, AmoCRMValidationError
from amocrm.models import ERROR_KEPT, LeadTask

logger = logging.getLogger(__name__)

FOLLOW_UP = 1  # amoCRM's standard task type "Связаться" (Kommo: "Follow-up")


def task_record(*, profile: Profile, text: str) -> LeadTask:
    """Keep the task for the manager (call inside the transaction of the message)."""
    due = timezone.now() + datetime.timedelta(hours=settings.MANAGER_MESSAGE_ANSWER_HOURS)
    return LeadTask.objects.create(profile=profile, text=task_text(text), complete_till=due)


def task_text(text: str) -> str:
    return f"Клиент написал с сайта, ответьте: «{text}»"


def tasks_send(client: AmoCRMClient, leads: Mapping[int, int]) -> dict[int, AmoCRMError]:
    """Post the waiting tasks of these profiles (profile id → lead id), oldest first, 50 a request;
    the profiles whose tasks could not be sent now, with the error (their sync is retried)."""
    waiting = list(
        LeadTask.objects.filter(profile_id__in=list(leads), task_id__isnull=True, error="").order_by(
            "created_at", "pk"
        )
    )
    failed: dict[int, AmoCRMError] = {}
    if not waiting:
        return failed
    try:
        owners = {
            int(lead["id"]): lead.get("responsible_user_id")
            for lead in client.leads_list_by_ids(sorted({leads[t.profile_id] for t in waiting}))
        }
    except AmoCRMError as e:
        return {task.profile_id: e for task in waiting}
    to_post = []
    for task in waiting:
        try:
            if task.sending_started_at is not None and _found(client, task, leads[task.profile_id]):
                continue
        except AmoCRMError as e:
            failed[task.profile_id] = e
            continue
        to_post.append(task)
    for chunk in chunks([task for task in to_post if task.profile_id not in failed]):
        _post(client, chunk, leads, owners, failed)
    return failed


def _found(client: AmoCRMClient, task: LeadTask, lead_id: int) -> bool:
    taken = set(LeadTask.objects.filter(task_id__isnull=False).values_list("task_id", flat=True))
    for remote in client.lead_tasks(lead_id):
        if remote.get("text") == task.text and remote.get("id") and int(remote["id"]) not in taken:
            _mark_sent(task, lead_id, int(remote["id"]))
            logger.info("amocrm.task_recovered task_id=%s lead_id=%s", remote["id"], lead_id)
            return True
    return False


def _post(client, chunk: list[LeadTask], leads: Mapping[int, int], owners: Mapping, failed: dict) -> None:
    def named(batch: list[LeadTask], error: AmoCRMValidationError) -> set[int]:
        return {
            i
            for i, task in enumerate(batch)
            if str(task.pk) in error.request_ids or leads[task.profile_id] in error.entity_ids
        }

    def refuse(task: LeadTask, error: AmoCRMError) -> None:
        LeadTask.objects.filter(pk=task.pk).update(error=str(error)[:ERROR_KEPT], sending_started_at=None)
        logger.warning("amocrm.task_refused task=%s profile_id=%s", task.pk, task.profile_id)

    batches.send_refusing_named(
        chunk, lambda batch: _post_batch(client, batch, leads, owners, failed), named=named, refuse=refuse
    )


def _post_batch(
    client, chunk: list[LeadTask], leads: Mapping[int, int], owners: Mapping, failed: dict
) -> None:
    LeadTask.objects.filter(pk__in=[task.pk for task in chunk]).update(sending_started_at=timezone.now())
    payload = []
    for task in chunk:
        lead_id = leads[task.profile_id]
        item = {
            "text": task.text,
            "complete_till": int(task.complete_till.timestamp()),
            "entity_id": lead_id,
            "entity_type": "leads",
            "task_type_id": FOLLOW_UP,
            "request_id": str(task.pk),
        }
        if owners.get(lead_id):
            item["responsible_user_id"] = int(owners[lead_id])
        payload.append(item)
    try:
        answers = client.tasks_create(payload)
    except AmoCRMValidationError:
        raise  # refused: _post decides which tasks
    except AmoCRMError as e:
        for task in chunk:
            failed[task.profile_id] = e
        if not e.may_have_acted:
            LeadTask.objects.filter(pk__in=[task.pk for task in chunk]).update(sending_started_at=None)
        return
    by_request = {str(a.get("request_id")): a for a in answers if a.get("request_id") is not None}
    for index, task in enumerate(chunk):
        answer = by_request.get(str(task.pk)) or (answers[index] if index < len(answers) else {})
        if answer.get("id"):
            _mark_sent(task, leads[task.profile_id], int(answer["id"]))
        else:
            failed[task.profile_id] = AmoCRMError("amoCRM did not return the task", path="/api/v4/tasks")


def _mark_sent(task: LeadTask, lead_id: int, task_id: int) -> None:
    task.lead_id, task.task_id, task.sent_at = lead_id, task_id, timezone.now()
    LeadTask.objects.filter(pk=task.pk).update(lead_id=lead_id, task_id=task_id, sent_at=task.sent_at)
