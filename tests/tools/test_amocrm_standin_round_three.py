"""The stand-in does what amoCRM does for issue 24's items 7, 11 and 12: a PATCH of a deleted lead is
refused, a cleared field is left out of hooks and answers, contacts are patched, matches are paged."""

from http import HTTPStatus

from tests.tools.helpers import errors_of, lead_id_of
from tests.tools.test_amocrm_standin import complex_lead, decoded, lead_fields, receiver, subscribe

__all__ = ["lead_fields", "receiver"]  # fixtures shared with the stand-in's main tests


def test_a_patch_of_a_deleted_lead_is_refused_not_found_at_its_id(api, control):
    lead_id = lead_id_of(api, {"name": "Подписка"})
    control(f"leads/{lead_id}/delete")

    response = api.patch(api.url("/api/v4/leads"), json=[{"id": lead_id, "price": 100}], timeout=5)

    assert errors_of(response) == [("0", "id")]
    assert response.json()["validation-errors"][0]["errors"][0]["code"] == "NotFound"


def test_a_field_a_manager_clears_is_left_out_of_the_hook_and_of_the_api(api, control, lead_fields, receiver):
    address_id, sum_id = lead_fields["FA_ADDRESS"]["id"], lead_fields["FA_SUM"]["id"]
    values = [
        {"field_id": address_id, "values": [{"value": "Москва"}]},
        {"field_id": sum_id, "values": [{"value": "5000.00"}]},
    ]
    lead_id = lead_id_of(api, {"name": "Подписка", "custom_fields_values": values})
    subscribe(api, receiver, "update_lead")

    control(f"leads/{lead_id}/manager", {"custom_fields": [{"field_id": address_id, "value": ""}]})

    data = decoded(receiver.received[0])
    sent = {
        v for k, v in data.items() if k.startswith("leads[update][0][custom_fields]") and k.endswith("[id]")
    }
    assert sent == {str(sum_id)}  # a full item: the sum it did not change, never the cleared address
    lead = api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).json()
    assert [f["field_id"] for f in lead["custom_fields_values"]] == [sum_id]


def test_a_contact_patch_replaces_its_phones_and_sends_update_contact(api, receiver):
    contact_id = complex_lead(api, "anna@example.ru")["contact_id"]
    subscribe(api, receiver, "update_contact")
    phones = [{"value": "+79005556677", "enum_code": "MOB"}, {"value": "+74951234567", "enum_code": "WORK"}]

    response = api.patch(
        api.url("/api/v4/contacts"),
        json=[{"id": contact_id, "custom_fields_values": [{"field_code": "PHONE", "values": phones}]}],
        timeout=5,
    )

    assert response.status_code == HTTPStatus.OK
    assert [c["id"] for c in response.json()["_embedded"]["contacts"]] == [contact_id]
    contact = api.get(api.url(f"/api/v4/contacts/{contact_id}"), timeout=5).json()
    by_code = {f["field_code"]: [v["value"] for v in f["values"]] for f in contact["custom_fields_values"]}
    assert by_code == {"EMAIL": ["anna@example.ru"], "PHONE": ["+79005556677", "+74951234567"]}
    assert receiver.arrived.wait(3)  # an API change's hook goes out in the background
    data = decoded(receiver.received[0])
    assert data["contacts[update][0][id]"] == str(contact_id)


def test_a_contact_patch_of_an_unknown_contact_is_refused_not_found_at_its_id(api):
    response = api.patch(api.url("/api/v4/contacts"), json=[{"id": 99999, "name": "x"}], timeout=5)

    assert errors_of(response) == [("0", "id")]


def test_the_contact_search_pages_its_matches_with_a_next_link(api):
    for i in range(3):
        complex_lead(api, f"anna{i}@example.ru")

    first = api.get(api.url("/api/v4/contacts"), params={"query": "example.ru", "limit": 2}, timeout=5).json()
    second = api.get(
        api.url("/api/v4/contacts"), params={"query": "example.ru", "limit": 2, "page": 2}, timeout=5
    ).json()

    assert len(first["_embedded"]["contacts"]) == 2 and "next" in first["_links"]
    assert len(second["_embedded"]["contacts"]) == 1 and "next" not in second["_links"]


def test_a_quiet_delete_loses_its_hook(api, control, receiver):
    lead_id = lead_id_of(api, {"name": "Подписка"})
    subscribe(api, receiver, "delete_lead")

    result = control(f"leads/{lead_id}/delete", {"quiet": True})

    assert result["deliveries"] == [] and receiver.received == []
    assert api.get(api.url(f"/api/v4/leads/{lead_id}"), timeout=5).status_code == HTTPStatus.NO_CONTENT


def test_the_events_list_names_a_deleted_and_a_restored_lead(api, control):
    lead_id = lead_id_of(api, {"name": "Подписка"})
    control(f"leads/{lead_id}/delete", {"quiet": True})
    control(f"leads/{lead_id}/restore")
    params = {
        "filter[type]": "lead_deleted,lead_restored",
        "filter[entity]": "lead",
        "filter[created_at][from]": 0,
    }

    events = api.get(api.url("/api/v4/events"), params=params, timeout=5).json()["_embedded"]["events"]
    none = api.get(api.url("/api/v4/events"), params={**params, "filter[type]": "lead_added"}, timeout=5)

    assert [(e["type"], e["entity_id"], e["entity_type"]) for e in events] == [
        ("lead_deleted", lead_id, "lead"),
        ("lead_restored", lead_id, "lead"),
    ]
    assert none.status_code == HTTPStatus.NO_CONTENT
