"""amoCRM as it really is: real-shaped webhook bodies (tests/amocrm/fixtures/real/), the account's own
settings, a renamed subdomain, duplicate control and 400s that name their entities."""

import datetime
import json
from http import HTTPStatus
from io import StringIO
from pathlib import Path

import pytest
import responses
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Profile
from amocrm import mapping
from amocrm.models import AmoCRMAccount, CustomField, LeadSync, OAuthToken, WebhookEvent
from amocrm.services import connection, lead_sync
from amocrm.services.breaker import breaker_state
from amocrm.services.fields import field_map_load
from tests.amocrm.conftest import (
    BASE,
    COMPLEX_URL,
    CONTACT,
    LEAD,
    LEADS_URL,
    REFRESH,
    TOKEN_URL,
    WEBHOOK_SECRET,
    link,
    token_answer,
)
from tests.amocrm.helpers import body as helpers_body
from tests.amocrm.helpers import deliver, full_lead, jwt, stamp

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]

REAL = Path(__file__).parent / "fixtures" / "real"
Key = CustomField.Key


def real_body(name: str, field_map: mapping.FieldMap, **values: object) -> str:
    """A real-shaped body with our own ids and times put in: every occurrence of each old value
    (written as a keyword, `old=new`) is replaced in the raw form body."""
    text = (REAL / f"{name}.txt").read_text()
    # The fixture's enum ids are the ones the README names; the test field map numbers its own.
    enums = {
        "900003": field_map.enum_id(Key.BOUQUET_CATEGORY, "luxe"),
        "910001": field_map.enum_id(Key.DELIVERY_INTERVAL, "weekly"),
        "920002": field_map.enum_id(Key.ACCOUNT_STATUS, "active"),
    }
    for old, new in {**enums, **{k.removeprefix("v"): v for k, v in values.items()}}.items():
        text = text.replace(f"={old}&", f"={new}&").replace(f"={old}", f"={new}")
    return text


# -- webhooks as amoCRM sends them ----------------------------------------------------------------


def test_a_date_a_manager_moves_arrives_bare_and_moves_the_next_delivery(client, linked, field_map):
    day = timezone.localdate() + datetime.timedelta(days=20)
    now = stamp()
    body = real_body(
        "lead_update_bare_date", field_map, v1763870000=now, v1764882000=mapping.date_to_timestamp(day)
    )

    deliver(client, body)

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert "delivery_date" not in event.error
    linked.refresh_from_db()
    assert linked.next_delivery_on() == day


def test_our_own_date_echoed_back_bare_changes_nothing_and_records_no_error(client, linked, field_map):
    state = mapping.lead_state(linked, field_map)
    date_item = state[Key.DELIVERY_DATE]["values"][0]["value"]
    # A full item (amoCRM sends every filled field, docs/amocrm-api.md §8), the date bare.
    bare_date = {"id": field_map.field_id(Key.DELIVERY_DATE), "values": [date_item]}
    item = full_lead(linked, field_map, bare_date, last_modified=stamp(), price=state["price"])
    body = helpers_body(update=[item])

    deliver(client, body)

    event = WebhookEvent.objects.get()
    assert (event.status, event.changes, event.error) == (WebhookEvent.Status.PROCESSED, [], "")


def test_a_stage_change_sent_only_as_an_update_reaches_the_account_status(client, linked, field_map):
    body = real_body("lead_update_stage_change", field_map, v60000003=143, v1763873600=stamp())

    deliver(client, body)

    linked.refresh_from_db()
    assert linked.account_status == "closed"


def test_an_update_without_a_stage_change_leaves_the_status_alone(client, linked, field_map, settings):
    settings.AMOCRM_STATUS_MAP = {60000003: "closed"}  # the lead's current stage, unchanged
    body = real_body("lead_update_bare_date", field_map, v1763870000=stamp())
    status_before = linked.account_status

    deliver(client, body)

    linked.refresh_from_db()
    assert linked.account_status == status_before != "closed"


