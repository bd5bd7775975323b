import datetime
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from accounts import services
from accounts.models import BouquetCategory, Profile
from amocrm import mapping, webhooks
from amocrm.exceptions import AmoCRMMappingError
from tests.amocrm.conftest import load_fixture

FIELDS = mapping.FieldMap(
    field_ids={
        "account_sum": 600001,
        "bouquet_category": 600002,
        "delivery_address": 600003,
        "delivery_date": 600004,
        "delivery_interval": 600005,
        "wishes": 600006,
        "email": 600007,
        "referral_url": 600008,
        "account_status": 600009,
    },
    enum_ids={
        "bouquet_category": {"romantic": 900001, "seasonal": 900002, "luxe": 900003},
        "delivery_interval": {"weekly": 910001, "biweekly": 910002, "monthly": 910003},
        "account_status": {"new": 920001, "active": 920002, "paused": 920003, "closed": 920004},
    },
)
TODAY = datetime.date(2025, 11, 1)
KEYS_BY_ID = {field_id: key for key, field_id in FIELDS.field_ids.items()}


def by_id(items: list[dict]) -> dict[int, object]:
    return {item["field_id"]: item["values"] for item in items}


@pytest.fixture
def profile(profile_factory):
    profile = profile_factory(
        first_delivery_date=datetime.date(2025, 11, 8),
        account_sum=Decimal("2500.50"),
        delivery_interval="biweekly",
        wishes="Без роз",
    )
    # The delivery date sent is the next scheduled delivery row: plan them as on TODAY.
    services.deliveries_reschedule(profile=profile, today=TODAY)
    return profile


def test_profile_becomes_custom_fields_values_by_id_with_amocrm_types(profile):
    items = mapping.profile_to_custom_fields(profile, FIELDS, today=TODAY)
    values = by_id(items)

    assert values[600001] == [{"value": "2500.50"}]
    assert values[600002] == [{"enum_id": 900001}]
    assert values[600003] == [{"value": "Москва, ул. Ленина, 25, кв. 10"}]
    assert values[600004] == [{"value": 1762549200}]  # 2025-11-08 00:00 Europe/Moscow
    assert values[600005] == [{"enum_id": 910002}]
    assert values[600006] == [{"value": "Без роз"}]
    assert values[600007] == [{"value": profile.user.email}]
    assert values[600008] == [{"value": profile.referral_url}]
    assert values[600009] == [{"enum_id": 920002}]  # paid: the one status reads "active"
    assert all(set(item) == {"field_id", "values"} for item in items)  # never field_name


def test_delivery_date_is_the_next_delivery_at_moscow_midnight(profile):
    today = datetime.date(2025, 11, 10)  # after the first delivery: the next is two weeks later

    values = by_id(mapping.profile_to_custom_fields(profile, FIELDS, keys=["delivery_date"], today=today))

    assert values == {600004: [{"value": mapping.date_to_timestamp(datetime.date(2025, 11, 22))}]}
    stamp = values[600004][0]["value"]
    assert isinstance(stamp, int)
    assert datetime.datetime.fromtimestamp(stamp, tz=mapping.DEFAULT_ZONE).time() == datetime.time(0, 0)


def test_empty_values_clear_the_field_with_null(profile):
    profile.wishes = ""

    values = by_id(mapping.profile_to_custom_fields(profile, FIELDS, keys=["wishes"], today=TODAY))

    assert values == {600006: None}


def test_a_category_with_no_enum_yet_is_a_clear_error(profile):
    profile.bouquet_category = BouquetCategory.objects.create(
        name="Пионы", slug="peonies", price=Decimal("1")
    )

    with pytest.raises(AmoCRMMappingError, match="peonies.*amocrm_setup_fields"):
        mapping.profile_to_custom_fields(profile, FIELDS, today=TODAY)


def test_a_field_not_set_up_is_a_clear_error(profile):
    with pytest.raises(AmoCRMMappingError, match="amocrm_setup_fields"):
        mapping.profile_to_custom_fields(profile, mapping.FieldMap(field_ids={}), today=TODAY)


@pytest.mark.parametrize(
    ("amount", "price"),
    [("2500.49", 2500), ("2500.50", 2501), ("0.00", 0), ("99999999.99", 100000000)],
)
def test_lead_price_is_an_integer_of_whole_roubles(profile, amount, price):
    profile.account_sum = Decimal(amount)

    assert mapping.lead_price(profile) == price
    assert type(mapping.lead_price(profile)) is int


def test_lead_and_contact_payloads(profile):
    lead = mapping.lead_payload(profile, FIELDS, today=TODAY)
    contact = mapping.contact_payload(profile)

    assert lead["price"] == 2501 and lead["_embedded"]["tags"] == [{"name": "flower-account"}]
    assert contact["custom_fields_values"] == [
        {"field_code": "EMAIL", "values": [{"value": profile.user.email, "enum_code": "WORK"}]}
    ]


def test_the_contacts_phone_is_sent_as_e164_however_it_was_typed(profile):
    services.profile_update_preferences(profile=profile, data={"phone": "8 (900) 123-45-67"})

    contact = mapping.contact_payload(profile)

    assert contact["custom_fields_values"][1] == {
        "field_code": "PHONE",
        "values": [{"value": "+79001234567", "enum_code": "MOB"}],
    }


