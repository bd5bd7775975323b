"""amoCRM → site: the webhook endpoint, applying managers' changes, and the commands around it."""

import datetime
import json
from decimal import Decimal
from http import HTTPStatus
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from responses import matchers

from accounts.models import BouquetCategory, Profile
from amocrm import mapping, tasks
from amocrm.exceptions import AmoCRMUnavailable
from amocrm.models import CustomField, LeadSync, WebhookEvent
from amocrm.services import lead_sync, webhook_events
from tests.amocrm.conftest import BASE, LEAD, LEADS_URL, WEBHOOK_SECRET, link
from tests.amocrm.helpers import ACCOUNT, apply_all, body, cf, deliver, full_lead, later, lead, post
from tools.amocrm_standin import php_encode

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]

Key = CustomField.Key


def enum(field_map: mapping.FieldMap, key: str, value: str) -> int:
    return field_map.enum_id(key, value)


# -- the endpoint ---------------------------------------------------------------------------------


def test_events_are_stored_answered_200_and_applied_after_commit(
    client, linked, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"))]))

    assert response.status_code == HTTPStatus.OK
    event = WebhookEvent.objects.get()
    assert (event.action, event.lead_id, event.account, event.status) == (
        "update",
        LEAD,
        "flowers",
        "received",
    )
    assert [(r.task.name, r.args, r.kwargs) for r in enqueued] == [
        ("webhook_apply", [], {"event_ids": [event.pk]})
    ]
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("5000.00")  # applied by the worker, not in the request


def test_worker_task_applies_the_event(
    client, linked, field_map, tasks_immediate, django_capture_on_commit_callbacks
):
    # The mock outlives the on-commit callbacks, so the follow-up sync they run is mocked too.
    with responses.RequestsMock() as crm, django_capture_on_commit_callbacks(execute=True):
        price = crm.patch(
            LEADS_URL,
            match=[matchers.json_params_matcher([{"id": LEAD, "price": 7500}])],
            json={"_embedded": {"leads": [{"id": LEAD}]}},
        )
        # A full item, as amoCRM sends it: a partial one would read as fields cleared in amoCRM.
        post(client, body(update=[full_lead(linked, field_map, cf(Key.ACCOUNT_SUM, "7500"))]))

    linked.refresh_from_db()
    assert linked.account_sum == Decimal("7500.00")
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert price.call_count == 1  # the follow-up sends only the lead's price, derived from the sum


@pytest.mark.parametrize("secret", ["wrong", WEBHOOK_SECRET[:-1], WEBHOOK_SECRET + "x"])
def test_wrong_secret_is_404_and_stores_nothing(client, linked, secret):
    response = post(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "1"))]), secret=secret)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not WebhookEvent.objects.exists()


def test_no_secret_configured_turns_the_endpoint_off(client, linked, settings):
    settings.AMOCRM_WEBHOOK_SECRET = ""

    assert post(client, body(update=[lead()]), secret="x").status_code == HTTPStatus.NOT_FOUND
    assert not WebhookEvent.objects.exists()


def test_only_post_is_allowed(client):
    assert client.get(reverse("amocrm:webhook", kwargs={"secret": WEBHOOK_SECRET})).status_code == 405


@pytest.mark.parametrize(
    "account",
    [
        {"subdomain": "thieves", "id": ACCOUNT["id"]},
        {"subdomain": "flowers.evil", "id": ACCOUNT["id"]},
        {"id": ACCOUNT["id"]},
        None,
    ],
    ids=["other subdomain", "lookalike", "no subdomain", "no account"],
)
def test_wrong_account_is_403_and_stores_nothing(client, linked, account):
    response = post(client, body(account=account, update=[lead(cf(Key.ACCOUNT_SUM, "1"))]))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not WebhookEvent.objects.exists()
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("5000.00")


