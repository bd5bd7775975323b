"""The stand-in does what `amocrm_check` and the 403 rules meet in amoCRM: a JSON 403 for a
non-admin user on admin-only calls, a hook switched off after more than 100 failed deliveries, the
unsorted stage listed first and refused to the leads API."""

from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from amocrm.services.health import health_last
from tests.tools.helpers import errors_of
from tools.amocrm_standin.constants import FIRST_WORKING_STATUS, HOOK_OFF_FAILURES, PIPELINE_ID

UNSORTED_STAGE = 60000001
# Port 9 (discard) refuses the connection at once: every delivery fails, quickly.
DEAD_DESTINATION = "http://127.0.0.1:9/amocrm/webhook/secret/"


def test_the_pipelines_list_the_unsorted_stage_first_with_type_1(api):
    (pipeline,) = api.get(api.url("/api/v4/leads/pipelines"), timeout=5).json()["_embedded"]["pipelines"]

    first = pipeline["_embedded"]["statuses"][0]
    assert (pipeline["id"], pipeline["is_main"]) == (PIPELINE_ID, True)
    assert (first["id"], first["name"], first["type"]) == (UNSORTED_STAGE, "Неразобранное", 1)
    assert {s["type"] for s in pipeline["_embedded"]["statuses"][1:]} == {0}


@pytest.mark.parametrize("path", ["/api/v4/leads", "/api/v4/leads/complex"])
def test_a_lead_in_the_unsorted_stage_is_refused_with_not_supported_choice_at_status_id(api, path):
    response = api.post(api.url(path), json=[{"name": "x", "status_id": UNSORTED_STAGE}], timeout=5)

    assert errors_of(response) == [("0", "status_id")]
    codes = [e["code"] for g in response.json()["validation-errors"] for e in g["errors"]]
    assert codes == ["NotSupportedChoice"]
    working = api.post(api.url(path), json=[{"name": "x", "status_id": FIRST_WORKING_STATUS}], timeout=5)
    assert working.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v4/webhooks", None),
        ("POST", "/api/v4/webhooks", {"destination": DEAD_DESTINATION, "settings": ["add_lead"]}),
        ("POST", "/api/v4/leads/custom_fields", [{"name": "Адрес", "type": "text"}]),
    ],
)
def test_a_user_without_admin_rights_gets_a_json_403_on_admin_only_calls(api, control, method, path, body):
    control("settings", {"api_user_is_admin": False})

    response = api.request(method, api.url(path), json=body, timeout=5)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {
        "title": "Forbidden",
        "type": "https://httpstatus.es/403",
        "status": 403,
        "detail": "Insufficient rights to call this method",
    }
    # Everything else works for that user, reading fields included.
    assert api.get(api.url("/api/v4/leads/custom_fields"), timeout=5).status_code == HTTPStatus.NO_CONTENT
    assert api.get(api.url("/api/v4/leads/pipelines"), timeout=5).status_code == HTTPStatus.OK


def test_a_hook_is_switched_off_after_more_than_100_failed_deliveries_and_on_again_when_resubscribed(
    standin, api
):
    url = api.url("/api/v4/webhooks")
    api.post(url, json={"destination": DEAD_DESTINATION, "settings": ["update_lead"]}, timeout=5)
    event = [("update_lead", {"id": 30000001})]

    for _ in range(HOOK_OFF_FAILURES):
        standin.deliver(event)
    still_on = api.get(url, timeout=5).json()["_embedded"]["webhooks"][0]
    standin.deliver(event)
    off = api.get(url, timeout=5).json()["_embedded"]["webhooks"][0]

    assert still_on["disabled"] is False
    assert off["disabled"] is True
    assert f"{DEAD_DESTINATION} (switched off)" in standin.page()
    assert standin.deliver(event) == []  # a switched-off hook gets nothing
    api.post(url, json={"destination": DEAD_DESTINATION, "settings": ["update_lead"]}, timeout=5)
    assert api.get(url, timeout=5).json()["_embedded"]["webhooks"][0]["disabled"] is False
    assert len(standin.deliver(event)) == 1


# -- the site's amocrm_check against it ----------------------------------------------------------


@pytest.fixture
def site_on_standin(standin, control, settings, db):
    """The site connected to the stand-in with a long-lived token, its fields set up and its hook
    subscribed; SITE_URL is a port nobody listens on, so every delivery to the site fails."""
    settings.AMOCRM_BASE_URL = standin.base_url
    settings.AMOCRM_LONG_LIVED_TOKEN = control("tokens/long-lived")["access_token"]
    settings.AMOCRM_RATE_LIMIT = 1000
    settings.AMOCRM_WEBHOOK_SECRET = "hook-SECRET-standin"
    settings.SITE_URL = "http://127.0.0.1:9"
    settings.AMOCRM_PIPELINE_ID = PIPELINE_ID
    settings.AMOCRM_STATUS_ID = FIRST_WORKING_STATUS
    settings.AMOCRM_STATUS_MAP = {142: "active", 143: "closed"}
    call_command("amocrm_setup_fields", stdout=StringIO())
    call_command("amocrm_subscribe_webhook", stdout=StringIO())
    control("requests", method="DELETE")
    return settings


def check() -> str:
    out = StringIO()
    call_command("amocrm_check", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_amocrm_check_on_a_healthy_account_makes_four_requests(site_on_standin, control):
    output = check()

    paths = [(r["method"], r["path"]) for r in control("requests", method="GET")["requests"]]
    assert paths == [
        ("GET", "/api/v4/account"),
        ("GET", "/api/v4/leads/pipelines"),
        ("GET", "/api/v4/leads/custom_fields"),
        ("GET", "/api/v4/webhooks"),
    ]
    assert "4 request(s) to amoCRM" in output


def test_amocrm_check_turns_on_the_hook_the_standin_switched_off(site_on_standin, standin, control):
    for _ in range(HOOK_OFF_FAILURES + 1):
        standin.deliver([("update_lead", {"id": 30000001})])
    assert [h["disabled"] for h in control("webhooks", method="GET")["webhooks"]] == [True]

    output = check()

    assert "switched off by amoCRM" in output
    assert [h["disabled"] for h in control("webhooks", method="GET")["webhooks"]] == [False]


def test_amocrm_check_refuses_the_unsorted_stage_the_standin_lists_first(site_on_standin):
    site_on_standin.AMOCRM_STATUS_ID = UNSORTED_STAGE

    with pytest.raises(CommandError, match="1 problem"):
        check()

    assert "is «Неразобранное», the unsorted stage" in health_last().problems[0]


def test_amocrm_check_and_the_subscription_name_missing_admin_rights(site_on_standin, control):
    control("settings", {"api_user_is_admin": False})

    with pytest.raises(CommandError, match="1 problem"):
        check()
    with pytest.raises(CommandError, match="lacks admin rights"):
        call_command("amocrm_subscribe_webhook", stdout=StringIO())

    assert health_last().problems[0].startswith("webhook: the connected amoCRM user lacks admin rights")
