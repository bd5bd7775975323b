"""The stand-in edits contacts as amoCRM does: PATCH /api/v4/contacts with an array of {id, …}."""

from http import HTTPStatus

import pytest

from amocrm.client import AmoCRMClient, StaticTokenSource
from amocrm.exceptions import AmoCRMValidationError
from amocrm.ratelimit import NoRateLimiter
from amocrm.services import erasure
from tests.tools.helpers import errors_of


def new_contact(api) -> int:
    contact = {
        "first_name": "Анна",
        "last_name": "Петрова",
        "custom_fields_values": [
            {"field_code": "EMAIL", "values": [{"value": "anna@example.ru", "enum_code": "WORK"}]},
            {"field_code": "PHONE", "values": [{"value": "+79001234567", "enum_code": "WORK"}]},
        ],
    }
    response = api.post(api.url("/api/v4/contacts"), json=[contact], timeout=5)
    assert response.status_code == HTTPStatus.OK, response.text
    return response.json()["_embedded"]["contacts"][0]["id"]


@pytest.fixture
def amo(standin, control) -> AmoCRMClient:
    token = control("tokens/long-lived")["access_token"]
    return AmoCRMClient(
        base_url=standin.base_url,
        tokens=StaticTokenSource(token),
        timeout=5,
        limiter=NoRateLimiter(),
        max_retries=0,
    )


def test_the_erasure_patch_clears_the_contacts_names_phone_and_email(api, amo):
    contact_id = new_contact(api)

    [answer] = amo.contacts_update([erasure.contact_erase_payload(contact_id)])

    assert answer["id"] == contact_id
    stored = api.get(api.url(f"/api/v4/contacts/{contact_id}"), timeout=5).json()
    assert stored["name"] == erasure.CONTACT_NAME
    assert (stored["first_name"], stored["last_name"]) == ("", "")
    assert not stored.get("custom_fields_values")
    assert amo.contact_find_by_email("anna@example.ru") is None


def test_a_patch_of_an_unknown_contact_is_refused(api):
    response = api.patch(api.url("/api/v4/contacts"), json=[{"id": 99999, "name": "x"}], timeout=5)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert errors_of(response)


def test_a_patch_without_an_id_or_with_unknown_keys_is_refused(api, amo):
    contact_id = new_contact(api)

    with pytest.raises(AmoCRMValidationError):
        amo.contacts_update([{"name": "x"}])
    with pytest.raises(AmoCRMValidationError):
        amo.contacts_update([{"id": contact_id, "phone": "+7900"}])
