"""The amoCRM stand-in on its own: it must be as strict as amoCRM, so the site's tests can trust it."""

import threading
import time
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
import requests

from tools.amocrm_standin import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI, StandIn


@pytest.fixture
def standin():
    # A high limit keeps tests from tripping the 429 they do not test; the rate-limit test lowers it.
    server = StandIn(port=0, rate_limit=1000, webhook_timeout=2).start()
    yield server
    server.stop()


@pytest.fixture
def control(standin):
    def call(path: str, body: dict | None = None, method: str = "POST") -> dict:
        response = requests.request(method, f"{standin.base_url}/_standin/{path}", json=body or {}, timeout=5)
        assert response.status_code == HTTPStatus.OK, response.text
        return response.json()

    return call


@pytest.fixture
def api(standin, control):
    """A session holding a valid long-lived token; `api.url(path)` is the stand-in's address."""
    session = requests.Session()
    token = control("tokens/long-lived")["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    session.url = lambda path: f"{standin.base_url}{path}"
    return session


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


def errors_of(response: requests.Response) -> list[tuple[str, str]]:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.headers["Content-Type"] == "application/problem+json"
    return [
        (group["request_id"], error["path"])
        for group in response.json()["validation-errors"]
        for error in group["errors"]
    ]


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


def test_more_than_7_requests_in_a_second_get_429_with_an_empty_body(api, control):
    control("settings", {"rate_limit": 7})

    answers = [api.get(api.url("/api/v4/leads/pipelines"), timeout=5) for _ in range(8)]

    assert [a.status_code for a in answers[:7]] == [HTTPStatus.OK] * 7
    assert (answers[7].status_code, answers[7].content) == (HTTPStatus.TOO_MANY_REQUESTS, b"")
    time.sleep(1.05)
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