def test_account_id_is_checked_when_configured(client, linked, settings):
    settings.AMOCRM_ACCOUNT_ID = "31000001"
    other = {**ACCOUNT, "id": 31000002}

    assert post(client, body(account=other, update=[lead()])).status_code == HTTPStatus.FORBIDDEN
    assert post(client, body(update=[lead()])).status_code == HTTPStatus.OK


def test_malformed_body_is_recorded_as_failed_not_500(client, linked):
    response = post(client, b"leads[update][0][name]=%D0%FF&account[subdomain]=flowers")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert "not a form body" in event.error


def test_lead_item_without_id_or_time_is_recorded_as_failed(client, linked):
    no_id = lead(cf(Key.ACCOUNT_SUM, "1"))
    del no_id["id"]
    no_time = lead(cf(Key.ACCOUNT_SUM, "1"))
    del no_time["last_modified"], no_time["updated_at"]

    assert post(client, body(update=[no_id, no_time])).status_code == HTTPStatus.OK
    apply_all()

    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == ["failed", "failed"]
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("5000.00")


def test_body_without_lead_events_is_recorded_as_ignored(client):
    assert post(client, php_encode({"contacts": {"add": [{"id": 1}]}, "account": ACCOUNT})).status_code == 200

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def test_huge_body_is_rejected_before_parsing(client, linked):
    huge = body(update=[lead(cf(Key.WISHES, "ц" * 400_000))])  # 2.4 MB percent-encoded

    response = post(client, huge)

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert not WebhookEvent.objects.exists()


def test_body_with_more_keys_than_the_cap_is_rejected_like_a_huge_one(client, linked):
    from amocrm import webhooks

    many = "&".join(f"a%5B%5D={n}" for n in range(webhooks.MAX_KEYS + 1))
    assert len(many.encode()) < webhooks.MAX_BYTES

    response = post(client, many)

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert not WebhookEvent.objects.exists()


def test_a_mass_edit_of_50_leads_with_40_fields_each_is_accepted(client, linked):
    manager_fields = [
        {"id": 700000 + n, "name": f"Поле менеджера номер {n}", "values": [{"value": "Значение поля"}]}
        for n in range(39)
    ]
    leads = [lead(cf(Key.WISHES, "Без лилий"), *manager_fields, lead_id=LEAD + n) for n in range(50)]
    data = body(update=leads)
    assert len(data.encode()) > 512 * 1024

    response = post(client, data)

    assert response.status_code == HTTPStatus.OK
    assert WebhookEvent.objects.count() == 50


def test_duplicate_delivery_changes_nothing_the_second_time(client, linked, enqueued):
    data = body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"))], status=[lead(status_id=143, at=later(61))])
    deliver(client, data)
    linked.refresh_from_db()
    first = (linked.account_sum, linked.account_status, linked.updated_at)
    tasks_before = len(enqueued)

    deliver(client, data)

    assert WebhookEvent.objects.count() == 2
    linked.refresh_from_db()
    assert (linked.account_sum, linked.account_status, linked.updated_at) == first
    assert first[:2] == (Decimal("7500.00"), "closed")
    assert len(enqueued) == tasks_before  # no second apply task, no sync


def test_out_of_order_delivery_keeps_the_newer_values(client, linked, field_map):
    older_at = later(60)  # computed once: a second boundary must not change the lookup below
    newer = body(update=[lead(cf(Key.ACCOUNT_SUM, "9000"), cf(Key.WISHES, "Новые"), at=later(120))])
    older = body(update=[lead(cf(Key.ACCOUNT_SUM, "100"), cf(Key.WISHES, "Старые"), at=older_at)])

    deliver(client, newer)
    deliver(client, older)

    linked.refresh_from_db()
    assert (linked.account_sum, linked.wishes) == (Decimal("9000.00"), "Новые")
    stale = WebhookEvent.objects.get(payload__last_modified=str(int(older_at.timestamp())))
    assert stale.status == WebhookEvent.Status.IGNORED


