"""The lead's history: every customer (and staff) action adds one short Russian note to the lead,
through the sync's outbox: never lost, never doubled, not before the lead exists."""

import datetime
import json
from decimal import Decimal

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from accounts import delivery_actions
from accounts import services as accounts
from accounts.models import Delivery, Profile
from amocrm import history
from amocrm.models import LeadNote, LeadSync
from amocrm.services import lead_sync
from tests.accounts.helpers import on_its_day
from tests.amocrm.conftest import BASE, LEAD, LEADS_URL, link
from tests.amocrm.helpers import patch_ok

pytestmark = pytest.mark.django_db

NOTES_URL = f"{BASE}/api/v4/leads/notes"


@pytest.fixture(autouse=True)
def notes_on(settings):
    settings.AMOCRM_LEAD_NOTES = True


def answer_notes(request):
    sent = json.loads(request.body)
    answer_notes.count = getattr(answer_notes, "count", 0)
    notes = []
    for item in sent:
        answer_notes.count += 1
        notes.append(
            {
                "id": 70000000 + answer_notes.count,
                "entity_id": item["entity_id"],
                "request_id": item["request_id"],
            }
        )
    return (200, {}, json.dumps({"_embedded": {"notes": notes}}))


def sent_texts() -> list[str]:
    return [item["params"]["text"] for call in responses.calls if call.request.url == NOTES_URL
            for item in json.loads(call.request.body)]  # fmt: skip


@responses.activate
def test_each_customer_action_adds_one_russian_note_to_its_lead(
    client, linked, amo, tasks_immediate, django_capture_on_commit_callbacks
):
    LeadNote.objects.all().delete()  # the signup's note: its own test
    today = timezone.localdate()
    accounts.profile_update_preferences(profile=linked, data={"wishes": "Только пионы"})
    skipped = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").last()
    delivery_actions.delivery_skip(profile=linked, delivery_id=skipped.pk)
    delivery_actions.profile_pause(profile=linked, resume_on=today + datetime.timedelta(days=30))
    delivery_actions.profile_resume(profile=linked)
    with django_capture_on_commit_callbacks(execute=True):  # the reset mail's task notes it
        client.post(reverse("account_reset_password"), {"email": linked.user.email})
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer_notes)

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    texts = sent_texts()
    assert len(texts) == 5 and len([c for c in responses.calls if c.request.url == NOTES_URL]) == 1
    assert (
        texts[0].startswith("Клиент изменил настройки на сайте: пожелания:") and "«Только пионы»" in texts[0]
    )
    assert texts[1].startswith("Клиент пропустил доставку ")
    assert texts[2].startswith("Клиент приостановил подписку до ")
    assert texts[3].startswith("Клиент возобновил подписку")
    assert texts[4] == "Клиент запросил ссылку для сброса пароля."
    assert all(
        json.loads(c.request.body)[0]["entity_id"] == LEAD
        for c in responses.calls
        if c.request.url == NOTES_URL
    )
    assert not LeadNote.objects.filter(note_id__isnull=True).exists()


@responses.activate
def test_the_signups_note_waits_for_the_lead_and_goes_right_after_it(
    profile_factory, field_map, oauth_token, amo
):
    profile = profile_factory()
    assert LeadNote.objects.get(profile=profile).text.startswith("Клиент зарегистрировался на сайте: ")
    responses.get(f"{BASE}/api/v4/contacts", status=204)
    responses.post(f"{BASE}/api/v4/leads/complex", json=[{"id": 30000077, "contact_id": 40000077}])
    responses.add_callback(responses.POST, NOTES_URL, callback=answer_notes)

    lead_sync.lead_sync_profiles(profile_ids=[profile.pk], client=amo)

    note = LeadNote.objects.get(profile=profile)
    assert (note.lead_id, note.note_id is not None) == (30000077, True)
    assert [c.request.url for c in responses.calls][-1] == NOTES_URL


