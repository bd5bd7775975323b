"""The decision a lead change from amoCRM makes, as a table: no database, no HTTP."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import BouquetCategory
from amocrm import mapping, webhooks
from amocrm.models import CustomField
from amocrm.services import lead_plan
from tests.amocrm.conftest import FIELD_IDS, LEAD

Key = CustomField.Key
TODAY = datetime.date(2027, 3, 1)
MANAGER = datetime.datetime(2027, 3, 1, 9, 0, 0, tzinfo=datetime.UTC)  # the manager's edit
# The customer's save in the very second amoCRM stamps its change with (amoCRM has no fraction).
SAME_SECOND = MANAGER + datetime.timedelta(milliseconds=400)
BEFORE, AFTER = MANAGER - datetime.timedelta(minutes=5), MANAGER + datetime.timedelta(minutes=5)
CATEGORIES = {slug: BouquetCategory(slug=slug, name=slug) for slug in ("romantic", "luxe")}
FIELDS = mapping.FieldMap(
    field_ids=FIELD_IDS,
    enum_ids={
        Key.BOUQUET_CATEGORY: {"romantic": 901, "luxe": 902, "retired": 903},
        Key.ACCOUNT_STATUS: {"active": 921, "paused": 922, "closed": 923},
    },
)
CURRENT = {
    Key.ACCOUNT_SUM: Decimal("5000.00"),
    Key.BOUQUET_CATEGORY: "romantic",
    Key.DELIVERY_ADDRESS: "Москва, ул. Ленина, 25",
    Key.DELIVERY_DATE: datetime.date(2027, 3, 5),
    Key.DELIVERY_INTERVAL: "weekly",
    Key.WISHES: "Без роз",
    Key.ACCOUNT_STATUS: "active",
}
ARBAT = "Москва, ул. Арбат, 1"


def item(key: str, value, enum: int | None = None) -> webhooks.FieldChange:
    return webhooks.FieldChange(field_id=FIELD_IDS[key], values=((value, enum),))


def sent(key: str, value) -> dict:
    """`synced` holding the value we last sent for `key`."""
    return {key: {"field_id": FIELD_IDS[key], "values": [{"value": value}]}}


def dropped(key: str) -> dict:
    return {"field": key, "crm_changed_at": MANAGER.isoformat(), "site_changed_at": AFTER.isoformat()}


def plan(
    *items,
    synced=None,
    site_changed=None,
    awaits_payment=False,
    status_id=None,
    old_status_id=None,
    price=None,
    action="update",
):
    change = webhooks.LeadChange(
        action=action,
        lead_id=LEAD,
        modified_at=MANAGER,
        price=price,
        status_id=status_id,
        old_status_id=old_status_id,
        fields=tuple(items),
    )
    return lead_plan.lead_change_plan(
        change=change,
        fields=FIELDS,
        current=CURRENT,
        synced=synced or {},
        site_changed=site_changed or {},
        categories=CATEGORIES,
        balance=Decimal("5000.00"),
        awaits_payment=awaits_payment,
        last_status_id=old_status_id,
        status_map={142: "active", 143: "closed"},
        today=TODAY,
    )


ROWS = {
    "a preference changed after the site's last change of it applies": (
        plan(item(Key.DELIVERY_ADDRESS, ARBAT), site_changed={Key.DELIVERY_ADDRESS: BEFORE}),
        {"data": {"delivery_address": ARBAT}, "dropped": []},
    ),
    "a preference the site changed later is dropped, and says when": (
        plan(item(Key.DELIVERY_ADDRESS, ARBAT), site_changed={Key.DELIVERY_ADDRESS: AFTER}),
        {
            "data": {},
            "dropped": [
                {
                    "field": Key.DELIVERY_ADDRESS,
                    "crm_changed_at": MANAGER.isoformat(),
                    "site_changed_at": AFTER.isoformat(),
                }
            ],
        },
    ),
    "a later site change of another field does not stop it": (
        plan(item(Key.DELIVERY_ADDRESS, ARBAT), site_changed={Key.DELIVERY_DATE: AFTER, Key.WISHES: AFTER}),
        {"data": {"delivery_address": ARBAT}, "dropped": []},
    ),
    "the same second as the site's change: amoCRM wins": (
        plan(
            item(Key.WISHES, "Пионы"),
            synced={Key.WISHES: {"field_id": FIELD_IDS[Key.WISHES], "values": [{"value": "Без лилий"}]}},
            site_changed={Key.WISHES: SAME_SECOND},
        ),
        {
            "data": {"wishes": "Пионы"},
            "dropped": [
                {
                    "field": Key.WISHES,
                    "crm_changed_at": MANAGER.isoformat(),
                    "site_changed_at": SAME_SECOND.isoformat(),
                    "reason": lead_plan.TIE_CRM_EDIT,
                }
            ],
        },
    ),
    "the same second, an echo of the value last sent: the site's change stands": (
        plan(
            item(Key.WISHES, "Без лилий"),
            synced={Key.WISHES: {"field_id": FIELD_IDS[Key.WISHES], "values": [{"value": "Без лилий"}]}},
            site_changed={Key.WISHES: SAME_SECOND},
        ),
        {
            "data": {},
            "dropped": [
                {
                    "field": Key.WISHES,
                    "crm_changed_at": MANAGER.isoformat(),
                    "site_changed_at": SAME_SECOND.isoformat(),
                    "reason": lead_plan.TIE_ECHO,
                }
            ],
        },
    ),
    "the same second with no synced value: the site's change stands": (
        plan(item(Key.WISHES, "Пионы"), site_changed={Key.WISHES: SAME_SECOND}),
        {
            "data": {},
            "dropped": [
                {
                    "field": Key.WISHES,
                    "crm_changed_at": MANAGER.isoformat(),
                    "site_changed_at": SAME_SECOND.isoformat(),
                    "reason": lead_plan.TIE_NO_BASELINE,
                }
            ],
        },
    ),
    "a site change in the second before amoCRM's loses": (
        plan(
            item(Key.WISHES, "Пионы"),
            site_changed={Key.WISHES: MANAGER - datetime.timedelta(milliseconds=600)},
        ),
        {"data": {"wishes": "Пионы"}, "dropped": []},
    ),
    "a site change in the second after amoCRM's wins": (
        plan(item(Key.WISHES, "Пионы"), site_changed={Key.WISHES: MANAGER + datetime.timedelta(seconds=1)}),
        {
            "data": {},
            "dropped": [
                lead_plan.dropped_change(Key.WISHES, MANAGER, MANAGER + datetime.timedelta(seconds=1))
            ],
        },
    ),
    "our own value echoed back changes nothing": (
        plan(
            item(Key.DELIVERY_ADDRESS, ARBAT),
            synced={
                Key.DELIVERY_ADDRESS: {
                    "field_id": FIELD_IDS[Key.DELIVERY_ADDRESS],
                    "values": [{"value": ARBAT}],
                }
            },
        ),
        {"data": {}, "dropped": []},
    ),
    "the sum follows amoCRM even after a site change": (
        plan(item(Key.ACCOUNT_SUM, "7500"), site_changed={Key.ACCOUNT_SUM: AFTER}),
        {"data": {"account_sum": Decimal("7500.00")}, "payment": None},
    ),
    "a negative sum is an error, the rest applies": (
        plan(item(Key.ACCOUNT_SUM, "-1"), item(Key.WISHES, "Пионы")),
        {"data": {"wishes": "Пионы"}, "errors": {Key.ACCOUNT_SUM: "negative sum -1.00"}},
    ),
    "a higher sum while an invoice awaits pays the difference": (
        plan(item(Key.ACCOUNT_SUM, "7500"), awaits_payment=True),
        {"data": {}, "payment": Decimal("2500.00")},
    ),
    "a sum not above the balance while an invoice awaits is an error": (
        plan(item(Key.ACCOUNT_SUM, "4000"), awaits_payment=True),
        {
            "data": {},
            "payment": None,
            "errors": {Key.ACCOUNT_SUM: "an invoice awaits payment: 4000.00 is not above the balance"},
        },
    ),
    "a move to a stage mapped to active while an invoice awaits confirms it": (
        plan(status_id=142, old_status_id=141, awaits_payment=True),
        {"data": {}, "payment": lead_plan.INVOICE_AMOUNT, "status_field": {Key.ACCOUNT_STATUS: None}},
    ),
    "a move to a stage mapped to closed closes the account": (
        plan(status_id=143, old_status_id=142),
        {"data": {"account_status": "closed"}, "payment": None},
    ),
    "a category the site does not have is an error": (
        plan(item(Key.BOUQUET_CATEGORY, "Retired", enum=903)),
        {"data": {}, "errors": {Key.BOUQUET_CATEGORY: "no bouquet category 'retired'"}},
    ),
    "a date in the past is an error": (
        plan(item(Key.DELIVERY_DATE, str(mapping.date_to_timestamp(TODAY - datetime.timedelta(days=1))))),
        {"next_delivery_date": None, "errors": {Key.DELIVERY_DATE: "2027-02-28 is in the past"}},
    ),
    "a new date re-anchors the schedule": (
        plan(item(Key.DELIVERY_DATE, str(mapping.date_to_timestamp(datetime.date(2027, 3, 9))))),
        {"data": {}, "next_delivery_date": datetime.date(2027, 3, 9), "errors": {}},
    ),
    # amoCRM leaves an empty field out of a full item: one we sent a value for was cleared.
    "wishes left out of a full item were cleared by the manager": (
        plan(item(Key.DELIVERY_ADDRESS, ARBAT), synced=sent(Key.WISHES, "Без роз")),
        {"data": {"delivery_address": ARBAT, "wishes": ""}, "errors": {}, "kept": ()},
    ),
    "wishes cleared before the site's later change of them are dropped": (
        plan(synced=sent(Key.WISHES, "Без роз"), site_changed={Key.WISHES: AFTER}),
        {"data": {}, "dropped": [dropped(Key.WISHES)], "kept": ()},
    ),
    "a date left out of a full item is kept on the site and sent back": (
        plan(synced=sent(Key.DELIVERY_DATE, mapping.date_to_timestamp(datetime.date(2027, 3, 5)))),
        {
            "data": {},
            "next_delivery_date": None,
            "errors": {Key.DELIVERY_DATE: lead_plan.KEPT_EMPTY},
            "kept": (Key.DELIVERY_DATE,),
        },
    ),
    "an address cleared in amoCRM is kept on the site and sent back": (
        plan(item(Key.DELIVERY_ADDRESS, ""), synced=sent(Key.DELIVERY_ADDRESS, ARBAT)),
        {"data": {}, "errors": {Key.DELIVERY_ADDRESS: lead_plan.KEPT_EMPTY}, "kept": (Key.DELIVERY_ADDRESS,)},
    ),
    "a field never sent and left out changes nothing": (
        plan(item(Key.DELIVERY_ADDRESS, ARBAT)),
        {"data": {"delivery_address": ARBAT}, "errors": {}, "kept": ()},
    ),
    "a field left out that amoCRM already held empty changes nothing": (
        plan(synced={Key.WISHES: {"field_id": FIELD_IDS[Key.WISHES], "values": None}}),
        {"data": {}, "errors": {}},
    ),
    "the sum left out follows the budget, never a clear": (
        plan(synced=sent(Key.ACCOUNT_SUM, "5000.00"), price=6000),
        {"data": {"account_sum": Decimal("6000.00")}, "errors": {}, "kept": ()},
    ),
    "a delete item clears nothing": (
        plan(synced=sent(Key.WISHES, "Без роз"), action="delete"),
        {"data": {}, "errors": {}},
    ),
}


@pytest.mark.parametrize(("decided", "expected"), ROWS.values(), ids=ROWS.keys())
def test_a_lead_change_is_decided_by_its_row(decided, expected):
    assert {name: getattr(decided, name) for name in expected} == expected


def tied_keys(*items, site_changed, synced=None):
    change = webhooks.LeadChange(
        action="update",
        lead_id=LEAD,
        modified_at=MANAGER,
        price=None,
        status_id=None,
        old_status_id=None,
        fields=tuple(items),
    )
    return lead_plan.same_second_keys(
        change=change, fields=FIELDS, current=CURRENT, synced=synced or {}, site_changed=site_changed
    )


@pytest.mark.parametrize(
    ("items", "site_changed", "expected"),
    [
        # A differing value in the second of the site's change of that field: the order is unknown.
        ((item(Key.WISHES, "Только ирисы"),), {Key.WISHES: SAME_SECOND}, (Key.WISHES,)),
        # The site's own value: the hook changes nothing, nothing to read back.
        ((item(Key.WISHES, "Без роз"),), {Key.WISHES: SAME_SECOND}, ()),
        # The site changed another field in that second, or this one in another second.
        ((item(Key.WISHES, "Только ирисы"),), {Key.DELIVERY_ADDRESS: SAME_SECOND}, ()),
        ((item(Key.WISHES, "Только ирисы"),), {Key.WISHES: AFTER}, ()),
        ((item(Key.WISHES, "Только ирисы"),), {Key.WISHES: BEFORE}, ()),
        # CRM-owned fields have no site clock.
        ((item(Key.ACCOUNT_SUM, "9000"),), dict.fromkeys(mapping.PREFERENCE_KEYS, SAME_SECOND), ()),
    ],
)
def test_a_hook_ties_with_the_site_only_on_a_field_it_changes_in_the_second_the_site_changed_it(
    items, site_changed, expected
):
    assert tied_keys(*items, site_changed=site_changed) == expected


def test_a_full_item_clearing_a_field_in_the_second_the_site_set_it_ties():
    # The item leaves the wishes out though we sent some: cleared in amoCRM, in the site's second.
    cleared = tied_keys(
        item(Key.ACCOUNT_SUM, "5000"),
        site_changed={Key.WISHES: SAME_SECOND},
        synced=sent(Key.WISHES, "Без роз"),
    )

    assert cleared == (Key.WISHES,)
