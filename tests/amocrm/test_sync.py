"""Profile → amoCRM lead sync: signals, the sync service, the tasks and their failures."""

import datetime
import json
import re
from decimal import Decimal
from http import HTTPStatus
from io import StringIO
from itertools import count

import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Profile
from amocrm import mapping, tasks
from amocrm.models import CustomField, CustomFieldEnum, LeadSync
from amocrm.services import lead_sync, outbox
from tests.amocrm.conftest import COMPLEX_URL, CONTACTS_URL, FIELD_IDS, LEADS_URL
from tests.amocrm.helpers import bodies, by_field, complex_answer, not_a_choice, patch_answer, synced

pytestmark = pytest.mark.django_db

Key = CustomField.Key


# -- signup and the first sync -------------------------------------------------------------------


@responses.activate
def test_signup_creates_one_lead_with_its_contact_in_one_complex_call(
    client, signup_data, crm, tasks_immediate, django_capture_on_commit_callbacks
):
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, json=complex_answer(), status=200)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("account_signup"), signup_data())
        assert response.status_code == HTTPStatus.FOUND
        assert len(responses.calls) == 0  # nothing reaches amoCRM inside the customer's request
    for callback in callbacks:
        callback()

    [lead] = [item for body in bodies("POST", COMPLEX_URL) for item in body]
    assert len(bodies("POST", COMPLEX_URL)) == 1
    profile = Profile.objects.get(user__email="anna@example.ru")
    assert lead["name"] == "Подписка на цветы — anna@example.ru"
    assert lead["price"] == 3001 and isinstance(lead["price"], int)  # 3000.50 ₽ in whole roubles
    assert lead["_embedded"]["tags"] == [{"name": "flower-account"}]
    [contact] = lead["_embedded"]["contacts"]
    assert contact["custom_fields_values"][0] == {
        "field_code": "EMAIL",
        "values": [{"value": "anna@example.ru", "enum_code": "WORK"}],
    }
    # The signup form's name and phone (issue 27 item 7): the manager and the couriers see them.
    assert (contact["name"], contact["first_name"]) == ("Анна", "Анна")
    assert contact["custom_fields_values"][1] == {
        "field_code": "PHONE",
        "values": [{"value": "+79001234567", "enum_code": "MOB"}],
    }
    values = by_field(lead["custom_fields_values"])
    assert set(values) == set(FIELD_IDS.values())
    assert values[FIELD_IDS[Key.ACCOUNT_SUM]] == [{"value": "3000.50"}]
    assert values[FIELD_IDS[Key.DELIVERY_DATE]] == [
        {"value": mapping.date_to_timestamp(profile.next_delivery_on())}
    ]
    assert isinstance(values[FIELD_IDS[Key.DELIVERY_DATE]][0]["value"], int)
    category_enum = CustomFieldEnum.objects.get(field__key=Key.BOUQUET_CATEGORY, key="romantic").enum_id
    assert values[FIELD_IDS[Key.BOUQUET_CATEGORY]] == [{"enum_id": category_enum}]
    interval_enum = CustomFieldEnum.objects.get(field__key=Key.DELIVERY_INTERVAL, key="biweekly").enum_id
    assert values[FIELD_IDS[Key.DELIVERY_INTERVAL]] == [{"enum_id": interval_enum}]
    assert "pipeline_id" not in lead and "status_id" not in lead

    sync = LeadSync.objects.get(profile=profile)
    assert (sync.status, sync.lead_id, sync.contact_id) == (LeadSync.Status.SYNCED, 30000001, 40000001)
    assert sync.create_started_at is None and sync.attempts == 0


@responses.activate
def test_new_leads_land_in_the_configured_pipeline_and_stage(customer, crm, settings):
    settings.AMOCRM_PIPELINE_ID = 7000001
    settings.AMOCRM_STATUS_ID = 60000003
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, json=complex_answer())

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk])

    [[lead]] = bodies("POST", COMPLEX_URL)
    assert (lead["pipeline_id"], lead["status_id"]) == (7000001, 60000003)


