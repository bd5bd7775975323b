"""`manage.py amocrm_check`, one doctor: it reads the account, pipelines, fields, hooks and token in
four requests when all is well, turns a switched-off or lost webhook back on, refuses the unsorted
stage and ids that do not exist, exits non-zero with what staff must fix, and stores its result."""

import datetime
import json
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from django.utils import timezone

from amocrm.models import CustomField, HealthCheck
from amocrm.services.health import health_check, health_last
from amocrm.services.webhook_events import WEBHOOK_EVENTS, webhook_url
from tests.amocrm.conftest import BASE, FIELD_IDS, TOKEN_URL, token_answer
from tests.amocrm.test_rights import RIGHTS_403

pytestmark = pytest.mark.django_db

PIPELINE, OTHER_PIPELINE = 7000001, 7000002
UNSORTED, FIRST, WON, LOST = 60000001, 60000002, 142, 143
OTHER_STAGE = 61000002
HOOKS_URL = f"{BASE}/api/v4/webhooks"


def stage(status_id: int, name: str, type_: int = 0) -> dict:
    return {"id": status_id, "name": name, "type": type_, "sort": 10, "is_editable": type_ == 0}


# GET /api/v4/leads/pipelines as amoCRM answers: the unsorted stage (type 1) first, 142/143 last.
PIPELINES = {
    "_total_items": 2,
    "_embedded": {
        "pipelines": [
            {
                "id": PIPELINE,
                "name": "Подписки",
                "is_main": True,
                "_embedded": {
                    "statuses": [
                        stage(UNSORTED, "Неразобранное", 1),
                        stage(FIRST, "Новая подписка"),
                        stage(WON, "Успешно реализовано"),
                        stage(LOST, "Закрыто и не реализовано"),
                    ]
                },
            },
            {
                "id": OTHER_PIPELINE,
                "name": "Опт",
                "is_main": False,
                "_embedded": {
                    "statuses": [stage(61000001, "Неразобранное", 1), stage(OTHER_STAGE, "Заявка")]
                },
            },
        ]
    },
}


@pytest.fixture
def amocrm_ok(webhook_settings, oauth_token, field_map):
    """An account set up as the site needs: every amoCRM answer of a healthy check."""
    webhook_settings.AMOCRM_PIPELINE_ID = PIPELINE
    webhook_settings.AMOCRM_STATUS_ID = FIRST
    webhook_settings.AMOCRM_STATUS_MAP = {WON: "active", LOST: "closed"}
    responses.get(f"{BASE}/api/v4/account", json={"id": 31000001, "subdomain": "flowers", "name": "Цветы"})
    responses.get(f"{BASE}/api/v4/leads/pipelines", json=PIPELINES)
    remote_fields = [
        {
            "id": f.field_id,
            "name": f.name,
            "enums": [{"id": e.enum_id, "value": e.value} for e in f.enums.all()],
        }
        for f in CustomField.objects.prefetch_related("enums")
    ]
    responses.get(f"{BASE}/api/v4/leads/custom_fields", json={"_embedded": {"custom_fields": remote_fields}})
    return webhook_settings


def hooks(*, disabled: bool = False, events=WEBHOOK_EVENTS) -> dict:
    return {
        "_embedded": {
            "webhooks": [
                {
                    "id": 1,
                    "destination": webhook_url(),
                    "settings": list(events),
                    "disabled": disabled,
                    "sort": 10,
                }
            ]
        }
    }


