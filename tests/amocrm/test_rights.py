"""A 403 is not always a block: amoCRM answers JSON 403 naming rights or scope for a call the
connected user may not make (admin-only webhook subscription and field set-up). That call fails
alone; the breaker opens only for an HTML 403 or an account-level refusal."""

from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command

from amocrm.exceptions import AmoCRMForbidden, AmoCRMRightsRefused
from amocrm.models import LeadSync
from amocrm.services import lead_sync
from amocrm.services.breaker import breaker_state
from tests.amocrm.conftest import BASE
from tests.amocrm.test_breaker import NGINX_403, guarded_client

pytestmark = pytest.mark.django_db

LEAD_URL = f"{BASE}/api/v4/leads/1"
# The shape of amoCRM's JSON errors (title, type, status, detail), docs/amocrm-api.md §1.
RIGHTS_403 = {
    "title": "Forbidden",
    "type": "https://httpstatus.es/403",
    "status": 403,
    "detail": "Insufficient rights to call this method",
}
SCOPE_403 = {**RIGHTS_403, "detail": "Invalid scope"}
RU_RIGHTS_403 = {**RIGHTS_403, "detail": "Недостаточно прав для вызова метода"}


@pytest.mark.parametrize("body", [RIGHTS_403, SCOPE_403, RU_RIGHTS_403], ids=["rights", "scope", "ru"])
@responses.activate
def test_a_json_403_naming_rights_or_scope_fails_the_call_without_opening_the_breaker(oauth_token, body):
    responses.get(LEAD_URL, status=403, json=body)
    responses.get(f"{BASE}/api/v4/leads/2", json={"id": 2})

    with pytest.raises(AmoCRMRightsRefused) as refused:
        guarded_client().lead_get(1)

    assert not refused.value.transient and not refused.value.opens_breaker
    assert body["detail"] in str(refused.value)
    assert not breaker_state().is_open
    assert guarded_client().lead_get(2) == {"id": 2}  # the next call goes out


@pytest.mark.parametrize("detail", ["Account is blocked", "Аккаунт заблокирован за нарушение правил"])
@responses.activate
def test_a_json_403_naming_no_rights_still_opens_the_breaker(oauth_token, detail):
    responses.get(LEAD_URL, status=403, json={**RIGHTS_403, "detail": detail})

    with pytest.raises(AmoCRMForbidden):
        guarded_client().lead_get(1)

    assert breaker_state().is_open


@responses.activate
def test_an_html_403_is_a_block_not_a_rights_refusal(oauth_token):
    responses.get(LEAD_URL, status=403, body=NGINX_403, content_type="text/html")

    with pytest.raises(AmoCRMForbidden) as blocked:
        guarded_client().lead_get(1)

    assert not isinstance(blocked.value, AmoCRMRightsRefused)
    assert breaker_state().is_open


@responses.activate
def test_a_lead_the_user_may_not_edit_fails_its_row_only(oauth_token, profile_factory, field_map):
    profile = profile_factory()
    LeadSync.objects.filter(profile=profile).update(status=LeadSync.Status.PENDING, attempts=0, lead_id=1)
    responses.patch(f"{BASE}/api/v4/leads", status=403, json=RIGHTS_403)

    report = lead_sync.lead_sync_profiles(profile_ids=[profile.pk], client=guarded_client())

    sync = LeadSync.objects.get(profile=profile)
    assert report.failed == [profile.pk]
    assert sync.status == LeadSync.Status.FAILED
    assert "lacks the rights" in sync.last_error and "Insufficient rights" in sync.last_error
    assert not breaker_state().is_open


@responses.activate
def test_field_setup_by_a_user_without_admin_rights_exits_saying_so(oauth_token):
    responses.get(f"{BASE}/api/v4/leads/custom_fields", json={"_embedded": {"custom_fields": []}})
    responses.post(f"{BASE}/api/v4/leads/custom_fields", status=403, json=RIGHTS_403)

    with pytest.raises(CommandError, match="lacks admin rights"):
        call_command("amocrm_setup_fields", stdout=StringIO())

    assert not breaker_state().is_open


@responses.activate
def test_webhook_subscription_by_a_user_without_admin_rights_exits_saying_so(oauth_token, webhook_settings):
    responses.get(f"{BASE}/api/v4/webhooks", status=204)
    responses.post(f"{BASE}/api/v4/webhooks", status=403, json=RIGHTS_403)

    with pytest.raises(CommandError, match="lacks admin rights"):
        call_command("amocrm_subscribe_webhook", stdout=StringIO())

    assert not breaker_state().is_open