@responses.activate
def test_existing_contact_with_the_email_is_linked_not_duplicated(customer, crm):
    email = customer.user.email
    found = {
        "id": 777,
        "name": "Анна",
        "custom_fields_values": [
            {"field_code": "EMAIL", "values": [{"value": email.upper(), "enum_code": "WORK"}]}
        ],
    }
    responses.get(CONTACTS_URL, json={"_embedded": {"contacts": [found]}})
    responses.post(COMPLEX_URL, json=complex_answer(contact_id=777))

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk])

    [[lead]] = bodies("POST", COMPLEX_URL)
    assert lead["_embedded"]["contacts"] == [{"id": 777}]
    assert bodies("POST", CONTACTS_URL) == []
    assert LeadSync.objects.get(profile=customer).contact_id == 777


# -- later changes ------------------------------------------------------------------------------


@responses.activate
def test_preference_edit_sends_one_patch_with_only_the_changed_fields(
    customer, customer_client, crm, tasks_immediate, django_capture_on_commit_callbacks
):
    synced(customer)
    responses.patch(LEADS_URL, json=patch_answer(30000001))
    data = {
        "bouquet_category": customer.bouquet_category.slug,
        "delivery_address": customer.delivery_address,
        "next_delivery_date": customer.next_delivery_on().isoformat(),
        "delivery_interval": customer.delivery_interval,
        "wishes": "Только тюльпаны",
        "phone": customer.phone,
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(reverse("accounts:preferences"), data)

    assert response.status_code == HTTPStatus.FOUND
    assert len(responses.calls) == 1
    [[patch]] = bodies("PATCH", LEADS_URL)
    assert patch == {
        "id": 30000001,
        "custom_fields_values": [
            {"field_id": FIELD_IDS[Key.WISHES], "values": [{"value": "Только тюльпаны"}]}
        ],
    }
    sync = LeadSync.objects.get(profile=customer)
    assert sync.status == LeadSync.Status.SYNCED
    assert sync.synced_values[Key.WISHES]["values"] == [{"value": "Только тюльпаны"}]


@responses.activate
def test_sum_change_patches_the_price_and_the_sum_field(customer, crm):
    synced(customer)
    responses.patch(LEADS_URL, json=patch_answer(30000001))
    customer.account_sum = Decimal("7499.60")
    customer.save(update_fields=["account_sum", "updated_at"])

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk])

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert patch["price"] == 7500
    assert patch["custom_fields_values"] == [
        {"field_id": FIELD_IDS[Key.ACCOUNT_SUM], "values": [{"value": "7499.60"}]}
    ]
    assert "name" not in patch


@responses.activate
def test_save_without_changes_sends_nothing(
    customer, crm, tasks_immediate, django_capture_on_commit_callbacks
):
    synced(customer)

    with django_capture_on_commit_callbacks(execute=True):
        services.profile_update_preferences(profile=customer, data={"wishes": customer.wishes})

    assert len(responses.calls) == 0
    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.SYNCED


@responses.activate
def test_quick_edits_coalesce_into_one_request_with_the_latest_values(
    customer, crm, enqueued, django_capture_on_commit_callbacks
):
    synced(customer)
    responses.patch(LEADS_URL, json=patch_answer(30000001))
    for wishes in ["Розы", "Пионы", "Тюльпаны"]:
        with django_capture_on_commit_callbacks(execute=True):
            services.profile_update_preferences(profile=customer, data={"wishes": wishes})
    assert [r.kwargs for r in enqueued] == [{"profile_id": customer.pk}] * 3

    for result in enqueued:
        tasks.sync_profile.call(**result.kwargs)

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert len(responses.calls) == 1
    assert by_field(patch["custom_fields_values"]) == {FIELD_IDS[Key.WISHES]: [{"value": "Тюльпаны"}]}


def test_a_save_during_a_sync_leaves_the_profile_pending_for_a_rerun(customer, crm):
    sync = LeadSync.objects.get(profile=customer)
    seen = sync.revision
    outbox.lead_sync_mark_pending(profile=customer)  # saved again while the worker was sending
    sync.refresh_from_db()

    assert not sync.mark_synced(values={}, lead_id=1, contact_id=2, revision=seen, now=timezone.now())
    assert sync.status == LeadSync.Status.PENDING


