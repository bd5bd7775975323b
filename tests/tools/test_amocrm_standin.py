"""The amoCRM stand-in on its own: it must be as strict as amoCRM, so the site's tests can trust it."""

import datetime
import re
import threading
import zoneinfo
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests

from tests.tools.helpers import errors_of, lead_id_of
from tools.amocrm_standin import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI


@pytest.fixture
def lead_fields(api) -> dict[str, dict]:
    """One lead field of each type we use, by code."""
    specs = [
        {"name": "Сумма счёта", "type": "numeric", "code": "FA_SUM"},
        {"name": "Категория", "type": "select", "code": "FA_CAT", "enums": [{"value": "Люкс", "sort": 1}]},
        {"name": "Дата доставки", "type": "date", "code": "FA_DATE"},
        {"name": "Адрес", "type": "text", "code": "FA_ADDRESS"},
        {"name": "Ссылка", "type": "url", "code": "FA_URL"},
    ]
    response = api.post(api.url("/api/v4/leads/custom_fields"), json=specs, timeout=5)
    assert response.status_code == HTTPStatus.OK
    return {f["code"]: f for f in response.json()["_embedded"]["custom_fields"]}


def token_body(**overrides) -> dict:
    body = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "redirect_uri": DEFAULT_REDIRECT_URI,
        "grant_type": "authorization_code",
    }
    return {**body, **overrides}


# -- OAuth and tokens ----------------------------------------------------------------------------


