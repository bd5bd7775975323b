"""The stand-in's lead notes: made in a batch or on one lead, validated item by item, listed with
amoCRM's filters, and reached through the same plumbing (auth, failures, blocked, the log) as the rest."""

from http import HTTPStatus

import pytest
import requests

from tests.tools.helpers import errors_of, lead_id_of
from tools.amocrm_standin.constants import ACCOUNT_ID, API_USER_ID


def common(text: str, **item) -> dict:
    return {"note_type": "common", "params": {"text": text}, **item}


def post_notes(api, items: list, lead_id: int | None = None) -> requests.Response:
    path = "/api/v4/leads/notes" if lead_id is None else f"/api/v4/leads/{lead_id}/notes"
    return api.post(api.url(path), json=items, timeout=5)


def notes_of(api, path: str = "/api/v4/leads/notes", **params) -> list[dict]:
    response = api.get(api.url(path), params=params, timeout=5)
    if response.status_code == HTTPStatus.NO_CONTENT:
        return []
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()["_embedded"]["notes"]


@pytest.fixture
def clock(monkeypatch):
    """The notes' clock, set by the test: `clock[0] = 1700000000`."""
    now = [1700000000]
    monkeypatch.setattr("tools.amocrm_standin.notes._now", lambda: now[0])
    return now


def test_notes_made_in_a_batch_answer_ids_and_request_ids_in_item_order(standin, api):
    first, second = lead_id_of(api, {"name": "a"}), lead_id_of(api, {"name": "b"})
    service = {"service": "Flower Account", "text": "Подписка оформлена"}
    items = [
        common("Позвонить клиенту", entity_id=second, request_id="call"),
        {"entity_id": first, "note_type": "service_message", "params": service},
    ]

    response = post_notes(api, items)

    assert response.status_code == HTTPStatus.OK, response.text
    body = response.json()
    assert body["_links"]["self"]["href"] == f"{standin.base_url}/api/v4/leads/notes"
    answered = body["_embedded"]["notes"]
    assert [(n["entity_id"], n["request_id"]) for n in answered] == [(second, "call"), (first, "1")]
    assert answered[1]["id"] == answered[0]["id"] + 1
    href = f"{standin.base_url}/api/v4/leads/{second}/notes/{answered[0]['id']}"
    assert answered[0]["_links"]["self"]["href"] == href
    listed = notes_of(api, f"/api/v4/leads/{first}/notes")
    assert len(listed) == 1
    note = listed[0]
    assert set(note) == {
        "id",
        "entity_id",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "responsible_user_id",
        "group_id",
        "note_type",
        "params",
        "account_id",
        "_links",
    }
    assert (note["id"], note["note_type"], note["params"]) == (answered[1]["id"], "service_message", service)
    assert (note["created_by"], note["updated_by"], note["responsible_user_id"]) == (API_USER_ID,) * 3
    assert (note["group_id"], note["account_id"]) == (0, ACCOUNT_ID)
    got = api.get(answered[0]["_links"]["self"]["href"], timeout=5)
    assert (got.status_code, got.json()["params"]) == (HTTPStatus.OK, {"text": "Позвонить клиенту"})


def test_notes_are_made_one_by_one_on_the_lead_in_the_path(api):
    lead_id = lead_id_of(api, {"name": "a"})

    first = post_notes(api, [common("Первое")], lead_id)
    second = post_notes(api, [common("Второе", entity_id=lead_id, request_id="2nd")], lead_id)
    elsewhere = post_notes(api, [common("Чужое", entity_id=lead_id + 1)], lead_id)

    assert first.status_code == second.status_code == HTTPStatus.OK
    assert first.json()["_embedded"]["notes"][0]["entity_id"] == lead_id
    assert second.json()["_embedded"]["notes"][0]["request_id"] == "2nd"
    assert errors_of(elsewhere) == [("0", "entity_id")]
    texts = [n["params"]["text"] for n in notes_of(api, f"/api/v4/leads/{lead_id}/notes")]
    assert texts == ["Первое", "Второе"]