# -- commit, no CRM ---------------------------------------------------------------------------------


def test_sync_is_enqueued_only_after_commit(
    profile_factory, crm, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        profile = profile_factory(account_sum=Decimal("0"))  # as signup leaves it: nothing paid yet
        assert enqueued == []
        assert LeadSync.objects.get(profile=profile).status == LeadSync.Status.PENDING

    for callback in callbacks:
        callback()
    assert [(r.task.name, r.kwargs) for r in enqueued] == [("sync_profile", {"profile_id": profile.pk})]


@responses.activate(assert_all_requests_are_fired=True)
def test_with_the_crm_off_signup_records_pending_and_sends_nothing(
    client, signup_data, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.AMOCRM_BASE_URL = ""
    settings.AMOCRM_CLIENT_ID = settings.AMOCRM_CLIENT_SECRET = ""

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == HTTPStatus.FOUND
    assert len(responses.calls) == 0
    assert enqueued == []
    sync = LeadSync.objects.get(profile__user__email="anna@example.ru")
    assert (sync.status, sync.lead_id) == (LeadSync.Status.PENDING, None)


@responses.activate
def test_with_the_crm_off_a_task_already_queued_sends_nothing(customer, settings, tasks_immediate):
    settings.AMOCRM_BASE_URL = ""

    assert tasks.sync_profile.call(profile_id=customer.pk) == {"disabled": True}
    assert len(responses.calls) == 0


# -- failures ------------------------------------------------------------------------------------


@responses.activate
def test_500_on_create_then_success_makes_one_lead(customer, crm, amo):
    responses.get(CONTACTS_URL, status=204)
    responses.get(LEADS_URL, status=204)  # the retry looks for a lead the first POST may have made
    responses.post(COMPLEX_URL, status=500, json={"title": "Internal Server Error", "status": 500})
    responses.post(COMPLEX_URL, json=complex_answer())

    first = lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)
    sync = LeadSync.objects.get(profile=customer)
    assert first.retry and sync.status == LeadSync.Status.PENDING
    assert sync.attempts == 1 and sync.create_started_at is not None and sync.lead_id is None
    assert "server error" in sync.last_error

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    assert len(bodies("POST", COMPLEX_URL)) == 2  # the client never repeats an ambiguous POST itself
    sync.refresh_from_db()
    assert (sync.status, sync.lead_id, sync.attempts) == (LeadSync.Status.SYNCED, 30000001, 0)
    assert LeadSync.objects.filter(lead_id__isnull=False).count() == 1


@responses.activate
def test_retry_of_an_interrupted_create_finds_the_lead_instead_of_creating_another(customer, crm, amo):
    # The worker died after amoCRM created the lead and before its id was stored.
    LeadSync.objects.filter(profile=customer).update(create_started_at=timezone.now())
    code = str(customer.referral_code)
    found = {
        "id": 30000009,
        "name": "Подписка на цветы — x",
        "status_id": 60000005,  # a manager moved it meanwhile
        "custom_fields_values": [
            {"field_id": FIELD_IDS[Key.REFERRAL_URL], "values": [{"value": customer.referral_url}]}
        ],
        "_embedded": {"contacts": [{"id": 40000009, "is_main": True}]},
    }
    other = {"id": 1, "custom_fields_values": [{"field_id": 1, "values": [{"value": "nothing"}]}]}
    responses.get(LEADS_URL, json={"_embedded": {"leads": [other, found]}})
    responses.patch(LEADS_URL, json=patch_answer(30000009))

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    search = responses.calls[0].request
    assert search.method == "GET" and code in search.url
    assert bodies("POST", COMPLEX_URL) == []
    [[patch]] = bodies("PATCH", LEADS_URL)
    assert patch["id"] == 30000009 and len(patch["custom_fields_values"]) == len(mapping.FIELDS)
    sync = LeadSync.objects.get(profile=customer)
    assert (sync.status, sync.lead_id, sync.contact_id) == (LeadSync.Status.SYNCED, 30000009, 40000009)
    assert sync.crm_status_id == 60000005  # the stage it was found in is the last seen


@responses.activate
def test_validation_error_marks_the_sync_failed_with_amocrms_message(customer, crm, amo):
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, status=400, json=not_a_choice("custom_fields_values.1.field_id"))

    report = lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    assert report.failed == [customer.pk]
    sync = LeadSync.objects.get(profile=customer)
    assert sync.status == LeadSync.Status.FAILED
    assert "Request validation failed" in sync.last_error
    assert "custom_fields_values.1.field_id: NotSupportedChoice" in sync.last_error
    assert sync.next_attempt_at is None and sync.create_started_at is None  # nothing was created
    assert len(bodies("POST", COMPLEX_URL)) == 1