def test_code_exchange_gives_working_tokens_and_the_code_is_single_use(standin, control):
    code = control("codes")["code"]
    url = f"{standin.base_url}/oauth2/access_token"

    first = requests.post(url, json=token_body(code=code), timeout=5)
    again = requests.post(url, json=token_body(code=code), timeout=5)

    assert first.status_code == HTTPStatus.OK
    tokens = first.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 86400 and tokens["refresh_token"]
    pipelines = requests.get(
        f"{standin.base_url}/api/v4/leads/pipelines",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert pipelines.status_code == HTTPStatus.OK
    assert again.status_code == HTTPStatus.BAD_REQUEST


def test_a_refresh_token_works_once_and_a_reused_one_is_revoked(standin, control):
    url = f"{standin.base_url}/oauth2/access_token"
    tokens = requests.post(url, json=token_body(code=control("codes")["code"]), timeout=5).json()
    refresh = token_body(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    renewed = requests.post(url, json=refresh, timeout=5)
    reused = requests.post(url, json=refresh, timeout=5)

    assert renewed.status_code == HTTPStatus.OK
    assert renewed.json()["refresh_token"] != tokens["refresh_token"]
    assert reused.status_code == HTTPStatus.BAD_REQUEST
    assert reused.json()["hint"] == "Token has been revoked"


@pytest.mark.parametrize(
    ("override", "status"),
    [
        ({"client_secret": "wrong"}, HTTPStatus.UNAUTHORIZED),
        ({"client_id": "someone-else"}, HTTPStatus.BAD_REQUEST),
        ({"redirect_uri": "https://elsewhere.example/"}, HTTPStatus.BAD_REQUEST),
    ],
)
def test_the_token_endpoint_checks_the_configured_integration(standin, control, override, status):
    control("integration", {"client_id": DEFAULT_CLIENT_ID})
    code = control("codes")["code"]

    response = requests.post(
        f"{standin.base_url}/oauth2/access_token", json=token_body(code=code, **override), timeout=5
    )

    assert response.status_code == status


def test_the_api_answers_401_without_a_token(standin):
    response = requests.get(f"{standin.base_url}/api/v4/leads/pipelines", timeout=5)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.headers["Content-Type"] == "application/problem+json"


def test_the_api_answers_401_once_tokens_are_expired(api, control):
    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.OK

    control("tokens/expire")

    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.UNAUTHORIZED


def test_an_uninstall_revokes_every_token_as_amocrm_does_until_a_new_consent(standin, control):
    url = f"{standin.base_url}/oauth2/access_token"
    tokens = requests.post(url, json=token_body(code=control("codes")["code"]), timeout=5).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    control("integration/uninstall")
    call = requests.get(f"{standin.base_url}/api/v4/leads/pipelines", headers=headers, timeout=5)
    refresh = requests.post(
        url, json=token_body(grant_type="refresh_token", refresh_token=tokens["refresh_token"]), timeout=5
    )
    again = requests.post(url, json=token_body(code=control("codes")["code"]), timeout=5)

    assert call.status_code == HTTPStatus.UNAUTHORIZED
    assert refresh.status_code == HTTPStatus.UNAUTHORIZED
    assert refresh.json() == {
        "title": "Некорректный запрос",
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "status": 401,
        "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
        "hint": "Token has been revoked",
    }
    assert again.status_code == HTTPStatus.OK  # reconnecting installs it again


# -- validation ----------------------------------------------------------------------------------


def test_a_value_named_only_by_field_name_is_rejected_with_the_item_index_and_path(api, lead_fields):
    good = {"name": "ok", "custom_fields_values": [{"field_code": "FA_ADDRESS", "values": [{"value": "М"}]}]}
    bad = {"name": "bad", "custom_fields_values": [{"field_name": "Адрес", "values": [{"value": "М"}]}]}

    response = api.post(api.url("/api/v4/leads"), json=[good, bad], timeout=5)

    assert errors_of(response) == [("1", "custom_fields_values.0.field_id")]
    assert api.get(api.url("/api/v4/leads"), timeout=5).status_code == HTTPStatus.NO_CONTENT


def test_a_field_of_another_entity_is_rejected(api, lead_fields):
    email_field = 500002  # contacts' predefined EMAIL
    item = {"custom_fields_values": [{"field_id": email_field, "values": [{"value": "a@example.ru"}]}]}

    response = api.post(api.url("/api/v4/leads"), json=[item], timeout=5)

    assert errors_of(response) == [("0", "custom_fields_values.0.field_id")]


@pytest.mark.parametrize(
    ("code", "value", "path"),
    [
        ("FA_DATE", {"value": "2025-10-08"}, "value"),
        ("FA_DATE", {"value": "1762549200"}, "value"),
        ("FA_CAT", {"enum_id": 1}, "enum_id"),
        ("FA_CAT", {"value": "люкс"}, "value"),  # enum text matches case-sensitively
        ("FA_SUM", {"value": "12,5"}, "value"),
        ("FA_ADDRESS", {"value": "x" * 257}, "value"),
        ("FA_URL", {"value": "not a url"}, "value"),
    ],
)
def test_values_of_the_wrong_kind_are_rejected(api, lead_fields, code, value, path):
    item = {"custom_fields_values": [{"field_code": code, "values": [value]}]}

    response = api.post(api.url("/api/v4/leads"), json=[item], timeout=5)

    assert errors_of(response) == [("0", f"custom_fields_values.0.values.0.{path}")]


def test_values_of_the_right_kind_are_accepted(api, lead_fields):
    luxe = lead_fields["FA_CAT"]["enums"][0]
    item = {
        "price": 1500,
        "custom_fields_values": [
            {"field_id": lead_fields["FA_SUM"]["id"], "values": [{"value": "1500.50"}]},
            {"field_id": lead_fields["FA_CAT"]["id"], "values": [{"enum_id": luxe["id"]}]},
            {"field_id": lead_fields["FA_DATE"]["id"], "values": [{"value": 1762549200}]},
            {"field_code": "FA_URL", "values": [{"value": "https://flowers.example.ru/r/abc/"}]},
        ],
    }

    response = api.post(api.url("/api/v4/leads"), json=[item], timeout=5)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Content-Type"] == "application/hal+json"


@pytest.mark.parametrize("price", ["1500", 1500.0, True])
def test_a_price_that_is_not_a_json_integer_is_rejected(api, price):
    response = api.post(api.url("/api/v4/leads"), json=[{"name": "x", "price": price}], timeout=5)

    assert errors_of(response) == [("0", "price")]


def test_empty_values_are_rejected_and_null_clears_the_field(api, lead_fields):
    address = lead_fields["FA_ADDRESS"]["id"]
    item = {"custom_fields_values": [{"field_id": address, "values": [{"value": "Москва"}]}]}
    lead_id = api.post(api.url("/api/v4/leads"), json=[item], timeout=5).json()["_embedded"]["leads"][0]["id"]

    rejected = api.patch(
        api.url("/api/v4/leads"),
        json=[{"id": lead_id, "custom_fields_values": [{"field_id": address, "values": []}]}],
        timeout=5,
    )
    cleared = api.patch(
        api.url(f"/api/v4/leads/{lead_id}"),
        json={"custom_fields_values": [{"field_id": address, "values": None}]},
        timeout=5,
    )

    assert errors_of(rejected) == [("0", "custom_fields_values.0.values")]
    assert cleared.status_code == HTTPStatus.OK
    assert api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()["custom_fields_values"] is None


def test_more_than_50_complex_leads_in_one_request_are_rejected(api):
    leads = [{"name": f"lead {i}", "_embedded": {"contacts": [{"first_name": "A"}]}} for i in range(51)]

    response = api.post(api.url("/api/v4/leads/complex"), json=leads, timeout=5)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert api.get(api.url("/api/v4/leads"), timeout=5).status_code == HTTPStatus.NO_CONTENT


def test_more_than_250_leads_in_one_request_are_rejected(api):
    response = api.post(api.url("/api/v4/leads"), json=[{"name": "x"}] * 251, timeout=5)

    assert response.status_code == HTTPStatus.BAD_REQUEST


# -- leads, contacts, fields ---------------------------------------------------------------------


def test_a_complex_create_returns_lead_and_contact_ids_and_links_them(api, lead_fields):
    contact = {
        "first_name": "Анна",
        "custom_fields_values": [
            {"field_code": "EMAIL", "values": [{"value": "anna@example.ru", "enum_code": "WORK"}]}
        ],
    }
    leads = [
        {"name": "Подписка", "price": 5000, "request_id": "p-1", "_embedded": {"contacts": [contact]}},
        {"name": "Вторая", "price": 100, "_embedded": {"contacts": [{"first_name": "Борис"}]}},
    ]

    response = api.post(api.url("/api/v4/leads/complex"), json=leads, timeout=5)

    assert response.status_code == HTTPStatus.OK
    first, second = response.json()
    assert first["request_id"] == ["p-1"] and second["request_id"] == ["1"]
    assert first["merged"] is False and first["company_id"] is None
    lead = api.get(api.url(f"/api/v4/leads/{first['id']}"), params={"with": "contacts"}, timeout=5).json()
    assert lead["price"] == 5000
    assert lead["_embedded"]["contacts"] == [
        {"id": first["contact_id"], "is_main": True, "_links": lead["_embedded"]["contacts"][0]["_links"]}
    ]
    found = api.get(api.url("/api/v4/contacts"), params={"query": "anna@example.ru"}, timeout=5).json()
    email = found["_embedded"]["contacts"][0]["custom_fields_values"][0]
    assert (email["field_code"], email["values"][0]["value"], email["values"][0]["enum_code"]) == (
        "EMAIL",
        "anna@example.ru",
        "WORK",
    )


def test_nothing_there_answers_204_with_an_empty_body(api):
    answers = [
        api.get(api.url("/api/v4/leads/12345"), timeout=5),
        api.get(api.url("/api/v4/leads"), params={"filter[id][]": [1, 2]}, timeout=5),
        api.get(api.url("/api/v4/contacts"), params={"query": "nobody@example.ru"}, timeout=5),
        api.get(api.url("/api/v4/webhooks"), timeout=5),
    ]

    assert [(a.status_code, a.content) for a in answers] == [(HTTPStatus.NO_CONTENT, b"")] * 4


def test_a_deleted_lead_answers_204(api, control):
    lead_id = api.post(api.url("/api/v4/leads"), json=[{"name": "x"}], timeout=5).json()["_embedded"][
        "leads"
    ][0]
    control(f"leads/{lead_id['id']}/delete")

    assert api.get(api.url(f"/api/v4/leads/{lead_id['id']}"), timeout=5).status_code == HTTPStatus.NO_CONTENT


def test_a_patch_leaves_the_fields_it_does_not_mention(api, lead_fields):
    sum_id, address_id = lead_fields["FA_SUM"]["id"], lead_fields["FA_ADDRESS"]["id"]
    item = {
        "name": "Подписка",
        "price": 5000,
        "custom_fields_values": [
            {"field_id": sum_id, "values": [{"value": "5000.00"}]},
            {"field_id": address_id, "values": [{"value": "Москва"}]},
        ],
    }
    lead_id = api.post(api.url("/api/v4/leads"), json=[item], timeout=5).json()["_embedded"]["leads"][0]["id"]

    response = api.patch(
        api.url("/api/v4/leads"),
        json=[
            {"id": lead_id, "custom_fields_values": [{"field_id": sum_id, "values": [{"value": "7000.00"}]}]}
        ],
        timeout=5,
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["_embedded"]["leads"][0]["id"] == lead_id
    lead = api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()
    values = {f["field_id"]: f["values"][0]["value"] for f in lead["custom_fields_values"]}
    assert (lead["name"], lead["price"], values) == (
        "Подписка",
        5000,
        {sum_id: "7000.00", address_id: "Москва"},
    )


def test_leads_are_listed_by_ids(api):
    created = api.post(
        api.url("/api/v4/leads"), json=[{"name": "a"}, {"name": "b"}, {"name": "c"}], timeout=5
    )
    ids = [lead["id"] for lead in created.json()["_embedded"]["leads"]]

    response = api.get(api.url("/api/v4/leads"), params={"filter[id][]": ids[:2], "limit": 250}, timeout=5)

    assert [lead["id"] for lead in response.json()["_embedded"]["leads"]] == ids[:2]


def test_custom_fields_are_paged_with_a_next_link(api):
    specs = [{"name": f"Поле {i}", "type": "text"} for i in range(3)]
    api.post(api.url("/api/v4/leads/custom_fields"), json=specs, timeout=5)

    first = api.get(api.url("/api/v4/leads/custom_fields"), params={"limit": 2, "page": 1}, timeout=5).json()
    second = api.get(api.url("/api/v4/leads/custom_fields"), params={"limit": 2, "page": 2}, timeout=5).json()
    third = api.get(api.url("/api/v4/leads/custom_fields"), params={"limit": 2, "page": 3}, timeout=5)

    assert len(first["_embedded"]["custom_fields"]) == 2 and "next" in first["_links"]
    assert len(second["_embedded"]["custom_fields"]) == 1 and "next" not in second["_links"]
    assert third.status_code == HTTPStatus.NO_CONTENT


def test_contacts_have_the_predefined_email_and_phone_fields(api):
    fields = api.get(api.url("/api/v4/contacts/custom_fields"), timeout=5).json()["_embedded"][
        "custom_fields"
    ]

    by_code = {f["code"]: f for f in fields}
    assert {"WORK", "PRIV"} <= {e["value"] for e in by_code["EMAIL"]["enums"]}
    assert {"WORK", "MOB"} <= {e["value"] for e in by_code["PHONE"]["enums"]}


def test_patching_enums_replaces_the_list_and_a_dropped_enum_loses_its_values(api, lead_fields):
    field = lead_fields["FA_CAT"]
    luxe = field["enums"][0]
    item = {"custom_fields_values": [{"field_id": field["id"], "values": [{"enum_id": luxe["id"]}]}]}
    lead_id = api.post(api.url("/api/v4/leads"), json=[item], timeout=5).json()["_embedded"]["leads"][0]["id"]

    kept = api.patch(
        api.url(f"/api/v4/leads/custom_fields/{field['id']}"),
        json={"enums": [luxe, {"value": "Сезонный", "sort": 2}]},
        timeout=5,
    ).json()
    assert [e["value"] for e in kept["enums"]] == ["Люкс", "Сезонный"] and kept["enums"][0]["id"] == luxe[
        "id"
    ]
    assert api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()["custom_fields_values"]

    api.patch(
        api.url(f"/api/v4/leads/custom_fields/{field['id']}"),
        json={"enums": [{"value": "Сезонный", "sort": 2}]},
        timeout=5,
    )

    assert api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()["custom_fields_values"] is None


def test_a_webhook_subscription_is_updated_listed_and_deleted(api):
    destination = "http://127.0.0.1:9/amocrm/webhook/secret/"
    url = api.url("/api/v4/webhooks")
    api.post(url, json={"destination": destination, "settings": ["add_lead"], "sort": 10}, timeout=5)
    again = api.post(url, json={"destination": destination, "settings": ["update_lead"]}, timeout=5)

    listed = api.get(url, params={"filter[destination]": destination}, timeout=5).json()
    deleted = api.delete(url, json={"destination": destination}, timeout=5)

    assert again.status_code == HTTPStatus.CREATED
    assert [h["settings"] for h in listed["_embedded"]["webhooks"]] == [["update_lead"]]
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    assert api.get(url, timeout=5).status_code == HTTPStatus.NO_CONTENT


# -- limits and failures -------------------------------------------------------------------------


def test_more_than_7_requests_in_a_second_get_429_with_an_empty_body(api, control, standin):
    now = [1000.0]
    standin.runtime.clock = lambda: now[0]  # the window moves when the test says, not by sleeping
    control("settings", {"rate_limit": 7})

    answers = [api.get(api.url("/api/v4/leads/pipelines"), timeout=5) for _ in range(8)]

    assert [a.status_code for a in answers[:7]] == [HTTPStatus.OK] * 7
    assert (answers[7].status_code, answers[7].content) == (HTTPStatus.TOO_MANY_REQUESTS, b"")
    now[0] += 0.99
    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.TOO_MANY_REQUESTS
    now[0] += 0.06
    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.OK


def test_injected_failures_answer_n_times_then_the_api_recovers(api, control):
    control("failures", {"status": 500, "count": 2})
    control("failures", {"status": 429, "count": 1})

    statuses = [api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code for _ in range(4)]

    assert statuses == [500, 500, 429, 200]


def test_an_injected_timeout_makes_the_client_give_up(api, control):
    control("failures", {"timeout": 0.5, "count": 1})

    with pytest.raises(requests.ReadTimeout):
        api.get(api.url("/api/v4/leads/pipelines"), timeout=0.2)

    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.OK


def test_the_request_log_lists_what_was_received(api, control):
    control("requests", method="DELETE")
    api.post(api.url("/api/v4/leads"), json=[{"name": "x", "price": "1"}], timeout=5)

    log = control("requests", method="GET")["requests"]

    assert [(r["method"], r["path"], r["status"]) for r in log] == [("POST", "/api/v4/leads", 400)]
    assert log[0]["body"] == [{"name": "x", "price": "1"}]


# -- the manager and webhooks --------------------------------------------------------------------


@pytest.fixture
def receiver():
    """A tiny site that records the webhooks it receives."""
    received: list[dict] = []
    arrived = threading.Event()

    class Receive(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append({"path": self.path, "type": self.headers["Content-Type"], "body": body})
            arrived.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    server.received, server.arrived = received, arrived
    server.url = f"http://127.0.0.1:{server.server_address[1]}/amocrm/webhook/secret/"
    yield server
    server.shutdown()
    server.server_close()


def test_a_manager_edit_sends_the_form_encoded_v2_webhook(api, control, lead_fields, receiver):
    luxe = lead_fields["FA_CAT"]["enums"][0]
    item = {"name": "Подписка", "price": 2500}
    lead_id = api.post(api.url("/api/v4/leads"), json=[item], timeout=5).json()["_embedded"]["leads"][0]["id"]
    subscription = {"destination": receiver.url, "settings": ["update_lead", "status_lead"]}
    api.post(api.url("/api/v4/webhooks"), json=subscription, timeout=5)
    control("settings", {"echo": False})

    result = control(
        f"leads/{lead_id}/manager",
        {
            "price": 2600,
            "status_id": 60000003,
            "custom_fields": [
                {"field_id": lead_fields["FA_SUM"]["id"], "value": "2600.50"},
                {"field_id": lead_fields["FA_CAT"]["id"], "enum_id": luxe["id"]},
            ],
        },
    )

    assert result["deliveries"][0]["status"] == HTTPStatus.OK
    (webhook,) = receiver.received
    assert webhook["type"] == "application/x-www-form-urlencoded"
    assert "%5Bupdate%5D%5B0%5D%5Bprice%5D=2600" in webhook["body"]  # brackets encoded like http_build_query
    data = dict(parse_qsl(webhook["body"]))
    assert data["leads[update][0][id]"] == str(lead_id)
    assert data["leads[update][0][price]"] == "2600"
    assert data["leads[update][0][status_id]"] == "60000003"
    assert data["leads[update][0][last_modified]"] == str(result["lead"]["updated_at"])
    assert data["leads[update][0][modified_user_id]"] == "8000002"
    assert data["leads[update][0][custom_fields][0][id]"] == str(lead_fields["FA_SUM"]["id"])
    assert data["leads[update][0][custom_fields][0][name]"] == "Сумма счёта"
    assert data["leads[update][0][custom_fields][0][values][0][value]"] == "2600.50"
    assert data["leads[update][0][custom_fields][1][values][0][value]"] == "Люкс"
    assert data["leads[update][0][custom_fields][1][values][0][enum]"] == str(luxe["id"])
    assert data["leads[status][0][old_status_id]"] == "60000002"
    assert data["account[subdomain]"] == "flowers"
    assert data["account[id]"] == "31000001"
    lead = api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()
    assert (lead["price"], lead["status_id"]) == (2600, 60000003)


def test_changes_through_the_api_echo_an_update_webhook_unless_switched_off(api, control, receiver):
    lead_id = api.post(api.url("/api/v4/leads"), json=[{"name": "x"}], timeout=5).json()["_embedded"][
        "leads"
    ][0]["id"]
    api.post(
        api.url("/api/v4/webhooks"),
        json={"destination": receiver.url, "settings": ["update_lead"]},
        timeout=5,
    )

    api.patch(api.url(f"/api/v4/leads/{lead_id}"), json={"price": 300}, timeout=5)

    assert receiver.arrived.wait(3)
    assert dict(parse_qsl(receiver.received[0]["body"]))["leads[update][0][price]"] == "300"
    control("settings", {"echo": False})
    receiver.arrived.clear()
    api.patch(api.url(f"/api/v4/leads/{lead_id}"), json={"price": 400}, timeout=5)
    assert not receiver.arrived.wait(0.3)


def test_the_page_lists_leads_and_its_form_acts_as_the_manager(api, standin, lead_fields):
    item = {"name": "Подписка на цветы", "price": 2500}
    lead_id = api.post(api.url("/api/v4/leads"), json=[item], timeout=5).json()["_embedded"]["leads"][0]["id"]

    page = requests.get(f"{standin.base_url}/", timeout=5)
    posted = requests.post(
        f"{standin.base_url}/_standin/leads/{lead_id}/manager",
        data={"price": "3100", "status_id": "142"},
        allow_redirects=False,
        timeout=5,
    )

    assert "Подписка на цветы" in page.text and f"/_standin/leads/{lead_id}/manager" in page.text
    assert posted.status_code == HTTPStatus.SEE_OTHER
    lead = api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()
    assert (lead["price"], lead["status_id"]) == (3100, 142)


# -- our real client against it ------------------------------------------------------------------


def test_our_client_sets_up_fields_and_creates_a_complex_lead(standin, control, profile_factory):
    from amocrm import mapping
    from amocrm.client import AmoCRMClient, StaticTokenSource
    from amocrm.ratelimit import NoRateLimiter
    from amocrm.services.fields import field_map_load, fields_setup

    token = control("tokens/long-lived")["access_token"]
    client = AmoCRMClient(
        base_url=standin.base_url,
        tokens=StaticTokenSource(token),
        timeout=5,
        limiter=NoRateLimiter(),
        max_retries=0,
    )
    profile = profile_factory(account_sum=Decimal("5000.50"), phone="+79990001122")

    fields_setup(client=client)
    fields = field_map_load()
    lead = mapping.lead_payload(profile, fields)
    lead["_embedded"]["contacts"] = [mapping.contact_payload(profile)]
    (created,) = client.leads_create_complex([lead])
    change = mapping.profile_to_custom_fields(profile, fields, keys=["delivery_address"])
    client.leads_update([{"id": created["id"], "custom_fields_values": change}])

    stored = client.lead_get(created["id"])
    assert stored["price"] == 5001
    assert stored["_embedded"]["contacts"][0]["id"] == created["contact_id"]
    values = mapping.custom_fields_to_values(stored["custom_fields_values"], fields)
    assert values["account_sum"] == Decimal("5000.50")
    assert values["bouquet_category"] == "romantic"
    assert values["delivery_date"] == profile.next_delivery_on()
    assert values["delivery_interval"] == "weekly"
    assert client.contact_find_by_email(profile.user.email)["id"] == created["contact_id"]
    assert fields_setup(client=client).changed is False


# -- as a real account behaves -------------------------------------------------------------------


def complex_lead(api, email: str, **item) -> dict:
    contact = {
        "first_name": "Анна",
        "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]}],
    }
    body = [{"name": f"Подписка — {email}", **item, "_embedded": {"contacts": [contact]}}]
    response = api.post(api.url("/api/v4/leads/complex"), json=body, timeout=5)
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()[0]


def subscribe(api, receiver, *settings: str) -> None:
    body = {"destination": receiver.url, "settings": list(settings)}
    assert api.post(api.url("/api/v4/webhooks"), json=body, timeout=5).status_code == HTTPStatus.CREATED


def decoded(webhook: dict) -> dict[str, str]:
    return dict(parse_qsl(webhook["body"]))


def test_a_webhook_sends_a_date_bare_and_other_values_under_value(api, control, lead_fields, receiver):
    luxe = lead_fields["FA_CAT"]["enums"][0]
    lead_id = lead_id_of(api, {"name": "Подписка"})
    subscribe(api, receiver, "update_lead")
    control("settings", {"echo": False})
    ids = [lead_fields[code]["id"] for code in ("FA_SUM", "FA_CAT", "FA_DATE")]

    control(
        f"leads/{lead_id}/manager",
        {
            "custom_fields": [
                {"field_id": ids[0], "value": "2500"},
                {"field_id": ids[1], "enum_id": luxe["id"]},
                {"field_id": ids[2], "value": "2025-11-28"},
            ]
        },
    )

    (webhook,) = receiver.received
    assert webhook["body"].startswith("account%5Bsubdomain%5D=flowers")  # the account comes first
    data = decoded(webhook)
    item = "leads[update][0][custom_fields]"
    assert [data[f"{item}[{i}][id]"] for i in range(3)] == [str(i) for i in ids]
    assert data[f"{item}[0][values][0][value]"] == "2500"
    assert (data[f"{item}[1][values][0][value]"], data[f"{item}[1][values][0][enum]"]) == (
        "Люкс",
        str(luxe["id"]),
    )
    assert data[f"{item}[2][values][0]"] == "1764277200"  # 2025-11-28 00:00 Moscow, bare
    assert f"{item}[2][values][0][value]" not in data
    assert not [key for key in data if key.endswith("[code]")]  # real lead items carry no field code
    assert "leads[update][0][old_status_id]" not in data  # the stage did not change


def test_a_stage_change_puts_old_status_id_in_the_update_and_the_status_hook_can_be_off(
    api, control, receiver
):
    lead_id = lead_id_of(api, {"name": "Подписка"})
    subscribe(api, receiver, "update_lead", "status_lead")
    control("settings", {"echo": False, "status_hooks": False})

    control(f"leads/{lead_id}/manager", {"status_id": 60000003})

    data = decoded(receiver.received[0])
    assert (data["leads[update][0][status_id]"], data["leads[update][0][old_status_id]"]) == (
        "60000003",
        "60000002",
    )
    assert "leads[update][0][old_pipeline_id]" not in data  # the pipeline did not change
    assert not [key for key in data if key.startswith("leads[status]")]
    control("settings", {"status_hooks": True})
    control(f"leads/{lead_id}/manager", {"status_id": 142})
    assert decoded(receiver.received[1])["leads[status][0][old_status_id]"] == "60000003"


def test_a_deleted_lead_is_restored_with_its_id_and_values(api, control, lead_fields, receiver, standin):
    date_id = lead_fields["FA_DATE"]["id"]
    item = {"price": 2500, "custom_fields_values": [{"field_id": date_id, "values": [{"value": 1764277200}]}]}
    created = complex_lead(api, "anna@example.ru", **item)
    lead_id = created["id"]
    before = api.get(api.url(f"/api/v4/leads/{lead_id}"), params={"with": "contacts"}, timeout=5).json()
    subscribe(api, receiver, "delete_lead", "restore_lead")
    control(f"leads/{lead_id}/delete")
    assert api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).status_code == HTTPStatus.NO_CONTENT
    assert f"/_standin/leads/{lead_id}/restore" in requests.get(f"{standin.base_url}/", timeout=5).text

    result = control(f"manager/leads/{lead_id}/restore")

    after = api.get(api.url(f"/api/v4/leads/{lead_id}"), params={"with": "contacts"}, timeout=5)
    assert after.status_code == HTTPStatus.OK
    lead = after.json()
    assert (lead["id"], lead["price"], lead["custom_fields_values"]) == (
        lead_id,
        2500,
        before["custom_fields_values"],
    )
    assert [c["id"] for c in lead["_embedded"]["contacts"]] == [created["contact_id"]]
    data = decoded(receiver.received[1])
    assert data["leads[restore][0][id]"] == str(lead_id)
    assert data["leads[restore][0][price]"] == "2500"
    assert data["leads[restore][0][last_modified]"] == str(result["lead"]["updated_at"])
    assert data["leads[restore][0][custom_fields][0][values][0]"] == "1764277200"
    with pytest.raises(AssertionError):
        control(f"leads/{lead_id}/restore")  # no longer in the trash


def test_a_manager_contact_edit_sends_update_contact_and_the_api_shows_it(api, control, receiver):
    created = complex_lead(api, "anna@example.ru")
    contact_id = created["contact_id"]
    subscribe(api, receiver, "update_contact")
    fields = {f["code"]: f for f in control("fields", method="GET")["contacts"]}
    work_phone = next(e["id"] for e in fields["PHONE"]["enums"] if e["value"] == "WORK")
    work_email = next(e["id"] for e in fields["EMAIL"]["enums"] if e["value"] == "WORK")

    result = control(
        f"manager/contacts/{contact_id}",
        {"name": "Анна Петрова", "phone": "+79135550102", "email": "anna.p@example.ru"},
    )

    assert result["deliveries"][0]["status"] == HTTPStatus.OK
    data = decoded(receiver.received[0])
    item = "contacts[update][0]"
    assert (data[f"{item}[id]"], data[f"{item}[name]"]) == (str(contact_id), "Анна Петрова")
    assert (
        data[f"{item}[last_modified]"] == data[f"{item}[updated_at]"] == str(result["contact"]["updated_at"])
    )
    assert data[f"{item}[account_id]"] == "31000001"
    by_code = {data[f"{item}[custom_fields][{i}][code]"]: i for i in range(2)}
    phone, email = (f"{item}[custom_fields][{by_code[code]}]" for code in ("PHONE", "EMAIL"))
    assert (data[f"{phone}[values][0][value]"], data[f"{phone}[values][0][enum]"]) == (
        "+79135550102",
        str(work_phone),
    )
    assert (data[f"{email}[values][0][value]"], data[f"{email}[values][0][enum]"]) == (
        "anna.p@example.ru",
        str(work_email),
    )
    assert data[f"{item}[linked_leads_id][{created['id']}][ID]"] == str(created["id"])
    contact = api.get(api.url(f"/api/v4/contacts/{contact_id}"), timeout=5).json()
    values = {f["field_code"]: f["values"][0]["value"] for f in contact["custom_fields_values"]}
    assert (contact["name"], values) == (
        "Анна Петрова",
        {"EMAIL": "anna.p@example.ru", "PHONE": "+79135550102"},
    )
    found = api.get(api.url("/api/v4/contacts"), params={"query": "+79135550102"}, timeout=5).json()
    assert [c["id"] for c in found["_embedded"]["contacts"]] == [contact_id]
    old = api.get(api.url("/api/v4/contacts"), params={"query": "anna@example.ru"}, timeout=5)
    assert old.status_code == HTTPStatus.NO_CONTENT


def test_contact_and_restore_events_can_be_subscribed_and_a_new_contact_fires_add_contact(api, receiver):
    subscribe(api, receiver, "restore_lead", "update_contact", "add_contact")

    created = api.post(api.url("/api/v4/contacts"), json=[{"name": "Борис"}], timeout=5).json()

    assert receiver.arrived.wait(3)
    data = decoded(receiver.received[0])
    contact_id = created["_embedded"]["contacts"][0]["id"]
    assert (data["contacts[add][0][id]"], data["contacts[add][0][name]"]) == (str(contact_id), "Борис")
    listed = api.get(api.url("/api/v4/webhooks"), timeout=5).json()["_embedded"]["webhooks"]
    assert listed[0]["settings"] == ["restore_lead", "update_contact", "add_contact"]


def test_the_account_answers_its_facts_and_its_time_zone_in_datetime_settings(api, control):
    plain = api.get(api.url("/api/v4/account"), timeout=5)
    control("settings", {"timezone": "Asia/Novosibirsk"})
    dated = api.get(api.url("/api/v4/account"), params={"with": "datetime_settings"}, timeout=5).json()

    assert plain.headers["Content-Type"] == "application/hal+json"
    account = plain.json()
    assert (account["id"], account["subdomain"], account["currency"], account["country"]) == (
        31000001,
        "flowers",
        "RUB",
        "RU",
    )
    assert "timezone" not in account and "_embedded" not in account  # API v4 keeps it under with=
    settings = dated["_embedded"]["datetime_settings"]
    assert (settings["timezone"], settings["timezone_offset"]) == ("Asia/Novosibirsk", "+07:00")


def test_a_manager_date_is_midnight_in_the_account_time_zone_and_the_page_shows_that_day(
    api, control, lead_fields, standin
):
    novosibirsk = zoneinfo.ZoneInfo("Asia/Novosibirsk")
    lead_id = lead_id_of(api, {"name": "Подписка"})
    control("settings", {"timezone": "Asia/Novosibirsk", "echo": False})

    result = control(
        f"leads/{lead_id}/manager",
        {"custom_fields": [{"field_id": lead_fields["FA_DATE"]["id"], "value": "2025-11-28"}]},
    )

    midnight = datetime.datetime(2025, 11, 28, tzinfo=novosibirsk)
    assert result["lead"]["custom_fields_values"][0]["values"][0]["value"] == int(midnight.timestamp())
    page = requests.get(f"{standin.base_url}/", timeout=5).text
    assert "28.11.2025" in page and "timezone=Asia/Novosibirsk" in page


def test_a_renamed_subdomain_reaches_webhooks_and_the_subdomain_endpoint(standin, api, control, receiver):
    url = f"{standin.base_url}/oauth2/access_token"
    tokens = requests.post(url, json=token_body(code=control("codes")["code"]), timeout=5).json()
    lead_id = lead_id_of(api, {"name": "Подписка"})
    subscribe(api, receiver, "update_lead")
    control("settings", {"subdomain": "roses", "echo": False})
    subdomain_url = f"{standin.base_url}/oauth2/account/current/subdomain"

    control(f"leads/{lead_id}/manager", {"price": 100})
    current = requests.get(subdomain_url, headers={"X-Refresh-Token": tokens["refresh_token"]}, timeout=5)
    missing = requests.get(subdomain_url, timeout=5)
    refresh = token_body(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    requests.post(url, json=refresh, timeout=5)
    used = requests.get(subdomain_url, headers={"X-Refresh-Token": tokens["refresh_token"]}, timeout=5)

    data = decoded(receiver.received[0])
    assert (data["account[subdomain]"], data["account[id]"]) == ("roses", "31000001")
    assert current.status_code == HTTPStatus.OK
    assert current.json() == {
        "id": 31000001,
        "subdomain": "roses",
        "domain": "roses.amocrm.ru",
        "top_level_domain": "ru",
    }
    assert (missing.status_code, used.status_code) == (HTTPStatus.UNAUTHORIZED, HTTPStatus.UNAUTHORIZED)
    assert api.get(api.url("/api/v4/account"), timeout=5).json()["subdomain"] == "roses"


def test_without_duplicate_control_a_known_email_gets_a_new_lead(api):
    first = complex_lead(api, "anna@example.ru")

    again = complex_lead(api, "anna@example.ru", request_id="again")

    assert again["id"] != first["id"] and again["contact_id"] != first["contact_id"]
    assert (again["merged"], again["request_id"]) == (False, ["again"])


def test_duplicate_control_merges_a_known_email_into_its_lead(api, control):
    first = complex_lead(api, "anna@example.ru")
    control("settings", {"duplicate_control": True})

    merged = complex_lead(api, "Anna@Example.ru", request_id="dup")
    contact = {"custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "boris@example.ru"}]}]}
    pair = [
        {"name": "a", "request_id": "b-1", "_embedded": {"contacts": [contact]}},
        {"name": "b", "request_id": "b-2", "_embedded": {"contacts": [contact]}},
    ]
    batch = api.post(api.url("/api/v4/leads/complex"), json=pair, timeout=5).json()

    assert merged == {
        "id": first["id"],
        "contact_id": first["contact_id"],
        "company_id": None,
        "merged": True,
        "request_id": ["dup"],
    }
    assert len(batch) == 1 and batch[0]["request_id"] == ["b-1", "b-2"]
    listed = api.get(api.url("/api/v4/leads"), timeout=5).json()["_embedded"]["leads"]
    assert [lead["id"] for lead in listed] == [first["id"], batch[0]["id"]]


def test_errors_by_id_keys_a_failed_patch_by_the_lead_id(api, control):
    good, bad = lead_id_of(api, {"name": "a"}), lead_id_of(api, {"name": "b"})
    control("settings", {"errors_by_id": True})

    response = api.patch(
        api.url("/api/v4/leads"), json=[{"id": good, "price": 1}, {"id": bad, "price": "1"}], timeout=5
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["title"], body["status"], body["detail"]) == ("Bad Request", 400, "Invalid request body")
    assert list(body["errors"]) == [str(bad)] and "validation-errors" not in body


def test_a_rejected_lead_fails_every_patch_that_includes_it_and_only_it(api, control):
    other, rejected = lead_id_of(api, {"name": "a"}), lead_id_of(api, {"name": "b"})
    control(f"leads/{rejected}/reject", {"message": "Loss reason can be specified only for lost lead"})
    both = [{"id": other, "price": 1}, {"id": rejected, "price": 2}]

    together = api.patch(api.url("/api/v4/leads"), json=both, timeout=5)
    alone = api.patch(api.url(f"/api/v4/leads/{rejected}"), json={"price": 2}, timeout=5)
    control("settings", {"errors_by_id": True})
    keyed = api.patch(api.url("/api/v4/leads"), json=both, timeout=5)
    fine = api.patch(api.url("/api/v4/leads"), json=both[:1], timeout=5)
    control(f"leads/{rejected}/reject", method="DELETE")
    lifted = api.patch(api.url("/api/v4/leads"), json=both, timeout=5)

    assert errors_of(together) == [("1", "id")]
    assert alone.status_code == HTTPStatus.BAD_REQUEST
    assert keyed.json()["errors"] == {str(rejected): "Loss reason can be specified only for lost lead"}
    assert (fine.status_code, lifted.status_code) == (HTTPStatus.OK, HTTPStatus.OK)


def test_a_blocked_account_answers_every_call_with_nginx_html_and_counts_them(standin, api, control):
    control("requests", method="DELETE")
    control("settings", {"blocked": "403"})

    answers = [
        api.get(api.url("/api/v4/leads/pipelines"), timeout=5),
        api.patch(api.url("/api/v4/leads"), json=[{"id": 1}], timeout=5),
        requests.post(f"{standin.base_url}/oauth2/access_token", json=token_body(code="x"), timeout=5),
    ]
    control("settings", {"blocked": "402"})
    lapsed = api.get(api.url("/api/v4/leads/pipelines"), timeout=5)
    control("settings", {"blocked": None})

    assert [a.status_code for a in answers] == [HTTPStatus.FORBIDDEN] * 3
    assert {a.headers["Content-Type"] for a in answers} == {"text/html"}
    assert "<center>nginx</center>" in answers[0].text
    assert (lapsed.status_code, lapsed.headers["Content-Type"]) == (402, "application/problem+json")
    assert lapsed.json()["status"] == 402
    log = control("requests", method="GET")["requests"]
    assert [(r["status"], r["blocked"]) for r in log] == [(403, True)] * 3 + [(402, True)]
    assert control("state", method="GET")["counts"]["blocked_calls"] == 1  # the 402 block's calls
    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.OK


REAL_BODIES = Path(__file__).parents[1] / "amocrm" / "fixtures" / "real"


def body_shape(body: str, prefix: str = "") -> set[str]:
    """The keys of a form body with list positions and lead ids made alike, under `prefix` (and account)."""
    keys = set()
    for key, _ in parse_qsl(body, keep_blank_values=True):
        key = re.sub(r"\[(custom_fields|linked_leads_id)\]\[\d+\]", r"[\1][*]", key)
        if key.startswith(("account", prefix)):
            keys.add(key)
    return keys


@pytest.mark.skipif(not REAL_BODIES.is_dir(), reason="no real-shaped bodies in tests/amocrm/fixtures/real")
def test_webhook_bodies_have_the_shape_of_real_ones(api, control, receiver):
    specs = [
        {"name": "Сумма", "type": "numeric"},
        {"name": "Категория", "type": "select", "enums": [{"value": "Люкс", "sort": 1}]},
        {"name": "Адрес", "type": "text"},
        {"name": "Дата", "type": "date"},
    ]
    fields = api.post(api.url("/api/v4/leads/custom_fields"), json=specs, timeout=5).json()
    sum_, category, address, date = fields["_embedded"]["custom_fields"]
    values = [
        {"field_id": sum_["id"], "values": [{"value": 2500}]},
        {"field_id": category["id"], "values": [{"enum_id": category["enums"][0]["id"]}]},
        {"field_id": address["id"], "values": [{"value": "Москва"}]},
        {"field_id": date["id"], "values": [{"value": 1764277200}]},
    ]
    created = complex_lead(api, "anna@example.ru", price=2500, custom_fields_values=values)
    lead_id, contact_id = created["id"], created["contact_id"]
    control(f"contacts/{contact_id}/manager", {"phone": "+79135550102"})  # before the hooks: no event
    settings = ("update_lead", "status_lead", "delete_lead", "restore_lead", "update_contact")
    subscribe(api, receiver, *settings)
    control("settings", {"echo": False})

    control(f"leads/{lead_id}/manager", {"price": 2600})
    control(f"leads/{lead_id}/manager", {"status_id": 60000003})
    control(f"contacts/{contact_id}/manager", {"email": "anna.p@example.ru"})
    control(f"leads/{lead_id}/delete")
    control(f"leads/{lead_id}/restore")

    edit, move, contact, delete, restore = (w["body"] for w in receiver.received)
    pairs = [
        ("lead_update_bare_date.txt", edit, "leads[update]"),
        ("lead_update_stage_change.txt", move, "leads[update]"),
        ("lead_status.txt", move, "leads[status]"),
        ("contact_update_phone.txt", contact, "contacts[update]"),
        ("lead_delete.txt", delete, "leads[delete]"),
    ]
    for name, ours, prefix in pairs:
        assert body_shape(ours, prefix) == body_shape((REAL_BODIES / name).read_text(), prefix), name
    # The real restore body is of a lead without custom fields; ours has them, like an update item.
    real_restore = body_shape((REAL_BODIES / "lead_restore.txt").read_text(), "leads[restore]")
    assert real_restore <= body_shape(restore, "leads[restore]")
    assert {k.replace("[update]", "[restore]") for k in body_shape(edit, "leads[update]")} == body_shape(
        restore, "leads[restore]"
    )