def test_bad_notes_are_named_by_request_id_or_index_and_none_is_made(api, control):
    lead_id = lead_id_of(api, {"name": "a"})
    items = [
        common("fine", entity_id=lead_id),
        common("no lead", entity_id=lead_id + 100, request_id="ghost"),
        common("   ", entity_id=lead_id),
        {"entity_id": lead_id, "note_type": "call_in", "params": {"text": "x"}},
        common("x" * 65536, entity_id=lead_id),
        {"entity_id": lead_id, "note_type": "service_message", "params": {"text": "no service"}},
        common("no entity_id"),
        {"entity_id": lead_id, "note_type": "common", "params": {"text": 5}},
    ]

    response = post_notes(api, items)

    assert errors_of(response) == [
        ("ghost", "entity_id"),
        ("2", "params.text"),
        ("3", "note_type"),
        ("4", "params.text"),
        ("5", "params.service"),
        ("6", "entity_id"),
        ("7", "params.text"),
    ]
    assert control("state", method="GET")["counts"]["notes"] == 0
    assert post_notes(api, [common("x" * 65535, entity_id=lead_id)]).status_code == HTTPStatus.OK


def test_more_than_50_notes_in_one_request_are_rejected(api):
    lead_id = lead_id_of(api, {"name": "a"})

    too_many = post_notes(api, [common(f"n{i}") for i in range(51)], lead_id)
    fifty = post_notes(api, [common(f"n{i}") for i in range(50)], lead_id)

    assert too_many.status_code == HTTPStatus.BAD_REQUEST
    assert too_many.json()["validation-errors"][0]["errors"][0]["code"] == "TooMany"
    assert fifty.status_code == HTTPStatus.OK


def test_notes_are_listed_by_lead_type_and_time_and_204_when_there_are_none(api, clock):
    first, second = lead_id_of(api, {"name": "a"}), lead_id_of(api, {"name": "b"})
    made = {}
    for at, lead_id, note_type in [
        (100, first, "common"),
        (200, first, "service_message"),
        (300, second, "common"),
        (400, first, "common"),
    ]:
        clock[0] = at
        params = {"service": "FA", "text": str(at)} if note_type == "service_message" else {"text": str(at)}
        item = {"note_type": note_type, "params": params}
        made[at] = post_notes(api, [item], lead_id).json()["_embedded"]["notes"][0]["id"]

    def times(path: str = "/api/v4/leads/notes", **params) -> list[int]:
        return [n["updated_at"] for n in notes_of(api, path, **params)]

    assert times() == [100, 200, 300, 400]
    assert times(f"/api/v4/leads/{first}/notes") == [100, 200, 400]
    assert times(**{"filter[entity_id][]": [second]}) == [300]
    assert times(**{"filter[note_type]": "service_message"}) == [200]
    assert times(**{"filter[note_type][]": ["common", "service_message"]}) == [100, 200, 300, 400]
    assert times(**{"filter[updated_at][from]": 200, "filter[updated_at][to]": 300}) == [200, 300]
    assert times(f"/api/v4/leads/{first}/notes", **{"order[updated_at]": "desc"}) == [400, 200, 100]
    assert [n["id"] for n in notes_of(api, **{"filter[id][]": [made[300]]})] == [made[300]]
    paged = api.get(api.url("/api/v4/leads/notes"), params={"limit": 3, "page": 2}, timeout=5).json()
    assert [n["updated_at"] for n in paged["_embedded"]["notes"]] == [400]
    assert paged["_total_items"] == 4
    nothing = [
        api.get(api.url(f"/api/v4/leads/{second}/notes"), params={"filter[note_type]": "call_in"}, timeout=5),
        api.get(api.url("/api/v4/leads/notes"), params={"filter[updated_at][from]": 401}, timeout=5),
        api.get(api.url(f"/api/v4/leads/{lead_id_of(api, {'name': 'c'})}/notes"), timeout=5),
        api.get(api.url(f"/api/v4/leads/{second}/notes/{made[100]}"), timeout=5),
    ]
    assert [(a.status_code, a.content) for a in nothing] == [(HTTPStatus.NO_CONTENT, b"")] * 4