@responses.activate
def test_a_patch_that_finds_the_lead_deleted_gives_the_customer_a_new_lead(customer, crm, amo):
    # The delete hook was lost: the PATCH answers 204. Failing the row would be for ever (a resync
    # sends the same PATCH); the lead is gone, so the customer gets a new one at once.
    synced(customer)
    customer.wishes = "Другие"
    customer.save(update_fields=["wishes", "updated_at"])
    responses.patch(LEADS_URL, status=204)
    responses.get(f"{LEADS_URL}/30000001", status=204)  # read back: gone
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, json=complex_answer(lead_id=30000099, contact_id=40000099))

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    sync = LeadSync.objects.get(profile=customer)
    assert (sync.status, sync.lead_id) == (LeadSync.Status.SYNCED, 30000099)
    assert [c.request.method for c in responses.calls] == ["PATCH", "GET", "GET", "POST"]


NOT_FOUND_AT_ID = {
    "title": "Bad Request",
    "type": "https://httpstatus.es/400",
    "status": 400,
    "detail": "Request validation failed",
    "validation-errors": [
        {
            "request_id": "0",
            "errors": [{"code": "NotFound", "path": "id", "detail": "The lead does not exist."}],
        }
    ],
}


@pytest.mark.parametrize(
    "refusal",
    [
        {"status": 400, "json": NOT_FOUND_AT_ID},
        # The other 400 shape names the lead by its id alone (amocrm-api-php issue 88).
        {"status": 400, "json": {"title": "Bad Request", "status": 400, "errors": {"30000001": "Not found"}}},
        {"status": 404},
    ],
    ids=["not-found-at-id", "by-lead-id", "404"],
)
@responses.activate
def test_a_patch_refused_for_a_deleted_lead_reads_it_and_gives_the_customer_a_new_lead(
    customer, crm, amo, refusal
):
    # The lead was deleted while its hook was lost: the row must not fail for ever.
    synced(customer)
    services.profile_update_preferences(profile=customer, data={"wishes": "Другие"})
    responses.patch(LEADS_URL, **refusal)
    responses.get(f"{LEADS_URL}/30000001", status=204)
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, json=complex_answer(lead_id=30000099, contact_id=40000099))

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    sync = LeadSync.objects.get(profile=customer)
    assert (sync.status, sync.lead_id) == (LeadSync.Status.SYNCED, 30000099)
    [lead] = bodies("POST", COMPLEX_URL)[0]
    assert by_field(lead["custom_fields_values"])[FIELD_IDS[Key.WISHES]] == [{"value": "Другие"}]


@responses.activate
def test_a_patch_refused_as_not_found_for_a_lead_that_is_there_still_fails_the_row(customer, crm, amo):
    synced(customer)
    services.profile_update_preferences(profile=customer, data={"wishes": "Другие"})
    responses.patch(LEADS_URL, status=400, json=NOT_FOUND_AT_ID)
    responses.get(f"{LEADS_URL}/30000001", json={"id": 30000001, "status_id": 1})

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    sync = LeadSync.objects.get(profile=customer)
    assert (sync.status, sync.lead_id) == (LeadSync.Status.FAILED, 30000001)
    assert "NotFound" in sync.last_error
    assert bodies("POST", COMPLEX_URL) == []


@responses.activate
def test_fields_not_set_up_fail_without_a_request(customer, oauth_token, amo):
    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    assert len(responses.calls) == 0
    sync = LeadSync.objects.get(profile=customer)
    assert sync.status == LeadSync.Status.FAILED and "amocrm_setup_fields" in sync.last_error


