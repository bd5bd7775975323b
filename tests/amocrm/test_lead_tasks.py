"""A customer's message to the manager: a note on the lead and a task for the lead's responsible user
(POST /api/v4/tasks), through the sync's outbox: never lost, never doubled."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.utils import timezone

from accounts import services as accounts
from amocrm.models import LeadNote, LeadSync, LeadTask
from amocrm.services import lead_sync
from tests.amocrm.conftest import BASE, LEAD, LEADS_URL
from tests.amocrm.helpers import patch_ok

pytestmark = pytest.mark.django_db

NOTES_URL = f"{BASE}/api/v4/leads/notes"
TASKS_URL = f"{BASE}/api/v4/tasks"
MANAGER = 8000002


@pytest.fixture(autouse=True)
def notes_on(settings):
    settings.AMOCRM_LEAD_NOTES = True
    settings.MANAGER_MESSAGE_ANSWER_HOURS = 24


def answer(kind: str, first_id: int):
    def callback(request):
        items = json.loads(request.body)
        made = [{"id": first_id + i, "request_id": item["request_id"]} for i, item in enumerate(items)]
        return (200, {}, json.dumps({"_embedded": {kind: made}}))

    return callback


def leads_read(request):
    ids = parse_qs(urlsplit(request.url).query)["filter[id][]"]
    return (
        200,
        {},
        json.dumps({"_embedded": {"leads": [{"id": int(i), "responsible_user_id": MANAGER} for i in ids]}}),
    )


def mock_amocrm() -> None:
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add_callback(responses.GET, LEADS_URL, callback=leads_read)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer("notes", 70000001))
    responses.add_callback(responses.POST, TASKS_URL, callback=answer("tasks", 50000001))


def posted(url: str) -> list[dict]:
    return [item for call in responses.calls if call.request.url == url and call.request.method == "POST"
            for item in json.loads(call.request.body)]  # fmt: skip


@responses.activate
def test_a_message_becomes_a_note_and_a_task_for_the_leads_manager(linked, amo):
    LeadNote.objects.all().delete()  # the signup's note: its own test
    before = timezone.now()
    accounts.manager_message_send(profile=linked, text="Можно ли букет без лилий?")
    mock_amocrm()

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    [note] = posted(NOTES_URL)
    assert note["entity_id"] == LEAD
    assert note["params"]["text"] == "Клиент написал менеджеру с сайта: «Можно ли букет без лилий?»"
    [task] = posted(TASKS_URL)
    assert task["entity_id"] == LEAD and task["entity_type"] == "leads"
    assert task["responsible_user_id"] == MANAGER and task["task_type_id"] == 1
    assert "Можно ли букет без лилий?" in task["text"]
    hours = (task["complete_till"] - before.timestamp()) / 3600
    assert 23.9 < hours < 24.1
    sent = LeadTask.objects.get()
    assert (sent.task_id, sent.lead_id) == (50000001, LEAD)


@responses.activate
def test_a_message_sent_is_not_sent_again(linked, amo):
    accounts.manager_message_send(profile=linked, text="Позвоните мне")
    mock_amocrm()
    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)
    accounts.profile_update_preferences(profile=linked, data={"wishes": "Пионы"})

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert len(posted(TASKS_URL)) == 1


@responses.activate
def test_a_task_amocrm_refuses_is_kept_with_its_error_and_not_tried_again(linked, amo):
    accounts.manager_message_send(profile=linked, text="Позвоните мне")
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add_callback(responses.GET, LEADS_URL, callback=leads_read)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer("notes", 70000001))
    responses.add(responses.POST, TASKS_URL, status=400, json={"title": "Bad Request", "detail": "nope"})

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)
    accounts.profile_update_preferences(profile=linked, data={"wishes": "Пионы"})
    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    task = LeadTask.objects.get()
    assert task.task_id is None and task.error  # kept for staff
    assert len(posted(TASKS_URL)) == 1


@responses.activate
def test_a_task_amocrm_could_not_take_is_sent_by_the_next_sync(linked, amo):
    accounts.manager_message_send(profile=linked, text="Позвоните мне")
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add_callback(responses.GET, LEADS_URL, callback=leads_read)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer("notes", 70000001))
    down = [True]
    made = answer("tasks", 50000001)
    responses.add_callback(
        responses.POST, TASKS_URL, callback=lambda request: (503, {}, "") if down[0] else made(request)
    )

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)
    assert LeadTask.objects.get().task_id is None
    down[0] = False
    LeadSync.objects.update(next_attempt_at=timezone.now())
    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert LeadTask.objects.get().task_id == 50000001


@responses.activate
def test_a_task_whose_answer_was_lost_is_found_on_the_lead_not_posted_twice(linked, amo):
    accounts.manager_message_send(profile=linked, text="Позвоните мне")
    task = LeadTask.objects.get()
    LeadTask.objects.filter(pk=task.pk).update(sending_started_at=timezone.now())  # a worker died mid-POST
    mock_amocrm()
    responses.add(
        responses.GET,
        TASKS_URL,
        json={"_embedded": {"tasks": [{"id": 50000099, "text": task.text, "entity_id": LEAD}]}},
    )

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert posted(TASKS_URL) == []
    assert LeadTask.objects.get().task_id == 50000099