def run(*args: str) -> str:
    out = StringIO()
    call_command("amocrm_check", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@responses.activate
def test_a_healthy_account_takes_four_requests_and_exits_zero(amocrm_ok):
    responses.get(HOOKS_URL, json=hooks())

    output = run()

    assert len(responses.calls) == 4 <= 6
    assert [c.request.method for c in responses.calls] == ["GET"] * 4
    assert "amoCRM is set up as the site needs. 4 request(s)" in output
    assert "Новая подписка" in output
    assert webhook_url() not in output  # the secret stays out of the output


@responses.activate
def test_the_result_is_stored_for_the_control_room(amocrm_ok):
    responses.get(HOOKS_URL, json=hooks())

    run()

    check = health_last()
    assert (check.is_healthy, check.problems, check.repairs, check.requests) == (True, [], [], 4)


@responses.activate
def test_a_hook_amocrm_switched_off_is_subscribed_again(amocrm_ok):
    responses.get(HOOKS_URL, json=hooks(disabled=True))
    responses.post(HOOKS_URL, json={"id": 1, "destination": webhook_url(), "disabled": False})

    output = run()

    sent = json.loads(responses.calls[-1].request.body)
    assert (sent["destination"], sent["settings"]) == (webhook_url(), list(WEBHOOK_EVENTS))
    assert "switched off by amoCRM" in output and "subscribed it again" in output
    assert health_last().is_healthy and len(health_last().repairs) == 1


@responses.activate
def test_a_hook_still_off_after_posting_is_removed_and_added_anew(amocrm_ok):
    responses.get(HOOKS_URL, json=hooks(disabled=True))
    responses.post(HOOKS_URL, json={"id": 1, "destination": webhook_url(), "disabled": True})
    responses.delete(HOOKS_URL, status=204)
    responses.post(HOOKS_URL, json={"id": 2, "destination": webhook_url(), "disabled": False})

    run()

    assert [c.request.method for c in responses.calls[-3:]] == ["POST", "DELETE", "POST"]
    assert len(responses.calls) <= 7


@responses.activate
def test_a_lost_hook_is_subscribed_again(amocrm_ok):
    responses.get(HOOKS_URL, status=204)
    responses.post(HOOKS_URL, json={"id": 1, "destination": webhook_url()})

    run()

    assert responses.calls[-1].request.method == "POST"
    assert "was not subscribed" in health_last().repairs[0]


@responses.activate
def test_a_dry_run_repairs_nothing_stores_nothing_and_exits_non_zero(amocrm_ok):
    responses.get(HOOKS_URL, json=hooks(disabled=True))

    with pytest.raises(CommandError, match="1 problem"):
        run("--dry-run")

    assert [c.request.method for c in responses.calls] == ["GET"] * 4
    assert not HealthCheck.objects.exists()


@responses.activate
def test_the_unsorted_stage_as_status_id_is_refused_by_name(amocrm_ok):
    amocrm_ok.AMOCRM_STATUS_ID = UNSORTED
    responses.get(HOOKS_URL, json=hooks())

    with pytest.raises(CommandError, match="1 problem"):
        run()

    (problem,) = health_last().problems
    assert f"AMOCRM_STATUS_ID={UNSORTED} is «Неразобранное»" in problem
    assert "NotSupportedChoice" in problem and f"«Новая подписка» ({FIRST})" in problem


@responses.activate
def test_a_stage_of_another_pipeline_is_refused_naming_where_it_is(amocrm_ok):
    amocrm_ok.AMOCRM_STATUS_ID = OTHER_STAGE
    responses.get(HOOKS_URL, json=hooks())

    with pytest.raises(CommandError):
        run()

    assert health_last().problems == [
        f"AMOCRM_STATUS_ID={OTHER_STAGE} is not a stage of pipeline «Подписки» ({PIPELINE}); "
        f"it is a stage of «Опт» ({OTHER_PIPELINE})."
    ]


@responses.activate
def test_a_pipeline_that_does_not_exist_is_refused(amocrm_ok):
    amocrm_ok.AMOCRM_PIPELINE_ID = 999
    responses.get(HOOKS_URL, json=hooks())

    with pytest.raises(CommandError):
        run()

    (problem,) = health_last().problems
    assert problem.startswith("AMOCRM_PIPELINE_ID=999: amoCRM has no such pipeline")
    assert f"«Подписки» {PIPELINE}" in problem


@responses.activate
def test_status_map_stages_outside_the_pipeline_are_refused(amocrm_ok):
    amocrm_ok.AMOCRM_STATUS_MAP = {WON: "active", OTHER_STAGE: "paused", 5: "closed"}
    responses.get(HOOKS_URL, json=hooks())

    with pytest.raises(CommandError):
        run()

    (problem,) = health_last().problems
    assert problem.startswith(f"AMOCRM_STATUS_MAP names stage(s) 5, {OTHER_STAGE}, which are not stages")


@responses.activate
def test_a_field_deleted_in_amocrm_is_reported_with_the_command_that_repairs_it(amocrm_ok):
    responses.replace(
        responses.GET, f"{BASE}/api/v4/leads/custom_fields", json={"_embedded": {"custom_fields": []}}
    )
    responses.get(HOOKS_URL, json=hooks())

    with pytest.raises(CommandError):
        run()

    problems = health_last().problems
    assert len(problems) == len(FIELD_IDS)
    assert all("is gone from amoCRM: run manage.py amocrm_setup_fields" in p for p in problems)


@responses.activate
def test_a_user_without_admin_rights_is_reported_and_the_check_goes_on(amocrm_ok):
    responses.get(HOOKS_URL, status=403, json=RIGHTS_403)

    with pytest.raises(CommandError):
        run()

    (problem,) = health_last().problems
    assert problem.startswith("webhook: the connected amoCRM user lacks admin rights")


@responses.activate
def test_a_blocked_account_stops_the_check_at_the_first_call(amocrm_ok):
    responses.replace(responses.GET, f"{BASE}/api/v4/account", status=403, body="<html>403 Forbidden</html>")

    report = health_check()

    assert len(responses.calls) == 1
    assert report.problems[0].startswith("account: amoCRM could not be read: amoCRM blocked the account")


def test_not_connected_is_reported_without_a_request(amocrm_settings, db):
    report = health_check()

    assert report.requests == 0
    assert report.problems[0].startswith("amoCRM is not connected")


def test_the_procfile_process_reports_problems_and_keeps_going(amocrm_settings, db, monkeypatch):
    from flower_account import commands

    def stop(seconds: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands.time, "sleep", stop)
    err = StringIO()

    with pytest.raises(KeyboardInterrupt):  # the round ended without raising; the loop then slept
        call_command("amocrm_check", "--every", "86400", stdout=StringIO(), stderr=err)

    assert "1 problem(s) for staff to fix" in err.getvalue()
    assert "This round failed" not in err.getvalue()  # problems found are a result, not a failure
    assert health_last().problems[0].startswith("amoCRM is not connected")


@responses.activate
def test_a_token_due_is_refreshed_by_the_check_and_its_new_expiry_shown(amocrm_ok, expiring_token):
    responses.post(TOKEN_URL, json=token_answer(expires_in=86400))
    responses.get(HOOKS_URL, json=hooks())

    output = run()

    expiring_token.refresh_from_db()
    assert f"Token: valid until {timezone.localtime(expiring_token.expires_at):%Y-%m-%d %H:%M}" in output
    assert expiring_token.expires_at > timezone.now() + datetime.timedelta(hours=23)