@responses.activate
def test_outage_retries_with_a_growing_delay(customer, crm, amo):
    responses.get(CONTACTS_URL, status=503)
    delays = []
    for _ in range(3):
        LeadSync.objects.filter(profile=customer).update(next_attempt_at=None)
        before = timezone.now()
        report = lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo, jitter=lambda: 1.0)
        assert list(report.retry) == [customer.pk]
        sync = LeadSync.objects.get(profile=customer)
        delays.append((sync.next_attempt_at - before).total_seconds())

    assert sync.status == LeadSync.Status.PENDING and sync.attempts == 3
    assert [round(d / 30) for d in delays] == [1, 2, 4]
    assert bodies("POST", COMPLEX_URL) == []


def test_backoff_grows_and_caps_at_one_hour():
    top = [outbox.retry_delay(n, jitter=lambda: 1.0).total_seconds() for n in range(1, 12)]
    low = [outbox.retry_delay(n, jitter=lambda: 0.0).total_seconds() for n in range(1, 12)]

    assert top[:4] == [30, 60, 120, 240]
    assert top == sorted(top) and max(top) == 3600 and top[-1] == 3600
    assert low[-1] == 1800  # jitter spreads retries over the second half of the window
    assert outbox.retry_delay(1000, jitter=lambda: 1.0) == datetime.timedelta(hours=1)


@responses.activate
def test_rate_limited_sync_waits_at_least_retry_after(customer, crm, amo):
    responses.get(CONTACTS_URL, status=429, headers={"Retry-After": "600"})

    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo, jitter=lambda: 0.0)

    sync = LeadSync.objects.get(profile=customer)
    assert sync.next_attempt_at - timezone.now() > datetime.timedelta(seconds=590)


@responses.activate
def test_rows_due_at_different_times_are_each_retried_at_their_own_time(profile_factory, crm, enqueued):
    soon, late = profile_factory(), profile_factory()
    LeadSync.objects.filter(profile=late).update(attempts=6)  # its seventh try backs off 16-32 min
    responses.get(CONTACTS_URL, status=429, headers={"Retry-After": "61"})  # soon: due in 61 s
    enqueued.clear()

    tasks.sync_profiles.call(profile_ids=[soon.pk, late.pk])

    due = dict(LeadSync.objects.values_list("profile_id", "next_attempt_at"))
    assert due[late.pk] - due[soon.pk] > datetime.timedelta(minutes=10)
    retries = {tuple(r.kwargs["profile_ids"]): r for r in enqueued}
    assert set(retries) == {(soon.pk,), (late.pk,)}
    for pk in (soon.pk, late.pk):
        assert retries[(pk,)].task.run_after == due[pk]
        assert retries[(pk,)].kwargs["due_only"] is True


def test_a_failed_runs_retries_go_in_few_runs_none_early_none_much_late():
    now = timezone.now()
    rows = {pk: now + outbox.retry_delay(n) for pk, n in enumerate([1] * 500 + [7] * 500)}

    runs = outbox.retry_runs(due=rows, now=now)

    assert sorted(pk for _, ids in runs for pk in ids) == sorted(rows)
    assert len(runs) <= 20  # 1,000 rows with jittered delays: not a task each
    for run_after, ids in runs:
        for pk in ids:
            wait = rows[pk] - now
            assert rows[pk] <= run_after <= rows[pk] + max(outbox.RETRY_SLOT, wait / 10)


def test_retries_due_within_a_few_seconds_share_one_run_at_the_latest():
    now = timezone.now()
    seconds = {1: 30, 2: 33, 3: 34, 4: 45}

    runs = outbox.retry_runs(
        due={pk: now + datetime.timedelta(seconds=s) for pk, s in seconds.items()}, now=now
    )

    assert [((at - now).total_seconds(), ids) for at, ids in runs] == [(34, [1, 2, 3]), (45, [4])]


def test_a_profile_another_worker_holds_is_skipped(customer, crm):
    LeadSync.objects.filter(profile=customer).update(
        claimed_until=timezone.now() + datetime.timedelta(minutes=1)
    )

    with responses.RequestsMock():  # any request would fail: none registered
        report = lead_sync.lead_sync_profiles(profile_ids=[customer.pk])

    assert report.skipped == [customer.pk]