def test_events_of_one_body_apply_oldest_first(client, linked):
    deliver(
        client,
        body(
            update=[
                lead(cf(Key.ACCOUNT_SUM, "9000"), at=later(120)),
                lead(cf(Key.ACCOUNT_SUM, "100"), at=later(60)),
            ]
        ),
    )

    linked.refresh_from_db()
    assert linked.account_sum == Decimal("9000.00")


def test_unknown_lead_id_is_ignored(client, linked):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "1"), lead_id=99999999)]))

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED
    assert "no profile" in event.error
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("5000.00")


# -- ownership --------------------------------------------------------------------------------------


def paused_lead(profile: Profile, field_map) -> Profile:
    """The customer paused, and the lead says so: a manager's «Активный» is then a change (a paid
    customer's lead reads «Активный» already: docs/subscription-status.md)."""
    Profile.objects.filter(pk=profile.pk).update(account_status=Profile.AccountStatus.PAUSED)
    return link(Profile.objects.get(pk=profile.pk), field_map)


def test_sum_and_status_follow_amocrm_even_after_a_newer_site_change(client, linked, field_map):
    linked = paused_lead(linked, field_map)
    old = timezone.now() - datetime.timedelta(hours=1)
    status = cf(Key.ACCOUNT_STATUS, "Активный", enum=enum(field_map, Key.ACCOUNT_STATUS, "active"))

    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "7500.5"), status, at=old)]))

    linked.refresh_from_db()
    assert (linked.account_sum, linked.account_status) == (Decimal("7500.50"), "active")
    assert WebhookEvent.objects.get().changes == ["account_sum", "account_status"]


def test_preferences_follow_amocrm_when_its_change_is_newer(client, linked, field_map):
    lux = BouquetCategory.objects.exclude(pk=linked.bouquet_category_id).first()
    day = timezone.localdate() + datetime.timedelta(days=20)
    changes = [
        cf(Key.BOUQUET_CATEGORY, lux.name, enum=enum(field_map, Key.BOUQUET_CATEGORY, lux.slug)),
        cf(Key.DELIVERY_ADDRESS, "Москва, ул. Арбат, 1"),
        cf(Key.DELIVERY_DATE, str(mapping.date_to_timestamp(day))),
        cf(Key.DELIVERY_INTERVAL, "раз в месяц", enum=enum(field_map, Key.DELIVERY_INTERVAL, "monthly")),
        cf(Key.WISHES, "Только тюльпаны"),
    ]
    clock = LeadSync.objects.get(profile=linked).site_changed_at

    deliver(client, body(update=[lead(*changes)]))

    linked.refresh_from_db()
    assert linked.bouquet_category == lux
    assert linked.delivery_address == "Москва, ул. Арбат, 1"
    assert linked.delivery_interval == "monthly"
    assert linked.next_delivery_on() == day
    assert linked.first_delivery_date == day
    assert linked.wishes == "Только тюльпаны"
    # Still the times of the customer's last changes: a change from amoCRM moves no site clock.
    assert LeadSync.objects.get(profile=linked).site_changed_at == clock


def test_preferences_stay_when_the_customer_changed_them_later(client, linked):
    old = timezone.now() - datetime.timedelta(hours=1)

    deliver(client, body(update=[lead(cf(Key.WISHES, "От менеджера"), cf(Key.ACCOUNT_SUM, "10"), at=old)]))

    linked.refresh_from_db()
    assert linked.wishes == "Больше зелени, без роз"
    assert linked.account_sum == Decimal("10.00")