def test_a_manager_correcting_the_phone_on_the_contact_reaches_the_profile(client, linked, field_map):
    deliver(client, real_body("contact_update_phone", field_map, v1763884400=stamp()))

    linked.refresh_from_db()
    assert linked.phone == "+79135550102"
    event = WebhookEvent.objects.get()
    assert (event.entity, event.contact_id, event.status) == ("contact", CONTACT, "processed")


def test_a_phone_a_manager_types_the_local_way_is_stored_as_e164(client, linked, field_map):
    body = real_body("contact_update_phone", field_map, v1763884400=stamp())

    deliver(client, body.replace("=%2B79135550102", "=8+%28913%29+555-01-02"))

    linked.refresh_from_db()
    assert linked.phone == "+79135550102"
    assert LeadSync.objects.get(profile=linked).contact_phone == "+79135550102"


def test_a_phone_that_is_no_number_keeps_the_sites_and_is_logged(client, linked, field_map, caplog):
    linked.phone = "+79990000000"
    linked.save(update_fields=["phone"])
    body = real_body("contact_update_phone", field_map, v1763884400=stamp())

    deliver(
        client, body.replace("=%2B79135550102", "=%D0%BF%D0%BE%D0%B7%D0%B2%D0%BE%D0%BD%D0%B8%D1%82%D1%8C")
    )

    linked.refresh_from_db()
    assert linked.phone == "+79990000000"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert f"amocrm.contact_phone_unparseable profile_id={linked.pk}" in caplog.text
    assert "позвонить" not in caplog.text


def test_the_contacts_email_never_changes_the_login_and_is_shown_to_staff(client, linked, field_map):
    email = linked.user.email

    deliver(client, real_body("contact_update_phone", field_map, v1763884400=stamp()))

    linked.user.refresh_from_db()
    assert linked.user.email == email
    assert LeadSync.objects.get(profile=linked).contact_email == "anna@example.ru"


def test_an_older_contact_change_loses_to_a_newer_phone_on_the_site(client, linked, field_map):
    # The customer changed it now; the manager's edit is an hour old.
    services.profile_update_preferences(profile=linked, data={"phone": "+79990000000"})

    deliver(client, real_body("contact_update_phone", field_map, v1763884400=stamp(-3600)))

    linked.refresh_from_db()
    assert linked.phone == "+79990000000"


def test_our_own_phone_echoed_in_amocrms_formatting_changes_nothing(client, linked, field_map):
    LeadSync.objects.filter(profile=linked).update(contact_phone="+79135550102")
    linked.phone = "+79990000000"
    linked.save()
    body = real_body("contact_update_phone", field_map, v1763884400=stamp(240))

    deliver(client, body.replace("=%2B79135550102", "=%2B7+913+555-01-02"))

    linked.refresh_from_db()
    assert linked.phone == "+79990000000"


def test_our_own_phone_echoed_by_the_contact_changes_nothing(client, linked, field_map):
    LeadSync.objects.filter(profile=linked).update(contact_phone="+79135550102")
    linked.phone = "+79990000000"
    linked.save()

    deliver(client, real_body("contact_update_phone", field_map, v1763884400=stamp(240)))

    linked.refresh_from_db()
    assert linked.phone == "+79990000000"


def test_after_a_subdomain_rename_webhooks_are_recognised_by_the_account_id(client, linked, field_map):
    AmoCRMAccount.objects.create(account_id=31000001, subdomain="flowers", checked_at=timezone.now())
    body = real_body("lead_update_bare_date", field_map, v1763870000=stamp())
    renamed = body.replace("subdomain%5D=flowers", "subdomain%5D=roses")
    other_account = renamed.replace("%5Bid%5D=31000001", "%5Bid%5D=31000002")
    url = reverse("amocrm:webhook", kwargs={"secret": WEBHOOK_SECRET})

    accepted = client.post(url, data=renamed, content_type="application/x-www-form-urlencoded")
    refused = client.post(url, data=other_account, content_type="application/x-www-form-urlencoded")

    assert (accepted.status_code, refused.status_code) == (HTTPStatus.OK, HTTPStatus.FORBIDDEN)


