"""A failed sync staff can fix (issue 28 item 5): the error in staff's words (what amoCRM refused,
what to do), "Retry" on the row's page (POST, CSRF), no "Delete", and one attempt counted per call
amoCRM refused."""

from http import HTTPStatus

import pytest
import responses
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import translation

from amocrm import tasks
from amocrm.exceptions import (
    AmoCRMError,
    AmoCRMForbidden,
    AmoCRMNotFound,
    AmoCRMPaymentRequired,
    AmoCRMRateLimited,
    AmoCRMRightsRefused,
    AmoCRMUnavailable,
    AmoCRMValidationError,
    ValidationErrorItem,
    error_classes,
    explain,
)
from amocrm.models import LeadSync
from amocrm.services import lead_sync
from tests.amocrm.conftest import COMPLEX_URL, CONTACTS_URL
from tests.amocrm.helpers import not_a_choice

pytestmark = pytest.mark.django_db


def refused(*codes: str) -> AmoCRMValidationError:
    items = [ValidationErrorItem(request_id="0", code=c, path="name", detail="") for c in codes]
    return AmoCRMValidationError("Request validation failed", status=400, errors=items)


def russian(kind: str):
    with translation.override("ru"):
        return explain(kind)


@pytest.fixture
def refusing_crm(crm):
    """amoCRM refuses a new lead's category as not one of its choices (400 NotSupportedChoice)."""
    responses.start()
    responses.get(CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, status=400, json=not_a_choice())
    yield crm
    responses.stop()
    responses.reset()


@pytest.fixture
def failed(customer, refusing_crm, amo) -> LeadSync:
    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)
    return LeadSync.objects.get(profile=customer)


def change_url(sync: LeadSync) -> str:
    return reverse("admin:amocrm_leadsync_change", args=[sync.pk])


def retry_url(sync: LeadSync) -> str:
    return reverse("admin:amocrm_leadsync_retry", args=[sync.pk])


# -- the error in staff's words --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (refused("NotSupportedChoice"), "нет среди вариантов"),
        (AmoCRMPaymentRequired("amoCRM answered 402", status=402), "тариф"),
        (AmoCRMForbidden("amoCRM answered 403 (blocked)", status=403), "заблокировал"),
        (AmoCRMRightsRefused("Insufficient rights to call this method", status=403), "нет прав"),
        (AmoCRMNotFound("amoCRM answered 404", status=404), "удалили"),
        (AmoCRMRateLimited("amoCRM answered 429", status=429), "слишком много запросов"),
        (AmoCRMUnavailable("amoCRM answered 502", status=502), "недоступен"),
        (AmoCRMUnavailable("could not connect to amoCRM", never_sent=True), "в сети"),
    ],
)
def test_each_error_amocrm_gives_reads_in_staff_words_with_what_to_do(error, words):
    said = russian(error.kind)

    assert words in said.problem
    assert said.action and said.action != said.problem


def test_every_error_class_says_its_own_problem_and_action():
    base = AmoCRMError.staff_problem, AmoCRMError.staff_action
    own = {
        cls.__name__: (cls.staff_problem, cls.staff_action)
        for cls in error_classes().values()
        if cls is not AmoCRMError
    }

    assert own and [name for name, words in own.items() if base[0] in words or base[1] in words] == []


def test_an_unknown_validation_code_is_named_and_a_kind_no_class_has_is_not_guessed():
    said = russian(refused("SomethingNew").kind)

    assert "SomethingNew" in said.problem
    assert explain("AmoCRMRenamedSinceThisRowFailed") is None


def test_a_kind_with_many_codes_fits_its_column_and_keeps_each_code_whole():
    codes = [f"SomeLongValidationCode{n:02}" for n in range(9)]

    kind = refused(*codes).kind

    assert len(kind) <= LeadSync._meta.get_field("error_kind").max_length
    name, _, kept = kind.partition(":")
    assert name == "AmoCRMValidationError" and kept
    assert set(kept.split(",")) <= set(codes)


def test_a_refused_choice_is_explained_in_the_failed_list_and_on_its_page(superuser_client, failed):
    assert failed.error_kind == "AmoCRMValidationError:NotSupportedChoice"

    listing = superuser_client.get(reverse("admin:amocrm_leadsync_changelist"), {"status": "failed"})
    page = superuser_client.get(change_url(failed)).content.decode()

    assert "amoCRM не принял значения, которые отправил сайт" in listing.content.decode()
    assert "Что сделать:" in page and "amocrm_setup_fields" in page
    assert "custom_fields_values.1.values.0.enum_id: NotSupportedChoice" in page  # amoCRM's own answer


def test_the_customer_card_gives_the_failed_syncs_error_in_staff_words(superuser_client, failed):
    card = superuser_client.get(reverse("admin:accounts_profile_change", args=[failed.profile_id]))

    assert "amoCRM не принял значения, которые отправил сайт" in card.content.decode()


def test_a_lead_deleted_in_amocrm_reads_as_deleted_with_retry_to_make_a_new_one(superuser_client, customer):
    sync = LeadSync.objects.get(profile=customer)
    sync.lead_id = 30000001
    sync.mark_unlinked()  # the delete hook, or a PATCH that found the lead gone
    sync.save()

    page = superuser_client.get(change_url(sync)).content.decode()

    assert "её удалили" in page and "сайт заведёт клиенту новую сделку" in page
    assert ">Повторить</button>" in page