def test_impossible_values_are_errors_for_their_field_and_the_rest_applies(client, linked, field_map):
    deliver(
        client,
        body(
            update=[
                lead(
                    cf(Key.BOUQUET_CATEGORY, "Нет такой", enum=999),
                    cf(Key.DELIVERY_DATE, "31.02.2026"),
                    cf(Key.ACCOUNT_SUM, "-5"),
                    cf(
                        Key.DELIVERY_INTERVAL,
                        "раз в две недели",
                        enum=enum(field_map, Key.DELIVERY_INTERVAL, "biweekly"),
                    ),
                    cf(Key.DELIVERY_ADDRESS, ""),
                    cf(Key.WISHES, "ж" * 1001),
                    {"id": 777777, "name": "Чужое поле", "values": [{"value": "x"}]},
                )
            ]
        ),
    )

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED
    errors = dict(line.split(": ", 1) for line in event.error.splitlines())
    assert set(errors) == {"account_sum", "bouquet_category", "delivery_address", "delivery_date", "wishes"}
    linked.refresh_from_db()
    assert linked.delivery_interval == "biweekly"
    assert linked.account_sum == Decimal("5000.00")
    assert linked.delivery_address == "Москва, ул. Ленина, 25, кв. 10"


def test_price_stands_in_for_the_sum_only_when_the_sum_field_is_absent(client, linked):
    deliver(client, body(update=[lead(price=6000)]))
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("6000.00")

    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "6100.40"), price=7000, at=later(120))]))
    linked.refresh_from_db()
    assert linked.account_sum == Decimal("6100.40")


# -- no echo ----------------------------------------------------------------------------------------


def test_applying_a_webhook_sends_nothing_back(
    client, linked, field_map, tasks_immediate, django_capture_on_commit_callbacks
):
    linked = paused_lead(linked, field_map)
    status = cf(Key.ACCOUNT_STATUS, "Активный", enum=enum(field_map, Key.ACCOUNT_STATUS, "active"))
    data = body(
        update=[
            full_lead(
                linked, field_map, cf(Key.ACCOUNT_SUM, "7500"), status, cf(Key.WISHES, "Пионы"), price=7500
            )
        ]
    )

    with responses.RequestsMock() as mock:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert post(client, data).status_code == HTTPStatus.OK
        assert len(callbacks) == 1  # the apply task only: no sync is queued for amoCRM's own values
        assert len(mock.calls) == 0  # nothing registered either: a request would have failed the sync

    linked.refresh_from_db()
    assert (linked.account_sum, linked.account_status, linked.wishes) == (
        Decimal("7500.00"),
        "active",
        "Пионы",
    )
    sync = LeadSync.objects.get(profile=linked)
    assert sync.status == LeadSync.Status.SYNCED  # recorded as synced when applied: nothing to send
    assert sync.synced_values == mapping.lead_state(linked, field_map)


def test_our_own_update_echoed_back_changes_nothing(client, linked, field_map):
    state = mapping.lead_state(linked, field_map)
    echo = [
        {
            "id": item["field_id"],
            "values": [{"value": v.get("value"), "enum": v.get("enum_id")} for v in item["values"]],
        }
        for key, item in state.items()
        if key not in ("name", "price", "status_id") and item["values"]
    ]
    updated_at = linked.updated_at

    deliver(client, body(update=[lead(*echo, price=state["price"])]))

    linked.refresh_from_db()
    assert linked.updated_at == updated_at
    event = WebhookEvent.objects.get()
    assert (event.status, event.changes, event.error) == ("processed", [], "")
    assert LeadSync.objects.get(profile=linked).status == LeadSync.Status.SYNCED


def test_an_old_value_amocrm_still_holds_does_not_undo_a_pending_site_change(client, linked, field_map):
    # The customer changed the wishes; the sync has not sent them yet; a manager edits the sum.
    linked.wishes = "Новое от клиента"
    linked.save()
    old_wishes = LeadSync.objects.get(profile=linked).synced_values[Key.WISHES]["values"][0]["value"]

    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "1"), cf(Key.WISHES, old_wishes), at=later(240))]))

    linked.refresh_from_db()
    assert (linked.account_sum, linked.wishes) == (Decimal("1.00"), "Новое от клиента")


# -- status and delete --------------------------------------------------------------------------


def test_stage_changes_map_to_the_account_status(client, linked, settings):
    deliver(client, body(status=[lead(status_id=143, old_status_id=60000003)]))
    linked.refresh_from_db()
    assert linked.account_status == "closed"

    deliver(client, body(status=[lead(status_id=60000004, at=later(120))]))  # not in the map
    linked.refresh_from_db()
    assert linked.account_status == "closed"