# -- bulk ------------------------------------------------------------------------------------------


@responses.activate
def test_resync_sends_batches_of_50(profile_factory, crm):
    known = [profile_factory() for _ in range(55)]
    new = [profile_factory() for _ in range(53)]
    for number, profile in enumerate(known):
        synced(profile, lead_id=31000000 + number, contact_id=41000000 + number)

    def patched(request):
        ids = [item["id"] for item in json.loads(request.body)]
        return (200, {}, json.dumps(patch_answer(*ids)))

    responses.add_callback(responses.PATCH, LEADS_URL, callback=patched)
    responses.add_callback(responses.POST, COMPLEX_URL, callback=_created_leads)
    responses.get(re.compile(rf"{re.escape(CONTACTS_URL)}\?.*"), status=204)
    call_command("amocrm_resync", "--all", "--now")

    assert [len(body) for body in bodies("PATCH", LEADS_URL)] == [50, 5]
    assert [len(body) for body in bodies("POST", COMPLEX_URL)] == [50, 3]
    assert all(
        len(item["custom_fields_values"]) == len(mapping.FIELDS) for item in bodies("PATCH", LEADS_URL)[0]
    )
    assert LeadSync.objects.filter(status=LeadSync.Status.SYNCED).count() == len(known) + len(new)
    assert LeadSync.objects.filter(lead_id__isnull=False).values("lead_id").distinct().count() == 108


@responses.activate
def test_a_sync_run_makes_the_same_reads_for_6_leads_as_for_2(profile_factory, crm):
    """The profiles' query carries each lead's invoiced sum and next delivery date: no query per lead."""

    def edited(number: int):
        profile = profile_factory()
        synced(profile, lead_id=31000000 + number, contact_id=41000000 + number)
        profile.wishes = f"Больше зелени {number}"
        profile.save(update_fields=["wishes", "updated_at"])
        return profile

    def patched(request):
        ids = [item["id"] for item in json.loads(request.body)]
        return (200, {}, json.dumps(patch_answer(*ids)))

    responses.add_callback(responses.PATCH, LEADS_URL, callback=patched)
    few, many = [edited(n) for n in range(2)], [edited(n) for n in range(2, 8)]
    with CaptureQueriesContext(connection) as for_few:
        lead_sync.lead_sync_profiles(profile_ids=[p.pk for p in few])
    with CaptureQueriesContext(connection) as for_many:
        lead_sync.lead_sync_profiles(profile_ids=[p.pk for p in many])

    # Reads only: each outcome is still written row by row, and the first run creates the rate
    # limiter's row.
    def reads(captured) -> list[str]:
        return [
            q["sql"] for q in captured if q["sql"].startswith("SELECT") and "amocrm_ratelimit" not in q["sql"]
        ]

    assert len(reads(for_many)) == len(reads(for_few)), reads(for_many)
    for profile in [*few, *many]:  # still read, and right
        values = LeadSync.objects.get(profile=profile).synced_values
        next_on = profile.next_delivery_on()
        assert values["price"] == 5000 and next_on is not None
        spec = mapping.FIELDS_BY_KEY[Key.DELIVERY_DATE]
        assert values[Key.DELIVERY_DATE] == mapping.field_value(spec, next_on, crm)


_batches = count()


def _created_leads(request):
    """leads/complex answers: distinct lead and contact ids across batches, in request order."""
    base = 33000000 + next(_batches) * 100
    items = json.loads(request.body)
    return (
        200,
        {},
        json.dumps([{"id": base + i, "contact_id": base + 10000000 + i} for i in range(len(items))]),
    )


def test_resync_dry_run_counts_and_queues_nothing(customer, crm, enqueued):
    out = StringIO()
    call_command("amocrm_resync", "--dry-run", stdout=out)

    assert "1 profile(s) would be resynced" in out.getvalue()
    assert enqueued == []


def test_resync_queues_bulk_tasks_for_the_worker(customer, crm, enqueued):
    LeadSync.objects.filter(profile=customer).update(status=LeadSync.Status.FAILED, last_error="x")

    call_command("amocrm_resync", "--failed")

    assert [(r.task.name, r.kwargs) for r in enqueued] == [
        ("sync_profiles", {"profile_ids": [customer.pk], "full": True})
    ]
    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.PENDING