def test_a_deleted_lead_takes_no_notes_and_its_notes_come_back_with_it(api, control):
    lead_id = lead_id_of(api, {"name": "a"})
    post_notes(api, [common("до удаления")], lead_id)
    control(f"leads/{lead_id}/delete")

    refused = [
        post_notes(api, [common("после", request_id="late")], lead_id),
        post_notes(api, [common("после", entity_id=lead_id)]),
    ]
    hidden = api.get(api.url(f"/api/v4/leads/{lead_id}/notes"), timeout=5)
    kept = control(f"leads/{lead_id}/notes", method="GET")["notes"]
    control(f"leads/{lead_id}/restore")

    assert [errors_of(r) for r in refused] == [[("late", "entity_id")], [("0", "entity_id")]]
    assert hidden.status_code == HTTPStatus.NO_CONTENT
    assert [n["params"]["text"] for n in kept] == ["до удаления"]
    assert [n["params"]["text"] for n in notes_of(api, f"/api/v4/leads/{lead_id}/notes")] == ["до удаления"]


def test_the_control_api_lists_a_lead_notes_oldest_first_counts_them_and_reset_clears_them(
    standin, api, control
):
    lead_id = lead_id_of(api, {"name": "a"})
    post_notes(api, [common("раз"), common("два")], lead_id)
    post_notes(api, [common("три")], lead_id)

    listed = control(f"leads/{lead_id}/notes", method="GET")["notes"]
    through_api = notes_of(api, f"/api/v4/leads/{lead_id}/notes")
    counted = control("state", method="GET")["counts"]["notes"]
    unknown = requests.get(f"{standin.base_url}/_standin/leads/{lead_id + 1}/notes", timeout=5)
    control("reset")

    assert [n["params"]["text"] for n in listed] == ["раз", "два", "три"]
    assert listed == through_api
    assert counted == 3
    assert unknown.status_code == HTTPStatus.BAD_REQUEST
    assert control("state", method="GET")["counts"]["notes"] == 0


def test_the_page_shows_a_lead_notes_escaped_newest_last(standin, api):
    lead_id = lead_id_of(api, {"name": "a"})
    post_notes(api, [common("<b>старое</b>")], lead_id)
    service = {"service": "Flower Account", "text": "новое & последнее"}
    post_notes(api, [{"note_type": "service_message", "params": service}], lead_id)

    page = requests.get(f"{standin.base_url}/", timeout=5).text

    assert "<b>старое</b>" not in page
    old = page.index("&lt;b&gt;старое&lt;/b&gt;")
    new = page.index("Flower Account: новое &amp; последнее")
    assert old < new


def test_note_routes_need_a_token_and_take_injected_failures_and_are_logged(standin, api, control):
    lead_id = lead_id_of(api, {"name": "a"})
    control("requests", method="DELETE")

    anonymous = requests.get(f"{standin.base_url}/api/v4/leads/notes", timeout=5)
    control("failures", {"status": 503, "count": 1, "path": "/api/v4/leads/notes"})
    failed = post_notes(api, [common("x", entity_id=lead_id)])
    made = post_notes(api, [common("x", entity_id=lead_id)])

    assert anonymous.status_code == HTTPStatus.UNAUTHORIZED
    assert (failed.status_code, made.status_code) == (HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.OK)
    log = control("requests", method="GET")["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/api/v4/leads/notes", 401),
        ("POST", "/api/v4/leads/notes", 503),
        ("POST", "/api/v4/leads/notes", 200),
    ]


def test_a_blocked_account_refuses_notes_too(api, control):
    lead_id = lead_id_of(api, {"name": "a"})
    control("settings", {"blocked": "403"})

    answers = [
        post_notes(api, [common("x")], lead_id),
        post_notes(api, [common("x", entity_id=lead_id)]),
        api.get(api.url(f"/api/v4/leads/{lead_id}/notes"), timeout=5),
    ]
    control("settings", {"blocked": None})

    assert [(a.status_code, a.headers["Content-Type"]) for a in answers] == [(403, "text/html")] * 3
    assert control("state", method="GET")["counts"]["notes"] == 0
