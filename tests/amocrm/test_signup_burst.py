"""A burst of signups reaches amoCRM in batches (issue 23, item 6): the first sync task takes every
row already due with its own, so a backlog goes out in one contact listing, 50 leads and 50 notes a
request, while a lone signup is still sent by its own task at once; leases keep a worker killed
mid-batch from doubling a lead."""

import datetime
import json
import re
from http import HTTPStatus
from itertools import count

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from amocrm import tasks
from amocrm.models import LeadNote, LeadSync
from amocrm.services import lead_sync, outbox
from amocrm.services.sync_outcomes import SyncReport
from tests.amocrm.conftest import BASE, COMPLEX_URL, CONTACTS_URL, LEADS_URL
from tests.amocrm.helpers import bodies, patch_answer, synced

pytestmark = pytest.mark.django_db

NOTES_URL = f"{BASE}/api/v4/leads/notes"


class WorkerKilled(BaseException):
    """The worker's process ends here (SIGKILL, OOM): no `except` runs, no outcome is recorded."""


class Leads:
    """amoCRM's leads as far as these tests need them: made by leads/complex, found by `query`;
    with `dies_after`, the worker dies once amoCRM holds more leads than that."""

    def __init__(self, *, dies_after: int | None = None) -> None:
        self.ids = count(33000001)
        self.made: list[dict] = []
        self.dies_after = dies_after
        self.dead = False

    def register(self) -> None:
        responses.add_callback(responses.POST, COMPLEX_URL, callback=self.create)
        responses.add_callback(
            responses.GET, re.compile(rf"{re.escape(LEADS_URL)}\?.*"), callback=self.search
        )
        responses.add_callback(responses.PATCH, LEADS_URL, callback=self.patch)
        responses.add_callback(responses.POST, NOTES_URL, callback=self.notes)
        responses.get(re.compile(rf"{re.escape(CONTACTS_URL)}\?.*"), status=204)  # no contact known

    def create(self, request):
        answers = []
        for item in json.loads(request.body):
            lead = {**item, "id": next(self.ids)}
            self.made.append(lead)
            answers.append(
                {"id": lead["id"], "contact_id": lead["id"] + 10000000, "request_id": [item["request_id"]]}
            )
        if self.dies_after is not None and len(self.made) > self.dies_after:
            self.dead = True
            raise WorkerKilled
        return (200, {}, json.dumps(answers))

    def search(self, request):
        query = request.params["query"]
        found = [lead for lead in self.made if query in json.dumps(lead, ensure_ascii=False)]
        return (200, {}, json.dumps({"_embedded": {"leads": found}})) if found else (204, {}, "")

    def patch(self, request):
        return (200, {}, json.dumps(patch_answer(*[item["id"] for item in json.loads(request.body)])))

    def notes(self, request):
        sent = json.loads(request.body)
        made = [{"id": 70000000 + n, "request_id": item["request_id"]} for n, item in enumerate(sent)]
        return (200, {}, json.dumps({"_embedded": {"notes": made}}))


def calls(method: str, url: str) -> list:
    return [
        c.request
        for c in responses.calls
        if c.request.method == method and c.request.url.split("?")[0] == url
    ]


def run_enqueued(enqueued) -> None:
    """What the worker does with the queue: every sync task, oldest first."""
    for result in list(enqueued):
        if result.task.name == "sync_profile":
            tasks.sync_profile.call(**result.kwargs)


def signups(profile_factory, number: int) -> list[Profile]:
    return [profile_factory(paid=False) for _ in range(number)]