def test_sync_due_requeues_pending_rows_whose_time_has_come(profile_factory, crm, enqueued):
    due, later, held = profile_factory(), profile_factory(), profile_factory()
    now = timezone.now()
    LeadSync.objects.filter(profile=later).update(
        attempts=2, next_attempt_at=now + datetime.timedelta(hours=1)
    )
    LeadSync.objects.filter(profile=held).update(claimed_until=now + datetime.timedelta(minutes=3))
    LeadSync.objects.filter(profile=due).update(
        attempts=1, next_attempt_at=now - datetime.timedelta(seconds=1)
    )

    call_command("amocrm_sync_due")

    assert [(r.task.name, r.kwargs) for r in enqueued] == [
        ("sync_profiles", {"profile_ids": [due.pk], "full": False})
    ]


def test_a_save_while_a_retry_is_scheduled_does_not_enqueue_another_task(
    customer, crm, enqueued, django_capture_on_commit_callbacks
):
    LeadSync.objects.filter(profile=customer).update(
        attempts=3, next_attempt_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_update_preferences(profile=customer, data={"wishes": "Пионы"})

    assert enqueued == []
    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.PENDING


def test_an_email_change_marks_the_profile_pending(customer, crm):
    synced(customer)
    customer.user.email = "new@example.ru"
    customer.user.save(update_fields=["email"])
    services.profile_edited_by_staff(user=customer.user, fields=["email"])  # the admin tells it

    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.PENDING


def test_a_login_does_not_mark_the_profile_pending(customer, crm):
    synced(customer)
    customer.user.last_login = timezone.now()
    customer.user.save(update_fields=["last_login"])

    assert LeadSync.objects.get(profile=customer).status == LeadSync.Status.SYNCED


# -- client ----------------------------------------------------------------------------------------


@responses.activate
def test_leads_search_sends_the_query_with_contacts_and_reads_a_204_as_nothing(amo, oauth_token):
    responses.get(LEADS_URL, json={"_embedded": {"leads": [{"id": 5}]}})
    responses.get(LEADS_URL, status=204)

    assert amo.leads_search("0b6f-uuid") == [{"id": 5}]
    assert amo.leads_search("other") == []
    first = responses.calls[0].request
    assert first.params == {"query": "0b6f-uuid", "limit": "50", "with": "contacts"}


@responses.activate
def test_a_save_during_a_sync_that_fails_permanently_is_rerun_not_marked_failed(customer, crm, amo):
    # The customer's next save lands while the worker is sending (its own task finds the row
    # claimed and is skipped): the rejected values are stale, so the row must not end up failed.
    def rejected(request):
        outbox.lead_sync_mark_pending(profile=Profile.objects.get(pk=customer.pk))
        body = {
            "title": "Bad Request",
            "status": 400,
            "detail": "Request validation failed",
            "validation-errors": [
                {"request_id": "0", "errors": [{"code": "X", "path": "name", "detail": "no"}]}
            ],
        }
        return (400, {"Content-Type": "application/problem+json"}, json.dumps(body))

    responses.get(CONTACTS_URL, status=204)
    responses.add_callback(responses.POST, COMPLEX_URL, callback=rejected)

    report = lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    assert report.failed == [] and report.rerun == [customer.pk]
    sync = LeadSync.objects.get(profile=customer)
    assert sync.status == LeadSync.Status.PENDING and sync.claimed_until is None


@pytest.mark.parametrize("which", ["unsynced", "failed"])
def test_resync_selections_include_profiles_whose_lead_was_deleted(profile_factory, which):
    from amocrm.models import LeadSync

    unlinked, synced = profile_factory(), profile_factory()
    LeadSync.objects.filter(profile=unlinked).update(status=LeadSync.Status.UNLINKED, lead_id=None)
    LeadSync.objects.filter(profile=synced).update(status=LeadSync.Status.SYNCED, lead_id=30000001)

    selected = outbox.lead_sync_select(which=which)

    assert unlinked.pk in selected
    assert synced.pk not in selected