def test_select_enums_use_the_russian_labels():
    with translation.override("en"):
        labels = dict(mapping.choice_enums(Profile.DeliveryInterval))

    assert set(labels) == {"weekly", "biweekly", "monthly"}
    assert labels["weekly"] != "once a week"  # the English source text, whatever language is active
    with translation.override("ru"):
        assert labels["weekly"] == str(Profile.DeliveryInterval.WEEKLY.label)


# -- amoCRM → profile -----------------------------------------------------------------------------


def test_api_v4_values_become_profile_values():
    lead = load_fixture("lead_with_contacts.json")

    values = mapping.custom_fields_to_values(lead["custom_fields_values"], FIELDS)

    assert values == {
        "account_sum": Decimal("2500.50"),
        "bouquet_category": "luxe",
        "delivery_date": datetime.date(2025, 11, 8),
    }  # the manager's own field 700123 is ignored


def test_webhook_v2_values_become_profile_values():
    body = (Path(__file__).parent / "fixtures" / "real" / "lead_update_bare_date.txt").read_text()
    change = webhooks.read_lead(action="update", data=webhooks.parse_body(body)["leads"]["update"][0])

    values = {
        key: mapping.decode_value(mapping.FIELDS_BY_KEY[key], item.values, FIELDS)
        for item in change.fields
        if (key := KEYS_BY_ID.get(item.field_id))
    }

    assert values == {
        "account_sum": Decimal("2500.00"),
        "bouquet_category": "luxe",
        "delivery_address": "Москва, ул. Арбат, д. 1, кв. 5",
        "delivery_date": datetime.date(2025, 12, 5),  # sent bare: [values][0]=1764882000
        "delivery_interval": "weekly",
        "wishes": "Без лилий, побольше зелени",
        "email": "anna@example.ru",
        "referral_url": "https://flowers.example.ru/r/anna",
        "account_status": "active",
    }


def test_dates_are_midnight_in_the_account_time_zone_both_ways():
    kaliningrad = zoneinfo.ZoneInfo("Europe/Kaliningrad")
    fields = mapping.FieldMap(field_ids=FIELDS.field_ids, enum_ids=FIELDS.enum_ids, zone=kaliningrad)
    day = datetime.date(2026, 12, 5)

    item = mapping.field_value(mapping.FIELDS_BY_KEY["delivery_date"], day, fields)
    stamp = item["values"][0]["value"]

    assert datetime.datetime.fromtimestamp(stamp, tz=kaliningrad) == datetime.datetime(
        2026, 12, 5, tzinfo=kaliningrad
    )
    # Moscow's midnight is 23:00 the day before in Kaliningrad: the CRM would show 4 December.
    assert mapping.date_to_timestamp(day) != stamp
    assert mapping.decode_value(mapping.FIELDS_BY_KEY["delivery_date"], [(str(stamp), None)], fields) == day


def test_cleared_fields_read_back_as_empty():
    items = [
        {"field_id": 600001, "values": None},
        {"field_id": 600002, "values": []},
        {"field_id": 600004, "values": None},
        {"field_id": 600006, "values": None},
    ]

    assert mapping.custom_fields_to_values(items, FIELDS) == {
        "account_sum": None,
        "bouquet_category": None,
        "delivery_date": None,
        "wishes": "",
    }
    assert mapping.custom_fields_to_values(None, FIELDS) == {}


def test_an_enum_the_site_does_not_know_is_a_clear_error():
    with pytest.raises(AmoCRMMappingError, match="777"):
        mapping.custom_fields_to_values([{"field_id": 600002, "values": [{"enum_id": 777}]}], FIELDS)


def test_numbers_with_a_comma_are_read_leniently():
    assert mapping.numeric_to_decimal("12,5") == Decimal("12.50")
    with pytest.raises(AmoCRMMappingError):
        mapping.numeric_to_decimal("двенадцать")


def test_a_profile_survives_the_round_trip(profile):
    sent = mapping.profile_to_custom_fields(profile, FIELDS, today=TODAY)
    # amoCRM answers selects with both value and enum_id.
    echoed = [
        {
            "field_id": i["field_id"],
            "values": [{**v, "value": v.get("value", "x")} for v in i["values"] or []],
        }
        for i in sent
    ]

    back = mapping.custom_fields_to_values(echoed, FIELDS)

    assert back["account_sum"] == profile.account_sum
    assert back["bouquet_category"] == profile.bouquet_category.slug
    assert back["delivery_interval"] == profile.delivery_interval
    assert back["account_status"] == profile.subscription_status
    assert back["delivery_date"] == profile.next_delivery_on(today=TODAY)
    assert back["wishes"] == profile.wishes


@given(st.dates(min_value=datetime.date(1971, 1, 2), max_value=datetime.date(2100, 12, 31)))
def test_dates_round_trip_through_moscow_timestamps(day):
    assert mapping.timestamp_to_date(mapping.date_to_timestamp(day)) == day
    assert mapping.timestamp_to_date(str(mapping.date_to_timestamp(day))) == day


@given(st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2))
def test_sums_round_trip_through_numeric_strings(amount):
    text = mapping.decimal_to_numeric(amount)

    assert "," not in text and "E" not in text
    assert mapping.numeric_to_decimal(text) == amount