def test_deleted_lead_unlinks_the_profile_and_the_next_change_creates_a_new_lead(client, linked, field_map):
    deliver(client, body(delete=[{"id": LEAD, "status_id": 60000003, "pipeline_id": 7000001}]))

    sync = LeadSync.objects.get(profile=linked)
    assert (sync.status, sync.lead_id, sync.synced_values) == ("unlinked", None, {})
    assert "deleted in amoCRM" in sync.last_error

    linked.wishes = "Снова с нами"
    linked.save()
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/api/v4/leads/{LEAD}", status=204)  # still in the trash: amoCRM has nothing
        mock.get(f"{BASE}/api/v4/contacts", status=204)
        mock.post(f"{BASE}/api/v4/leads/complex", json=[{"id": 30000077, "contact_id": 40000001}])
        lead_sync.lead_sync_profiles(profile_ids=[linked.pk])

    sync.refresh_from_db()
    assert (sync.status, sync.lead_id, sync.deleted_lead_id) == ("synced", 30000077, None)


def test_a_restored_lead_is_linked_again_and_gets_every_field_once(client, linked, field_map, enqueued):
    deliver(client, body(delete=[{"id": LEAD, "status_id": 60000003, "pipeline_id": 7000001}]))
    linked.wishes = "Изменено, пока сделки не было"
    linked.save()

    deliver(client, body(restore=[lead(at=later(60))]))

    sync = LeadSync.objects.get(profile=linked)
    assert (sync.status, sync.lead_id, sync.deleted_lead_id, sync.synced_values) == (
        "pending",
        LEAD,
        None,
        {},
    )
    with responses.RequestsMock() as mock:
        mock.patch(f"{BASE}/api/v4/leads", json={"_embedded": {"leads": [{"id": LEAD}]}})
        lead_sync.lead_sync_profiles(profile_ids=[linked.pk])
        calls = list(mock.calls)
    assert len(calls) == 1  # no second lead: the restored one is updated
    sent = json.loads(calls[0].request.body)
    assert sent[0]["id"] == LEAD and len(sent[0]["custom_fields_values"]) == len(mapping.FIELDS)
    sync.refresh_from_db()
    assert (sync.status, sync.lead_id) == ("synced", LEAD)


def test_a_change_after_a_restore_that_sent_no_hook_finds_the_lead_instead_of_making_a_second(
    client, linked, field_map
):
    deliver(client, body(delete=[{"id": LEAD, "status_id": 60000003, "pipeline_id": 7000001}]))
    linked.wishes = "Снова с нами"
    linked.save()

    with responses.RequestsMock() as mock:
        mock.get(
            f"{BASE}/api/v4/leads/{LEAD}", json={"id": LEAD, "_embedded": {"contacts": [{"id": 40000001}]}}
        )
        mock.patch(f"{BASE}/api/v4/leads", json={"_embedded": {"leads": [{"id": LEAD}]}})
        lead_sync.lead_sync_profiles(profile_ids=[linked.pk])
        methods = [call.request.method for call in mock.calls]

    assert methods == ["GET", "PATCH"]  # asked, found, updated: no leads/complex
    sync = LeadSync.objects.get(profile=linked)
    assert (sync.status, sync.lead_id, sync.deleted_lead_id) == ("synced", LEAD, None)


# -- the account page ------------------------------------------------------------------------------


def test_account_page_shows_the_new_sum_and_status(client, linked, field_map):
    status = cf(Key.ACCOUNT_STATUS, "Приостановлен", enum=enum(field_map, Key.ACCOUNT_STATUS, "paused"))
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "12345.67"), status)]))

    client.force_login(linked.user)
    page = client.get(reverse("accounts:dashboard")).content.decode()

    assert "12\xa0345,67" in page or "12 345,67" in page
    assert "badge--paused" in page


# -- commands and admin ------------------------------------------------------------------------------