@responses.activate
def test_a_burst_of_signups_goes_in_one_contact_listing_and_batches_of_50(
    profile_factory, crm, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.AMOCRM_LEAD_NOTES = True
    with django_capture_on_commit_callbacks(execute=True):
        burst = signups(profile_factory, 120)
    amocrm = Leads()
    amocrm.register()

    run_enqueued(enqueued)

    assert [r.kwargs for r in enqueued if r.task.name == "sync_profile"] == [
        {"profile_id": p.pk} for p in burst
    ]
    [listing] = calls("GET", CONTACTS_URL)
    assert listing.params["page"] == "1" and "query" not in listing.params  # listed once, not searched
    assert [len(body) for body in bodies("POST", COMPLEX_URL)] == [50, 50, 20]
    assert [len(body) for body in bodies("POST", NOTES_URL)] == [50, 50, 20]
    assert len(responses.calls) == 1 + 3 + 3  # the 119 tasks behind the first found their rows done
    assert LeadSync.objects.filter(status=LeadSync.Status.SYNCED).count() == 120
    assert sorted(LeadSync.objects.values_list("lead_id", flat=True)) == [lead["id"] for lead in amocrm.made]
    assert not LeadNote.objects.filter(note_id__isnull=True).exists()


@responses.activate
def test_a_lone_signup_is_sent_by_its_own_task_at_once(
    client, signup_data, crm, tasks_immediate, settings, django_capture_on_commit_callbacks
):
    settings.AMOCRM_LEAD_NOTES = True
    amocrm = Leads()
    amocrm.register()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), signup_data())
    assert response.status_code == HTTPStatus.FOUND

    # Searched by its email (a listing is for many), created, noted: three requests, as before.
    [search] = calls("GET", CONTACTS_URL)
    assert search.params["query"] == "anna@example.ru"
    assert [len(body) for body in bodies("POST", COMPLEX_URL)] == [1]
    assert [len(body) for body in bodies("POST", NOTES_URL)] == [1]
    sync = LeadSync.objects.get(profile__user__email="anna@example.ru")
    assert (sync.status, sync.lead_id) == (LeadSync.Status.SYNCED, amocrm.made[0]["id"])


@pytest.fixture
def taken(monkeypatch) -> list[list[int]]:
    """The profile ids each sync run was given (nothing is sent)."""
    runs = []

    def lead_sync_profiles(*, profile_ids, **options) -> SyncReport:
        runs.append(list(profile_ids))
        return SyncReport()

    monkeypatch.setattr(lead_sync, "lead_sync_profiles", lead_sync_profiles)
    return runs


def test_a_sync_task_takes_at_most_sync_task_size_due_rows_with_its_own(
    profile_factory, crm, taken, monkeypatch
):
    burst = signups(profile_factory, 6)
    monkeypatch.setattr(outbox, "SYNC_TASK_SIZE", 3)

    tasks.sync_profile.call(profile_id=burst[-1].pk)

    assert taken == [[burst[-1].pk, *[p.pk for p in burst[:3]]]]  # its own, then the longest due


def test_a_task_whose_profile_an_earlier_run_synced_takes_only_the_rows_due(profile_factory, crm, taken):
    done, waiting = signups(profile_factory, 2)
    synced(done)

    tasks.sync_profile.call(profile_id=done.pk)
    synced(waiting, lead_id=30000002, contact_id=40000002)
    tasks.sync_profile.call(profile_id=done.pk)

    assert taken == [[waiting.pk], []]


@responses.activate
def test_a_worker_killed_mid_batch_leaves_no_lead_doubled(
    profile_factory, crm, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        burst = signups(profile_factory, 60)
    amocrm = Leads(dies_after=50)  # amoCRM makes the second batch's leads; its answer never arrives
    amocrm.register()
    record = lead_sync.outcomes_record
    monkeypatch.setattr(
        lead_sync, "outcomes_record", lambda jobs, *a: None if amocrm.dead else record(jobs, *a)
    )

    with pytest.raises(WorkerKilled):
        tasks.sync_profile.call(profile_id=burst[0].pk)
    monkeypatch.setattr(lead_sync, "outcomes_record", record)  # the next worker is alive
    held = LeadSync.objects.filter(lead_id__isnull=True)
    assert held.count() == 10 and all(row.create_started_at and row.claimed_until for row in held)

    # The tasks queued behind it run while the dead worker's lease holds: they leave its rows alone.
    before = len(responses.calls)
    run_enqueued(enqueued)  # 60 tasks
    assert len(responses.calls) == before  # not even a search for the leads it may have made

    # The lease runs out: the next task finds the leads amoCRM made, by referral code.
    LeadSync.objects.update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))
    tasks.sync_profile.call(profile_id=burst[-1].pk)

    assert len(bodies("POST", COMPLEX_URL)) == 2 and len(amocrm.made) == 60
    assert LeadSync.objects.filter(status=LeadSync.Status.SYNCED).count() == 60
    assert sorted(LeadSync.objects.values_list("lead_id", flat=True)) == [lead["id"] for lead in amocrm.made]