# -- the account's own settings -----------------------------------------------------------------


def account_answer(zone: str = "Asia/Novosibirsk") -> dict:
    return {
        "id": 31000001,
        "name": "Цветы по подписке",
        "subdomain": "flowers",
        "currency": "RUB",
        "_embedded": {"datetime_settings": {"timezone": zone, "timezone_offset": "+07:00"}},
    }


@responses.activate
def test_connecting_reads_the_account_and_dates_follow_its_time_zone(field_map):
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(f"{BASE}/api/v4/account", json=account_answer())

    call_command("amocrm_connect", "--code", "def50200code", stdout=StringIO())

    account = AmoCRMAccount.objects.get()
    assert (account.account_id, account.timezone, account.currency) == (31000001, "Asia/Novosibirsk", "RUB")
    assert responses.calls[1].request.params == {"with": "datetime_settings"}
    fields = field_map_load()
    stamp_sent = mapping.field_value(
        mapping.FIELDS_BY_KEY[Key.DELIVERY_DATE], datetime.date(2026, 12, 5), fields
    )
    moment = datetime.datetime.fromtimestamp(stamp_sent["values"][0]["value"], tz=fields.zone)
    assert (moment.date(), moment.time()) == (datetime.date(2026, 12, 5), datetime.time(0, 0))
    assert fields.zone.key == "Asia/Novosibirsk"


@responses.activate
def test_a_refresh_refused_after_a_subdomain_rename_follows_the_account(oauth_token):
    oauth_token.set_tokens(
        access_token=jwt({"api_domain": "api-a.amocrm.ru"}), refresh_token=REFRESH, expires_in=60
    )
    oauth_token.save()
    responses.post(TOKEN_URL, status=401, json={"title": "Unauthorized", "status": 401})
    lookup = responses.get(
        "https://api-a.amocrm.ru/oauth2/account/current/subdomain",
        json={"id": 31000001, "subdomain": "roses", "domain": "roses.amocrm.ru", "top_level_domain": "ru"},
    )
    responses.post("https://roses.amocrm.ru/oauth2/access_token", json=token_answer())

    token, refreshed = connection.token_refresh(force=True)

    assert refreshed and token.base_url == "https://roses.amocrm.ru"
    assert lookup.calls[0].request.headers["X-Refresh-Token"] == REFRESH
    assert connection.api_base_url() == "https://roses.amocrm.ru"  # AMOCRM_BASE_URL still names flowers


def test_tokens_are_not_orphaned_when_amocrm_base_url_changes(oauth_token, settings):
    settings.AMOCRM_BASE_URL = "https://flowers.kommo.com"

    assert connection.api_base_url() == BASE
    assert connection.DatabaseTokenSource().access_token() == oauth_token.access_token


@responses.activate
def test_a_blocked_refresh_says_the_account_is_blocked_not_reconnect(oauth_token):
    responses.post(
        TOKEN_URL, status=403, body="<html><h1>403 Forbidden</h1></html>", content_type="text/html"
    )

    with pytest.raises(CommandError) as failed:
        call_command("amocrm_refresh_token", "--force", stdout=StringIO())

    assert "blocked" in str(failed.value) and "Reconnect" not in str(failed.value)
    assert OAuthToken.objects.get().refresh_token == REFRESH  # nothing half-written
    assert breaker_state().is_open  # no process calls amoCRM until a probe says otherwise


# -- batch answers ---------------------------------------------------------------------------------


@responses.activate
def test_a_signup_merged_into_another_customers_lead_is_never_linked_to_it(linked, profile_factory, amo):
    newcomer = profile_factory()
    responses.get(f"{BASE}/api/v4/contacts", status=204)
    responses.post(
        COMPLEX_URL,
        json=[{"id": LEAD, "contact_id": CONTACT, "merged": True, "request_id": [str(newcomer.pk)]}],
    )

    report = lead_sync.lead_sync_profiles(profile_ids=[newcomer.pk], client=amo)

    assert report.failed == [newcomer.pk]
    sync = LeadSync.objects.get(profile=newcomer)
    assert (sync.status, sync.lead_id, sync.claimed_until) == ("failed", None, None)
    assert f"lead {LEAD}" in sync.last_error and f"profile {linked.pk}" in sync.last_error
    assert LeadSync.objects.get(profile=linked).lead_id == LEAD