@responses.activate
def test_subscribe_command_subscribes_once(oauth_token, settings):
    settings.SITE_URL = "https://flowers.example.ru"
    destination = f"https://flowers.example.ru/amocrm/webhook/{WEBHOOK_SECRET}/"
    hooks: list[dict] = []

    def listing(request):
        if not hooks:
            return (204, {}, "")
        return (200, {"Content-Type": "application/hal+json"}, json.dumps({"_embedded": {"webhooks": hooks}}))

    def subscribe(request):
        data = json.loads(request.body)
        hooks.append(
            {"id": 1, "destination": data["destination"], "settings": data["settings"], "disabled": False}
        )
        return (201, {"Content-Type": "application/hal+json"}, json.dumps(hooks[-1]))

    responses.add_callback(responses.GET, f"{BASE}/api/v4/webhooks", callback=listing)
    responses.add_callback(responses.POST, f"{BASE}/api/v4/webhooks", callback=subscribe)
    out = StringIO()

    call_command("amocrm_subscribe_webhook", stdout=out)
    call_command("amocrm_subscribe_webhook", stdout=out)

    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1
    assert json.loads(posts[0].request.body) == {
        "destination": destination,
        "settings": [
            "add_lead",
            "update_lead",
            "status_lead",
            "delete_lead",
            "restore_lead",
            "update_contact",
        ],
        "sort": 10,
    }
    assert "Subscribed" in out.getvalue() and "Already subscribed" in out.getvalue()
    assert WEBHOOK_SECRET not in out.getvalue()


def test_prune_command_deletes_old_events(client, linked):
    post(client, body(update=[lead()]))
    post(client, body(update=[lead(at=later(5))]))
    old = WebhookEvent.objects.first()
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - datetime.timedelta(days=31))
    out = StringIO()

    call_command("amocrm_prune_webhook_events", "--days", "30", stdout=out)

    assert list(WebhookEvent.objects.values_list("pk", flat=True)) != [old.pk]
    assert WebhookEvent.objects.count() == 1
    assert "Deleted 1" in out.getvalue()


def test_admin_lists_events_and_reprocesses_them(
    client, linked, superuser_client, enqueued, django_capture_on_commit_callbacks
):
    deliver(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"))]))
    event = WebhookEvent.objects.get()
    url = reverse("admin:amocrm_webhookevent_changelist")

    assert superuser_client.get(url, {"status__exact": "processed", "q": str(LEAD)}).status_code == 200
    assert (
        superuser_client.get(reverse("admin:amocrm_webhookevent_change", args=[event.pk])).status_code == 200
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            url, {"action": "reprocess_selected", "_selected_action": [event.pk]}
        )

    assert response.status_code == HTTPStatus.FOUND
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED
    assert enqueued[-1].kwargs == {"event_ids": [event.pk]}
    tasks.webhook_apply.call(event_ids=[event.pk])
    event.refresh_from_db()
    assert (event.status, event.changes) == ("processed", [])  # already applied: nothing to change


# -- property: nothing a sender posts makes a 500 --------------------------------------------------

_key_part = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8)
_key = st.builds(
    lambda base, parts: base + "".join(f"[{p}]" for p in parts),
    st.sampled_from(["leads", "account", "a"]) | _key_part,
    st.lists(
        st.sampled_from(
            [
                "update",
                "add",
                "status",
                "delete",
                "0",
                "1",
                "id",
                "custom_fields",
                "values",
                "value",
                "enum",
                "subdomain",
                "last_modified",
                "",
            ]
        )
        | _key_part,
        max_size=7,
    ),
)
_value = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20) | st.integers(0, 2**70).map(
    str
)
_account = [("account[subdomain]", "flowers"), ("account[id]", "31000001")]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pairs=st.lists(st.tuples(_key, _value), max_size=25), with_account=st.booleans(), encode=st.booleans())
def test_random_form_bodies_never_get_a_500(client, linked, pairs, with_account, encode):
    from urllib.parse import quote_plus

    pairs = pairs + (_account if with_account else [])
    if encode:
        data = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)
    else:
        data = "&".join(f"{k}={v}" for k, v in pairs)
    client.raise_request_exception = False

    response = post(client, data.encode())
    apply_all()

    assert response.status_code < 500


