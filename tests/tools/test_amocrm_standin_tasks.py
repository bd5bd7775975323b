"""The stand-in's tasks (POST/GET /api/v4/tasks): made all or none, validated as amoCRM does (text,
complete_till and the entity required), answered with ids and request ids, listed by entity."""

from http import HTTPStatus

from tests.tools.helpers import errors_of, lead_id_of
from tools.amocrm_standin.constants import API_USER_ID, MANAGER_USER_ID

DUE = 1893456000


def task(lead_id: int, text: str = "Перезвонить клиенту", **item) -> dict:
    return {"text": text, "complete_till": DUE, "entity_id": lead_id, "entity_type": "leads", **item}


def test_tasks_answer_ids_and_request_ids_in_item_order_and_are_listed_on_their_lead(api, control):
    lead_id = lead_id_of(api, {"name": "a"})

    response = api.post(
        api.url("/api/v4/tasks"),
        json=[
            task(lead_id, request_id="7", responsible_user_id=MANAGER_USER_ID, task_type_id=1),
            task(lead_id),
        ],
        timeout=5,
    )

    assert response.status_code == HTTPStatus.OK, response.text
    answered = response.json()["_embedded"]["tasks"]
    assert [t["request_id"] for t in answered] == ["7", "1"]
    assert answered[1]["id"] == answered[0]["id"] + 1
    listed = api.get(
        api.url("/api/v4/tasks"),
        params={"filter[entity_type]": "leads", "filter[entity_id][]": lead_id},
        timeout=5,
    ).json()["_embedded"]["tasks"]
    assert [(t["text"], t["responsible_user_id"], t["complete_till"]) for t in listed] == [
        ("Перезвонить клиенту", MANAGER_USER_ID, DUE),
        ("Перезвонить клиенту", API_USER_ID, DUE),  # no responsible given: the API's user
    ]
    assert [t["entity_id"] for t in control(f"leads/{lead_id}/tasks", method="GET")["tasks"]] == [lead_id] * 2
    assert control("state", method="GET")["counts"]["tasks"] == 2


def test_tasks_missing_what_amocrm_requires_are_refused_all_together(api, control):
    lead_id = lead_id_of(api, {"name": "a"})
    items = [
        task(lead_id, request_id="ok"),
        {"complete_till": DUE, "entity_id": lead_id, "entity_type": "leads"},
        task(lead_id, text="   "),
        {"text": "без срока", "entity_id": lead_id, "entity_type": "leads"},
        task(999999),
        {"text": "x", "complete_till": DUE, "entity_id": lead_id},
        task(lead_id, responsible_user_id=1),
        task(lead_id, task_type_id=99),
        task(lead_id, colour="red"),
    ]

    response = api.post(api.url("/api/v4/tasks"), json=items, timeout=5)

    assert errors_of(response) == [
        ("1", "text"),
        ("2", "text"),
        ("3", "complete_till"),
        ("4", "entity_id"),
        ("5", "entity_type"),
        ("6", "responsible_user_id"),
        ("7", "task_type_id"),
        ("8", "colour"),
    ]
    assert control("state", method="GET")["counts"]["tasks"] == 0


def test_a_lead_without_tasks_lists_none(api):
    lead_id = lead_id_of(api, {"name": "a"})

    response = api.get(api.url("/api/v4/tasks"), params={"filter[entity_id][]": lead_id}, timeout=5)

    assert response.status_code == HTTPStatus.NO_CONTENT