@responses.activate
def test_a_signup_merged_into_a_lead_of_nobodys_links_it_and_sends_everything_next(
    profile_factory, field_map, amo, oauth_token
):
    profile = profile_factory()
    responses.get(f"{BASE}/api/v4/contacts", status=204)
    responses.post(
        COMPLEX_URL,
        json=[{"id": 30000055, "contact_id": 40000055, "merged": True, "request_id": [str(profile.pk)]}],
    )

    report = lead_sync.lead_sync_profiles(profile_ids=[profile.pk], client=amo)

    assert report.rerun == [profile.pk]
    sync = LeadSync.objects.get(profile=profile)
    assert (sync.status, sync.lead_id, sync.synced_values) == ("pending", 30000055, {})


@responses.activate
def test_a_lead_ours_was_merged_into_is_last_seen_in_its_own_stage_not_the_one_we_asked_for(
    profile_factory, field_map, amo, oauth_token, settings
):
    settings.AMOCRM_STATUS_ID = 60000003
    profile = profile_factory()
    responses.get(f"{BASE}/api/v4/contacts", status=204)
    responses.post(
        COMPLEX_URL,
        json=[{"id": 30000055, "contact_id": 40000055, "merged": True, "request_id": [str(profile.pk)]}],
    )
    responses.get(f"{LEADS_URL}/30000055", json={"id": 30000055, "status_id": 142, "pipeline_id": 7000001})

    lead_sync.lead_sync_profiles(profile_ids=[profile.pk], client=amo)

    # Already won before the merge: reconciliation must not take it for a move to a paid stage.
    assert LeadSync.objects.get(profile=profile).crm_status_id == 142


@responses.activate
def test_answers_are_matched_by_our_request_id_not_by_position(profile_factory, field_map, amo, oauth_token):
    first, second = profile_factory(), profile_factory()
    responses.get(f"{BASE}/api/v4/contacts", status=204)

    def reversed_answer(request):
        sent = json.loads(request.body)
        answer = [
            {"id": 30000100 + i, "contact_id": None, "merged": False, "request_id": [item["request_id"]]}
            for i, item in enumerate(sent)
        ]
        return (200, {}, json.dumps(list(reversed(answer))))

    responses.add_callback(responses.POST, COMPLEX_URL, callback=reversed_answer)

    lead_sync.lead_sync_profiles(profile_ids=[first.pk, second.pk], client=amo)

    assert LeadSync.objects.get(profile=first).lead_id == 30000100
    assert LeadSync.objects.get(profile=second).lead_id == 30000101


def linked_profiles(profile_factory, field_map, count: int) -> list[Profile]:
    profiles = []
    for n in range(count):
        profile = link(profile_factory(), field_map, lead_id=30000200 + n)
        profile = services.profile_update_preferences(
            profile=profile, data={"wishes": f"Новое пожелание {n}"}
        )
        profiles.append(profile)
    return profiles


@responses.activate
def test_a_400_naming_one_lead_by_id_fails_only_that_lead(profile_factory, field_map, amo, oauth_token):
    profiles = linked_profiles(profile_factory, field_map, 3)
    bad = 30000201

    def patch(request):
        ids = [item["id"] for item in json.loads(request.body)]
        if bad in ids:
            body = {
                "title": "Bad Request",
                "status": 400,
                "detail": "Invalid request body",
                "errors": {str(bad): "no"},
            }
            return (400, {}, json.dumps(body))
        return (200, {}, json.dumps({"_embedded": {"leads": [{"id": i} for i in ids]}}))

    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch)

    report = lead_sync.lead_sync_profiles(profile_ids=[p.pk for p in profiles], client=amo)

    assert report.failed == [profiles[1].pk]
    assert sorted(report.synced) == sorted([profiles[0].pk, profiles[2].pk])
    assert len(responses.calls) == 2  # the batch, then the two good leads again