def test_the_signups_note_tells_managers_of_the_invoice_awaiting_payment(profile_factory):
    profile = profile_factory(account_sum=Decimal("5000.00"))

    text = LeadNote.objects.get(profile=profile).text

    assert text.endswith(", счёт на 5\u00a0000,00\u00a0₽ ожидает оплаты.")


def test_a_signup_with_nothing_to_pay_mentions_no_invoice(profile_factory):
    profile = profile_factory(account_sum=Decimal("0.00"))
    assert not profile.invoices.exists()  # the premise: no invoice was issued

    text = LeadNote.objects.get(profile=profile).text

    assert text.startswith("Клиент зарегистрировался на сайте: ")
    assert "счёт" not in text and "оплат" not in text
    assert text.endswith(f"первая доставка {history._day(profile.first_delivery_date.isoformat())}.")


@responses.activate
def test_staff_actions_note_themselves(linked, amo):
    LeadNote.objects.all().delete()
    delivery = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").first()
    delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery))
    profile = Profile.objects.get(pk=linked.pk)
    profile.account_sum = profile.account_sum + Decimal("1000")
    accounts.profile_save_by_staff(profile=profile, is_new=False, staff_email="staff@example.ru")

    texts = list(LeadNote.objects.values_list("text", flat=True))

    assert texts[0].startswith("Сотрудник отметил доставку ") and "списано" in texts[0]
    assert texts[1].startswith("Сотрудник исправил баланс в админке сайта: +1\u00a0000,00\u00a0₽")


@responses.activate
def test_a_note_is_not_lost_while_amocrm_is_down(linked, amo):
    LeadNote.objects.all().delete()
    delivery_actions.profile_pause(profile=linked)
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add(responses.POST, NOTES_URL, status=503)

    report = lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert list(report.retry) == [linked.pk]
    assert LeadNote.objects.get().note_id is None
    responses.reset()
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer_notes)
    LeadSync.objects.filter(profile=linked).update(next_attempt_at=None)

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert LeadNote.objects.get().note_id is not None and len(sent_texts()) == 1


@responses.activate
def test_a_note_an_interrupted_attempt_already_made_is_found_not_posted_twice(linked, amo):
    LeadNote.objects.all().delete()
    delivery_actions.profile_pause(profile=linked)
    note = LeadNote.objects.get()
    started = timezone.now() - datetime.timedelta(seconds=30)
    LeadNote.objects.filter(pk=note.pk).update(sending_started_at=started)  # the worker died after the POST
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    lookup = responses.get(
        f"{LEADS_URL}/{LEAD}/notes",
        json={"_embedded": {"notes": [{"id": 71000001, "entity_id": LEAD, "params": {"text": note.text}}]}},
    )

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert [c.request.method for c in responses.calls] == ["PATCH", "GET"]  # found, not posted again
    assert lookup.calls[0].request.params["filter[updated_at][from]"] == str(int(started.timestamp()) - 120)
    assert LeadNote.objects.get().note_id == 71000001


def test_with_notes_off_nothing_is_kept_for_the_history(profile_factory, settings):
    settings.AMOCRM_LEAD_NOTES = False

    profile_factory()

    assert not LeadNote.objects.exists()


def test_staff_see_the_history_notes_in_the_admin(admin_client, profile_factory):
    profile_factory()

    page = admin_client.get(reverse("admin:amocrm_leadnote_changelist")).content.decode()

    assert "Клиент зарегистрировался на сайте" in page


