"""A moved or un-skipped delivery reaches the lead: its delivery date and a note in its history."""

import datetime

import pytest
import responses

from accounts import delivery_actions
from amocrm import history, mapping, tasks
from amocrm.models import CustomField
from tests.amocrm.conftest import FIELD_IDS, LEADS_URL
from tests.amocrm.helpers import bodies, by_field, patch_answer, synced

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("crm")]
Key = CustomField.Key


def test_the_notes_for_a_move_and_an_unskip_are_russian():
    assert (
        history.note_text("delivery_moved", {"date": "2027-02-11", "to": "2027-02-13"})
        == "Клиент перенёс доставку с 11 февраля 2027 на 13 февраля 2027."
    )
    assert history.note_text("delivery_unskipped", {"date": "2027-02-11"}) == (
        "Клиент вернул пропущенную доставку 11 февраля 2027."
    )


@responses.activate
def test_moving_the_next_delivery_sends_its_new_date_to_the_lead(customer):
    synced(customer)
    first = customer.deliveries.filter(status="scheduled").order_by("delivery_on").first()
    new_day = first.delivery_on + datetime.timedelta(days=1)
    responses.patch(LEADS_URL, json=patch_answer(30000001))

    delivery_actions.delivery_move(profile=customer, delivery_id=first.pk, new_date=new_day)
    tasks.sync_profile.call(profile_id=customer.pk)

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert by_field(patch["custom_fields_values"]) == {
        FIELD_IDS[Key.DELIVERY_DATE]: [{"value": mapping.date_to_timestamp(new_day)}]
    }


@responses.activate
def test_unskipping_the_next_delivery_sends_its_date_back_to_the_lead(customer):
    first = customer.deliveries.filter(status="scheduled").order_by("delivery_on").first()
    delivery_actions.delivery_skip(profile=customer, delivery_id=first.pk)
    synced(customer)
    responses.patch(LEADS_URL, json=patch_answer(30000001))

    delivery_actions.delivery_unskip(profile=customer, delivery_id=first.pk)
    tasks.sync_profile.call(profile_id=customer.pk)

    [[patch]] = bodies("PATCH", LEADS_URL)
    assert by_field(patch["custom_fields_values"]) == {
        FIELD_IDS[Key.DELIVERY_DATE]: [{"value": mapping.date_to_timestamp(first.delivery_on)}]
    }