@responses.activate
def test_a_400_naming_nothing_is_retried_lead_by_lead(profile_factory, field_map, amo, oauth_token):
    profiles = linked_profiles(profile_factory, field_map, 3)
    bad = 30000202

    def patch(request):
        ids = [item["id"] for item in json.loads(request.body)]
        if bad in ids:
            return (
                400,
                {},
                json.dumps({"title": "Bad Request", "status": 400, "detail": "Request validation failed"}),
            )
        return (200, {}, json.dumps({"_embedded": {"leads": [{"id": i} for i in ids]}}))

    responses.add_callback(responses.PATCH, LEADS_URL, callback=patch)

    report = lead_sync.lead_sync_profiles(profile_ids=[p.pk for p in profiles], client=amo)

    assert report.failed == [profiles[2].pk]
    assert sorted(report.synced) == sorted([profiles[0].pk, profiles[1].pk])
    assert LeadSync.objects.get(profile=profiles[2]).status == "failed"


@responses.activate
def test_the_hourly_refresh_reads_the_account_once_a_day(oauth_token):
    account = responses.get(f"{BASE}/api/v4/account", json=account_answer("Europe/Kaliningrad"))

    call_command("amocrm_refresh_token", "--margin", "60", stdout=StringIO())
    call_command("amocrm_refresh_token", "--margin", "60", stdout=StringIO())

    assert len(account.calls) == 1
    assert AmoCRMAccount.objects.get().timezone == "Europe/Kaliningrad"


# -- the order of changes, stages and phones ------------------------------------------------------


def test_a_status_set_by_the_stage_is_not_undone_by_the_leads_old_status_field(client, linked, field_map):
    deliver(client, real_body("lead_status", field_map, v1763877200=stamp(60)))  # stage 143, field «активен»
    linked.refresh_from_db()
    assert linked.account_status == "closed"
    later = real_body("lead_update_bare_date", field_map, v1763870000=stamp(120), v60000003=143)

    deliver(client, later)  # its status field still says «активен»: the sync has not sent «closed» yet

    linked.refresh_from_db()
    assert linked.account_status == "closed"


def test_a_stage_that_differs_from_the_last_one_seen_counts_even_without_old_status_id(
    client, linked, field_map
):
    LeadSync.objects.filter(profile=linked).update(crm_status_id=60000003)

    deliver(client, real_body("lead_update_bare_date", field_map, v1763870000=stamp(60), v60000003=143))

    linked.refresh_from_db()
    assert linked.account_status == "closed"


def test_an_older_change_arriving_late_changes_nothing(client, linked, field_map):
    LeadSync.objects.filter(profile=linked).update(
        crm_modified_at=timezone.now() + datetime.timedelta(hours=1)
    )

    deliver(client, real_body("lead_update_bare_date", field_map, v1763870000=stamp(60)))

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED and "older" in event.error


def test_a_linked_contacts_phone_is_only_recorded_the_first_time(client, linked, field_map):
    LeadSync.objects.filter(profile=linked).update(contact_phone=None)  # a contact we found, not made
    linked.phone = "+79990000000"
    linked.save()

    deliver(client, real_body("contact_update_phone", field_map, v1763884400=stamp(240)))

    linked.refresh_from_db()
    assert linked.phone == "+79990000000"
    assert LeadSync.objects.get(profile=linked).contact_phone == "+79135550102"


def test_the_migration_makes_contact_phone_baselines_e164(linked):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("amocrm.migrations.0008_leadsync_contact_phone_e164")
    LeadSync.objects.filter(profile=linked).update(contact_phone="+7 913 555-01-02")

    migration.baselines_to_e164(apps, None)

    assert LeadSync.objects.get(profile=linked).contact_phone == "+79135550102"
