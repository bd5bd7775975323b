import json
from decimal import Decimal
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command

from accounts.models import BouquetCategory
from amocrm.mapping import FIELDS
from amocrm.models import CustomField, CustomFieldEnum
from amocrm.services.fields import field_map_load
from tests.amocrm.conftest import FakeAmoCRM

WRITES = {"POST", "PATCH"}


def run(*args) -> str:
    out = StringIO()
    call_command("amocrm_setup_fields", *args, stdout=out)
    return out.getvalue()


def writes() -> list:
    return [c for c in responses.calls if c.request.method in WRITES]


@pytest.fixture
def fake(oauth_token) -> FakeAmoCRM:
    fake = FakeAmoCRM()
    fake.register()
    return fake


@responses.activate
def test_setup_creates_every_field_with_its_type_code_and_enums(fake):
    run()

    created = {f["code"]: f for f in fake.fields}
    assert {spec.code: spec.type for spec in FIELDS} == {code: f["type"] for code, f in created.items()}
    assert [e["value"] for e in created["FA_BOUQUET_CATEGORY"]["enums"]] == [
        "Романтический",
        "Сезонный",
        "Люкс",
    ]
    assert len(created["FA_DELIVERY_INTERVAL"]["enums"]) == 3
    assert len(created["FA_ACCOUNT_STATUS"]["enums"]) == 4
    assert CustomField.objects.count() == len(FIELDS)
    fields = field_map_load()
    assert fields.field_ids["account_sum"] == created["FA_ACCOUNT_SUM"]["id"]
    luxe_enum = next(e for e in created["FA_BOUQUET_CATEGORY"]["enums"] if e["value"] == "Люкс")
    assert fields.enum_id("bouquet_category", "luxe") == luxe_enum["id"]
    assert set(fields.enum_ids["delivery_interval"]) == {"weekly", "biweekly", "monthly"}


@responses.activate
def test_a_second_run_creates_nothing(fake):
    run()
    responses.calls.reset()

    output = run()

    assert writes() == []
    assert "Nothing to change" in output
    assert CustomField.objects.count() == len(FIELDS)


@responses.activate
def test_dry_run_shows_the_plan_and_changes_nothing(fake):
    output = run("--dry-run")

    assert writes() == []
    assert not CustomField.objects.exists()
    assert "create «Сумма счёта» (numeric)" in output
    assert "create «Выбор букета (категория)» (select: Романтический, Сезонный, Люкс)" in output
    assert "Dry run" in output


@responses.activate
def test_fields_made_by_hand_are_found_by_name_and_missing_enums_added_keeping_ids(oauth_token):
    fake = FakeAmoCRM(
        fields=[
            {"id": 700001, "name": "Сумма счёта", "type": "numeric"},
            {
                "id": 700002,
                "name": "Выбор букета (категория)",
                "type": "select",
                "enums": [
                    {"id": 800001, "value": "Романтический", "sort": 1},
                    {"id": 800002, "value": "Старый вариант", "sort": 2},
                ],
            },
        ]
    )
    fake.register()

    run()

    assert CustomField.objects.get(key="account_sum").field_id == 700001
    patches = [c for c in responses.calls if c.request.method == "PATCH"]
    assert len(patches) == 1 and patches[0].request.url.endswith("/700002")
    sent = json.loads(patches[0].request.body)["enums"]
    # Existing enums are sent back with their ids (kept, even the one we do not use); new ones have none.
    assert sent[:2] == [
        {"id": 800001, "value": "Романтический", "sort": 1},
        {"id": 800002, "value": "Старый вариант", "sort": 2},
    ]
    assert [e["value"] for e in sent[2:]] == ["Сезонный", "Люкс"] and all("id" not in e for e in sent[2:])
    assert field_map_load().enum_id("bouquet_category", "romantic") == 800001


@responses.activate
def test_a_new_category_reaches_the_select_on_the_next_run(fake):
    run()
    before = {e.key: e.enum_id for e in CustomFieldEnum.objects.filter(field__key="bouquet_category")}
    BouquetCategory.objects.create(name="Пионы", slug="peonies", price=Decimal("3100.00"), ordering=40)
    responses.calls.reset()

    output = run()

    assert "update «Выбор букета (категория)»" in output and "add Пионы" in output
    assert [c.request.method for c in writes()] == ["PATCH"]
    after = {e.key: e.enum_id for e in CustomFieldEnum.objects.filter(field__key="bouquet_category")}
    assert {k: after[k] for k in before} == before
    assert "peonies" in after
    assert len(fake.by_code("FA_BOUQUET_CATEGORY")["enums"]) == 4


@responses.activate
def test_a_renamed_category_renames_its_enum_in_place(fake):
    run()
    luxe = BouquetCategory.objects.get(slug="luxe")
    enum_id = CustomFieldEnum.objects.get(field__key="bouquet_category", key="luxe").enum_id
    luxe.name = "Люкс+"
    luxe.save()

    run()

    enums = fake.by_code("FA_BOUQUET_CATEGORY")["enums"]
    assert {"id": enum_id, "value": "Люкс+"}.items() <= next(e for e in enums if e["id"] == enum_id).items()
    assert len(enums) == 3


@responses.activate
def test_a_field_of_the_wrong_type_with_our_code_stops_the_setup(oauth_token):
    FakeAmoCRM(fields=[{"id": 1, "name": "Сумма", "type": "text", "code": "FA_ACCOUNT_SUM"}]).register()

    with pytest.raises(CommandError, match="is of type text, not numeric"):
        run()


def test_setup_with_the_integration_off_fails_clearly(db, settings):
    settings.AMOCRM_BASE_URL = ""

    with pytest.raises(CommandError, match="integration is off"):
        run()