def test_account_subdomain_setting_names_the_account_when_the_base_url_has_none(settings):

    settings.AMOCRM_BASE_URL = "http://127.0.0.1:8911"
    settings.AMOCRM_ACCOUNT_SUBDOMAIN = "flowers"
    settings.AMOCRM_ACCOUNT_ID = ""

    assert webhook_events.webhook_account_matches(subdomain="flowers", account_id="31000001")
    assert not webhook_events.webhook_account_matches(subdomain="127", account_id="31000001")


def test_sync_due_requeues_webhook_events_left_unapplied(enqueued):
    def event(key: str, *, minutes_ago: int, status: str = WebhookEvent.Status.RECEIVED) -> WebhookEvent:
        row = WebhookEvent.objects.create(dedupe_key=key, lead_id=LEAD, status=status)
        WebhookEvent.objects.filter(pk=row.pk).update(
            received_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
        )
        return row

    lost = event("lost", minutes_ago=10)
    event("just-received", minutes_ago=0)  # its task is about to run
    event("applied", minutes_ago=10, status=WebhookEvent.Status.PROCESSED)

    call_command("amocrm_sync_due", stdout=StringIO())

    assert [(r.task.name, r.kwargs) for r in enqueued] == [("webhook_apply", {"event_ids": [lost.pk]})]


# -- cleared fields: amoCRM leaves an empty field out of a hook's item -----------------------------


def test_a_hook_item_without_the_wishes_clears_them_on_the_site(client, linked, field_map):
    assert linked.wishes  # sent to amoCRM when the lead was made
    item = full_lead(linked, field_map)
    wishes_id = field_map.field_id(Key.WISHES)
    item["custom_fields"] = [f for f in item["custom_fields"] if f["id"] != wishes_id]

    deliver(client, body(update=[item]))

    linked.refresh_from_db()
    assert linked.wishes == ""
    assert WebhookEvent.objects.get().changes == ["wishes"]
    sync = LeadSync.objects.get(profile=linked)
    assert sync.status == LeadSync.Status.SYNCED  # amoCRM holds it empty already: nothing to send
    assert sync.synced_values[Key.WISHES]["values"] is None


def test_a_hook_item_without_the_delivery_date_keeps_the_sites_and_sends_it_back(
    client, linked, field_map, enqueued
):
    date_before = linked.next_delivery_on()
    item = full_lead(linked, field_map)
    date_id = field_map.field_id(Key.DELIVERY_DATE)
    item["custom_fields"] = [f for f in item["custom_fields"] if f["id"] != date_id]

    deliver(client, body(update=[item]))

    linked.refresh_from_db()
    assert linked.next_delivery_on() == date_before
    event = WebhookEvent.objects.get()
    assert "empty in amoCRM" in event.error
    sync = LeadSync.objects.get(profile=linked)
    assert sync.status == LeadSync.Status.PENDING  # the site's date goes back to the lead
    assert mapping.lead_state_changes(mapping.lead_state(linked, field_map), sync.synced_values) == [
        Key.DELIVERY_DATE
    ]


def test_an_outage_while_reading_a_tie_back_leaves_the_event_for_the_sweep(client, linked, monkeypatch):
    def outage(*args, **kwargs):
        raise AmoCRMUnavailable("timeout", path="/api/v4/leads/1")

    monkeypatch.setattr(webhook_events, "_lead_read_back_on_tie", outage)
    assert post(client, body(update=[lead(cf(Key.ACCOUNT_SUM, "7500"))])).status_code == HTTPStatus.OK

    apply_all()

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.RECEIVED  # not failed for good
    linked.refresh_from_db()
    assert linked.account_sum != Decimal("7500.00")