# -- "Retry", and no "Delete" ----------------------------------------------------------------------


def test_retry_on_a_failed_sync_queues_its_profile_and_returns_to_the_page(
    superuser_client, failed, enqueued
):
    response = superuser_client.post(retry_url(failed))

    assert response.status_code == HTTPStatus.FOUND and response["Location"] == change_url(failed)
    assert [(r.task.name, r.kwargs) for r in enqueued] == [
        ("sync_profiles", {"profile_ids": [failed.profile_id], "full": True})
    ]
    assert LeadSync.objects.get(pk=failed.pk).status == LeadSync.Status.PENDING


def test_retry_goes_into_the_rows_admin_history(superuser_client, failed, enqueued):
    superuser_client.post(retry_url(failed))

    [entry] = LogEntry.objects.filter(object_id=str(failed.pk))
    assert entry.get_change_message() == "Повторная отправка поставлена в очередь."


def test_retry_is_a_post_with_the_csrf_token(superuser, failed, enqueued):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)

    assert browser.get(retry_url(failed)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert browser.post(retry_url(failed)).status_code == HTTPStatus.FORBIDDEN
    page = browser.get(change_url(failed))
    token = page.cookies["csrftoken"].value
    assert browser.post(retry_url(failed), {"csrfmiddlewaretoken": token}).status_code == HTTPStatus.FOUND
    assert len(enqueued) == 1


def test_the_failed_sync_page_offers_retry_and_no_delete(superuser_client, failed):
    page = superuser_client.get(change_url(failed)).content.decode()
    listing = superuser_client.get(reverse("admin:amocrm_leadsync_changelist"))

    assert f'action="{retry_url(failed)}"' in page and ">Повторить</button>" in page
    assert "/delete/" not in page
    delete = reverse("admin:amocrm_leadsync_delete", args=[failed.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    assert "delete_selected" not in dict(listing.context["action_form"].fields["action"].choices)
    assert LeadSync.objects.filter(pk=failed.pk).exists()


def test_view_only_staff_see_the_error_but_no_retry_and_cannot_post_one(
    client, user_factory, failed, enqueued
):
    viewer = user_factory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_leadsync"))
    client.force_login(viewer)

    page = client.get(change_url(failed)).content.decode()

    assert "Что случилось" in page and "Повторить</button>" not in page
    # The guide says to press «Повторить»: they are told who can.
    assert "«Повторить» — для сотрудников" in page
    assert client.post(retry_url(failed)).status_code == HTTPStatus.FORBIDDEN
    assert enqueued == []


# -- attempts ----------------------------------------------------------------------------------------


def test_a_refusal_on_the_first_try_counts_one_attempt(failed):
    assert (failed.status, failed.attempts) == (LeadSync.Status.FAILED, 1)


@responses.activate
def test_two_outages_then_a_refusal_count_three_attempts(customer, crm, amo):
    responses.get(CONTACTS_URL, status=503)
    for _ in range(2):
        LeadSync.objects.filter(profile=customer).update(next_attempt_at=None)
        lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)
    responses.replace(responses.GET, CONTACTS_URL, status=204)
    responses.post(COMPLEX_URL, status=400, json=not_a_choice())

    LeadSync.objects.filter(profile=customer).update(next_attempt_at=None)  # its retry is due
    lead_sync.lead_sync_profiles(profile_ids=[customer.pk], client=amo)

    sync = LeadSync.objects.get(profile=customer)
    assert (sync.status, sync.attempts) == (LeadSync.Status.FAILED, 3)


def test_retry_that_is_refused_again_counts_one_attempt_from_the_fresh_start(
    superuser_client, failed, tasks_immediate, oauth_token
):
    superuser_client.post(retry_url(failed))  # the task runs at once and amoCRM refuses again

    sync = LeadSync.objects.get(pk=failed.pk)
    assert len(responses.calls) == 4  # two lookups and two creates: one per run, none twice
    assert (sync.status, sync.attempts) == (LeadSync.Status.FAILED, 1)
    assert sync.error_kind == "AmoCRMValidationError:NotSupportedChoice"


@responses.activate
def test_a_retry_task_from_before_staffs_retry_neither_calls_early_nor_counts(
    superuser_client, customer, crm, enqueued
):
    responses.get(CONTACTS_URL, status=429)  # amoCRM keeps asking to slow down: a transient failure
    tasks.sync_profiles.call(profile_ids=[customer.pk])  # attempt 1, and its retry task for later
    [retry] = enqueued
    sync = LeadSync.objects.get(profile=customer)
    superuser_client.post(retry_url(sync))  # staff do not wait for it
    staffs = enqueued[1]
    staffs.task.call(**staffs.kwargs)  # attempt 2, and a retry task for later still
    calls = len(responses.calls)

    retry.task.call(**retry.kwargs)  # the first retry task comes due

    sync = LeadSync.objects.get(profile=customer)
    assert retry.kwargs == {"profile_ids": [customer.pk], "due_only": True}
    assert len(responses.calls) == calls  # not yet: the row's next attempt is later
    assert (sync.status, sync.attempts) == (LeadSync.Status.PENDING, 2)