@responses.activate
def test_a_note_amocrm_refuses_is_kept_for_staff_and_the_others_still_go(
    profile_factory, field_map, amo, oauth_token
):
    good, bad = profile_factory(), profile_factory()
    for number, profile in enumerate((good, bad)):
        link(profile, field_map, lead_id=LEAD + number)

    def refuse_the_bad_lead(request):
        items = json.loads(request.body)
        if any(item["entity_id"] == LEAD + 1 for item in items):
            body = {
                "title": "Bad Request",
                "status": 400,
                "detail": "Invalid request body",
                "errors": {str(LEAD + 1): "no"},
            }
            return (400, {}, json.dumps(body))
        return answer_notes(request)

    responses.add_callback(responses.POST, NOTES_URL, callback=refuse_the_bad_lead)

    report = lead_sync.lead_sync_profiles(profile_ids=[good.pk, bad.pk], client=amo)

    assert sorted(report.synced) == sorted([good.pk, bad.pk])
    assert LeadNote.objects.get(profile=good).note_id is not None
    refused = LeadNote.objects.get(profile=bad)
    assert refused.note_id is None and "Invalid request body" in refused.error


# -- a burst of back-and-forth -----------------------------------------------------------------------


def skip_and_unskip(profile: Profile, delivery: Delivery, times: int) -> None:
    for _ in range(times):
        delivery_actions.delivery_skip(profile=profile, delivery_id=delivery.pk)
        delivery_actions.delivery_unskip(profile=profile, delivery_id=delivery.pk)


def delivery_notes(profile: Profile) -> list[str]:
    actions = [history.Action.DELIVERY_SKIPPED, history.Action.DELIVERY_UNSKIPPED]
    return list(LeadNote.objects.filter(profile=profile, action__in=actions).values_list("text", flat=True))


@responses.activate
def test_a_burst_of_skips_and_unskips_of_one_delivery_leaves_the_lead_one_note(linked, amo):
    delivery = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").last()
    skip_and_unskip(linked, delivery, times=20)
    delivery_actions.delivery_skip(profile=linked, delivery_id=delivery.pk)  # it ends skipped
    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch_ok)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer_notes)

    lead_sync.lead_sync_profiles(profile_ids=[linked.pk], client=amo)

    assert [text for text in sent_texts() if "доставку" in text] == delivery_notes(linked)
    assert len(delivery_notes(linked)) == 1 and delivery_notes(linked)[0].startswith("Клиент пропустил")


def test_a_skip_and_its_unskip_leave_no_note_at_all(linked):
    delivery = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").last()

    skip_and_unskip(linked, delivery, times=3)

    assert delivery_notes(linked) == []


def test_an_unskip_keeps_a_skip_note_already_on_its_way_to_amocrm(linked):
    delivery = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").last()
    delivery_actions.delivery_skip(profile=linked, delivery_id=delivery.pk)
    LeadNote.objects.filter(action=history.Action.DELIVERY_SKIPPED).update(sending_started_at=timezone.now())

    delivery_actions.delivery_unskip(profile=linked, delivery_id=delivery.pk)

    assert [text.split()[1] for text in delivery_notes(linked)] == ["пропустил", "вернул"]


def test_an_unskip_keeps_the_skip_note_of_another_delivery(linked):
    first, second = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("-delivery_on")[:2]
    delivery_actions.delivery_skip(profile=linked, delivery_id=first.pk)
    delivery_actions.delivery_skip(profile=linked, delivery_id=second.pk)

    delivery_actions.delivery_unskip(profile=linked, delivery_id=second.pk)

    assert len(delivery_notes(linked)) == 1


@responses.activate
def test_a_note_cancelled_while_its_batch_was_being_read_is_not_posted(linked, amo, monkeypatch):
    from amocrm.services import notes

    LeadNote.objects.all().delete()
    delivery = linked.deliveries.filter(status=Delivery.Status.SCHEDULED).order_by("delivery_on").last()
    delivery_actions.delivery_skip(profile=linked, delivery_id=delivery.pk)
    post = notes._post

    def unskipped_meanwhile(client, chunk, leads, failed):
        delivery_actions.delivery_unskip(profile=linked, delivery_id=delivery.pk)  # cancels the skip's note
        return post(client, chunk, leads, failed)

    monkeypatch.setattr(notes, "_post", unskipped_meanwhile)
    responses.add_callback(responses.POST, NOTES_URL, callback=answer_notes)

    notes.notes_send(amo, {linked.pk: LEAD})

    assert sent_texts() == []
