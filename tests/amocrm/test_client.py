import json
import logging

import pytest
import requests
import responses

from amocrm.client import BATCH_SIZE, CONNECT_TIMEOUT, AmoCRMClient, StaticTokenSource
from amocrm.exceptions import (
    AmoCRMAuthError,
    AmoCRMForbidden,
    AmoCRMNotFound,
    AmoCRMPaymentRequired,
    AmoCRMRateLimited,
    AmoCRMUnavailable,
    AmoCRMValidationError,
)
from amocrm.models import OAuthToken
from amocrm.ratelimit import NoRateLimiter
from amocrm.services import connection
from tests.amocrm.conftest import (
    ACCESS,
    BASE,
    CLIENT_SECRET,
    LEADS_URL,
    NEW_ACCESS,
    NEW_REFRESH,
    REFRESH,
    TOKEN_URL,
    load_fixture,
    request_json,
    token_answer,
)


def leads_answer(request):
    sent = json.loads(request.body)
    body = {"_embedded": {"leads": [{"id": 1000 + i, "request_id": str(i)} for i in range(len(sent))]}}
    return (200, {"Content-Type": "application/hal+json"}, json.dumps(body))


@responses.activate
def test_request_sends_bearer_token_json_and_a_timeout(amo, oauth_token):
    responses.post(LEADS_URL, json={"_embedded": {"leads": [{"id": 7, "request_id": "0"}]}})

    created = amo.leads_create([{"name": "Подписка", "price": 2500}])

    assert created == [{"id": 7, "request_id": "0"}]
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert request_json(call) == [{"name": "Подписка", "price": 2500}]
    assert call.request.req_kwargs["timeout"] == (CONNECT_TIMEOUT, 10)


@responses.activate
def test_leads_create_splits_batches_into_chunks_of_50(amo, oauth_token):
    responses.add_callback(responses.POST, LEADS_URL, callback=leads_answer)

    created = amo.leads_create([{"name": f"lead {i}"} for i in range(120)])

    assert [len(request_json(c)) for c in responses.calls] == [BATCH_SIZE, BATCH_SIZE, 20]
    assert len(created) == 120


@responses.activate
def test_leads_update_patches_in_chunks(amo, oauth_token):
    responses.add_callback(responses.PATCH, LEADS_URL, callback=leads_answer)

    amo.leads_update([{"id": i, "price": 1} for i in range(51)])

    assert [len(request_json(c)) for c in responses.calls] == [50, 1]


@responses.activate
def test_complex_create_sends_at_most_50_leads_per_request(amo, oauth_token):
    def answer(request):
        return (
            200,
            {},
            json.dumps(
                [{"id": i, "contact_id": i, "merged": False} for i in range(len(json.loads(request.body)))]
            ),
        )

    responses.add_callback(responses.POST, f"{LEADS_URL}/complex", callback=answer)

    result = amo.leads_create_complex([{"name": str(i)} for i in range(75)])

    assert [len(request_json(c)) for c in responses.calls] == [50, 25]
    assert len(result) == 75


@responses.activate
def test_a_failed_chunk_reports_the_chunks_already_done(amo, oauth_token):
    # With several matches responses serves the first once, then the next.
    responses.add_callback(responses.POST, LEADS_URL, callback=leads_answer)
    responses.post(LEADS_URL, status=400, json=load_fixture("validation_error.json"))

    with pytest.raises(AmoCRMValidationError) as excinfo:
        amo.leads_create([{"name": str(i)} for i in range(60)])

    assert [lead["id"] for lead in excinfo.value.completed] == list(range(1000, 1050))


@responses.activate
def test_lead_get_returns_the_lead_with_contacts(amo, oauth_token):
    responses.get(f"{LEADS_URL}/30000001", json=load_fixture("lead_with_contacts.json"))

    lead = amo.lead_get(30000001)

    assert lead["_embedded"]["contacts"] == [{"id": 42, "is_main": True}]
    assert responses.calls[0].request.params == {"with": "contacts"}


@responses.activate
def test_204_is_an_empty_result_and_its_body_is_never_parsed(amo, oauth_token):
    # Labelled JSON but empty: response.json() would raise.
    responses.get(f"{LEADS_URL}/5", status=204, content_type="application/hal+json")
    responses.get(LEADS_URL, status=204)
    responses.get(f"{BASE}/api/v4/webhooks", status=204)
    responses.get(f"{BASE}/api/v4/contacts", status=204)

    assert amo.lead_get(5) is None
    assert amo.leads_list_by_ids([1, 2]) == []
    assert amo.webhooks_list("https://flowers.example.ru/amocrm/webhook/x/") == []
    assert amo.contact_find_by_email("anna@example.ru") is None


@responses.activate
def test_leads_list_by_ids_filters_by_id(amo, oauth_token):
    responses.get(LEADS_URL, json={"_embedded": {"leads": [{"id": 1}, {"id": 2}]}})

    assert [lead["id"] for lead in amo.leads_list_by_ids([1, 2])] == [1, 2]
    assert "filter%5Bid%5D%5B%5D=1&filter%5Bid%5D%5B%5D=2" in responses.calls[0].request.url


@responses.activate
def test_contact_search_links_only_a_contact_whose_email_really_matches(amo, oauth_token):
    contacts = [
        # The full-text search also finds this one, by a note that mentions the address.
        {
            "id": 1,
            "name": "Борис",
            "custom_fields_values": [
                {"field_code": "EMAIL", "values": [{"value": "boris@example.ru", "enum_code": "WORK"}]}
            ],
        },
        {
            "id": 2,
            "name": "Анна",
            "custom_fields_values": [
                {"field_code": "PHONE", "values": [{"value": "+79990000000"}]},
                {"field_code": "EMAIL", "values": [{"value": "Anna@Example.RU", "enum_code": "PRIV"}]},
            ],
        },
    ]
    responses.get(f"{BASE}/api/v4/contacts", json={"_embedded": {"contacts": contacts}})

    assert amo.contact_find_by_email("anna@example.ru")["id"] == 2
    assert amo.contact_find_by_email("other@example.ru") is None


@responses.activate
def test_contacts_create_posts_the_contacts(amo, oauth_token):
    responses.post(f"{BASE}/api/v4/contacts", json={"_embedded": {"contacts": [{"id": 42}]}})

    assert amo.contacts_create([{"name": "Анна"}]) == [{"id": 42}]


@responses.activate
def test_custom_fields_list_follows_the_pages(amo, oauth_token):
    url = f"{BASE}/api/v4/leads/custom_fields"
    page1 = {
        "_links": {"next": {"href": f"{url}?page=2"}},
        "_embedded": {"custom_fields": [{"id": 1}, {"id": 2}]},
    }
    page2 = {"_links": {"self": {"href": f"{url}?page=2"}}, "_embedded": {"custom_fields": [{"id": 3}]}}
    responses.get(
        url, json=page1, match=[responses.matchers.query_param_matcher({"limit": "50", "page": "1"})]
    )
    responses.get(
        url, json=page2, match=[responses.matchers.query_param_matcher({"limit": "50", "page": "2"})]
    )

    assert [f["id"] for f in amo.custom_fields_list()] == [1, 2, 3]
    assert len(responses.calls) == 2


@responses.activate
def test_webhook_subscribe_posts_destination_and_events(amo, oauth_token):
    responses.post(f"{BASE}/api/v4/webhooks", json={"id": 1, "destination": "https://x.example/"})

    amo.webhook_subscribe("https://x.example/", ["update_lead", "status_lead"])

    assert request_json(responses.calls[0]) == {
        "destination": "https://x.example/",
        "settings": ["update_lead", "status_lead"],
        "sort": 10,
    }


# -- 401: refresh once, retry once ---------------------------------------------------------------


@responses.activate
def test_401_refreshes_once_and_retries_with_the_new_token(amo, oauth_token):
    responses.get(
        f"{LEADS_URL}/1",
        status=401,
        match=[responses.matchers.header_matcher({"Authorization": f"Bearer {ACCESS}"})],
    )
    responses.get(
        f"{LEADS_URL}/1",
        json={"id": 1},
        match=[responses.matchers.header_matcher({"Authorization": f"Bearer {NEW_ACCESS}"})],
    )
    responses.post(TOKEN_URL, json=token_answer())

    assert amo.lead_get(1) == {"id": 1}

    refresh = request_json(responses.calls[1])
    assert refresh == {
        "client_id": "client-id-42",
        "client_secret": CLIENT_SECRET,
        "redirect_uri": "https://flowers.example.ru/amocrm/oauth/callback/",
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
    }
    stored = OAuthToken.objects.get()
    assert (stored.access_token, stored.refresh_token) == (NEW_ACCESS, NEW_REFRESH)
    assert stored.last_refreshed_at is not None


@responses.activate
def test_a_second_401_after_the_refresh_is_an_auth_error(amo, oauth_token):
    responses.get(f"{LEADS_URL}/1", status=401)
    responses.post(TOKEN_URL, json=token_answer())

    with pytest.raises(AmoCRMAuthError):
        amo.lead_get(1)

    assert [c.request.url.split("?")[0] for c in responses.calls] == [
        f"{LEADS_URL}/1",
        TOKEN_URL,
        f"{LEADS_URL}/1",
    ]


@responses.activate
def test_an_expiring_token_is_refreshed_before_the_request(amo, expiring_token):
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(f"{LEADS_URL}/1", json={"id": 1})

    amo.lead_get(1)

    assert responses.calls[0].request.url == TOKEN_URL
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {NEW_ACCESS}"


@responses.activate
def test_a_revoked_refresh_token_is_an_auth_error(amo, oauth_token):
    responses.get(f"{LEADS_URL}/1", status=401)
    responses.post(TOKEN_URL, status=400, json={"title": "Bad Request", "hint": "Token has been revoked"})

    with pytest.raises(AmoCRMAuthError, match="Token has been revoked"):
        amo.lead_get(1)

    assert OAuthToken.objects.get().access_token == ACCESS  # nothing half-written


@responses.activate
def test_long_lived_token_is_sent_and_a_401_is_not_refreshed(sleeps):
    responses.get(f"{LEADS_URL}/1", status=401)
    amo = AmoCRMClient(
        base_url=BASE, tokens=StaticTokenSource("long-SECRET"), limiter=NoRateLimiter(), sleep=sleeps.append
    )

    with pytest.raises(AmoCRMAuthError, match="AMOCRM_LONG_LIVED_TOKEN"):
        amo.lead_get(1)

    assert len(responses.calls) == 1
    assert responses.calls[0].request.headers["Authorization"] == "Bearer long-SECRET"


# -- 429, 5xx, timeouts: bounded retries ---------------------------------------------------------


@responses.activate
def test_429_waits_as_long_as_retry_after_says_then_retries(amo, oauth_token, sleeps):
    responses.get(f"{LEADS_URL}/1", status=429, headers={"Retry-After": "7"}, body="")
    responses.get(f"{LEADS_URL}/1", json={"id": 1})

    assert amo.lead_get(1) == {"id": 1}
    assert sleeps[-1] >= 7


@responses.activate
def test_429_without_retry_after_backs_off_exponentially(amo, oauth_token, sleeps):
    responses.get(f"{LEADS_URL}/1", status=429, body="<html>Too many</html>")
    responses.get(f"{LEADS_URL}/1", status=429, body="<html>Too many</html>")
    responses.get(f"{LEADS_URL}/1", json={"id": 1})

    amo.lead_get(1)

    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0


@responses.activate
def test_429_with_a_retry_after_beyond_the_cap_is_left_to_the_caller(amo, oauth_token, sleeps):
    responses.get(f"{LEADS_URL}/1", status=429, headers={"Retry-After": "600"})

    with pytest.raises(AmoCRMRateLimited) as excinfo:
        amo.lead_get(1)

    assert excinfo.value.retry_after == 600
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_5xx_is_retried_a_bounded_number_of_times(amo, oauth_token, sleeps):
    responses.get(f"{LEADS_URL}/1", status=503)

    with pytest.raises(AmoCRMUnavailable) as excinfo:
        amo.lead_get(1)

    assert excinfo.value.status == 503
    assert len(responses.calls) == 1 + amo.max_retries
    assert sleeps == sorted(sleeps) and len(sleeps) == amo.max_retries


@responses.activate
def test_the_configured_client_backs_off_through_the_injectable_sleep(oauth_token, sleeps):
    responses.get(f"{LEADS_URL}/1", status=503)
    responses.get(f"{LEADS_URL}/1", json={"id": 1})

    assert connection.client_get(jitter=lambda: 0.0).lead_get(1, with_contacts=False) == {"id": 1}
    assert len(responses.calls) == 2 and sleeps == [0.5]


@responses.activate
def test_400_is_not_retried_and_carries_amocrm_paths(amo, oauth_token, sleeps):
    responses.post(LEADS_URL, status=400, json=load_fixture("validation_error.json"))

    with pytest.raises(AmoCRMValidationError) as excinfo:
        amo.leads_create([{"name": "x", "price": "1500"}])

    assert len(responses.calls) == 1 and sleeps == []
    assert excinfo.value.paths == ["custom_fields_values.0.field_id", "price"]
    assert excinfo.value.errors[0].code == "NotSupportedChoice"
    assert "custom_fields_values.0.field_id" in str(excinfo.value)


@responses.activate
def test_timeout_is_retried_for_a_read(amo, oauth_token):
    responses.get(f"{LEADS_URL}/1", body=requests.Timeout())
    responses.get(f"{LEADS_URL}/1", json={"id": 1})

    assert amo.lead_get(1) == {"id": 1}


@responses.activate
def test_timeout_of_a_create_is_not_retried_so_no_lead_is_created_twice(amo, oauth_token):
    responses.post(LEADS_URL, body=requests.ReadTimeout())

    with pytest.raises(AmoCRMUnavailable, match="did not answer in time"):
        amo.leads_create([{"name": "x"}])

    assert len(responses.calls) == 1


@responses.activate
def test_connection_errors_are_retried_then_raised_typed(amo, oauth_token, sleeps):
    responses.get(f"{LEADS_URL}/1", body=requests.ConnectionError("connection reset"))

    with pytest.raises(AmoCRMUnavailable) as excinfo:
        amo.lead_get(1)

    assert isinstance(excinfo.value.__cause__, requests.ConnectionError)
    assert len(responses.calls) == 1 + amo.max_retries


@responses.activate
def test_a_create_is_retried_when_the_connection_was_never_made(amo, oauth_token):
    responses.post(LEADS_URL, body=requests.ConnectTimeout())
    responses.post(LEADS_URL, json={"_embedded": {"leads": [{"id": 7}]}})

    assert amo.leads_create([{"name": "x"}]) == [{"id": 7}]


@pytest.mark.parametrize(
    ("status", "error"),
    [(402, AmoCRMPaymentRequired), (403, AmoCRMForbidden), (404, AmoCRMNotFound)],
)
@responses.activate
def test_permanent_errors_are_typed_and_not_retried(amo, oauth_token, sleeps, status, error):
    responses.get(f"{LEADS_URL}/1", status=status, body="<html>blocked</html>")

    with pytest.raises(error):
        amo.lead_get(1)

    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_every_request_takes_a_rate_limit_slot_first(oauth_token):
    class CountingLimiter:
        calls = 0

        def acquire(self):
            self.calls += 1

    limiter = CountingLimiter()
    responses.get(f"{LEADS_URL}/1", status=503)
    responses.get(f"{LEADS_URL}/1", json={"id": 1})
    amo = AmoCRMClient(base_url=BASE, tokens=StaticTokenSource("t"), limiter=limiter, sleep=lambda s: None)

    amo.lead_get(1)

    assert limiter.calls == len(responses.calls) == 2


# -- logging -------------------------------------------------------------------------------------


@responses.activate
def test_one_log_line_per_call_without_tokens_bodies_or_emails(amo, oauth_token, caplog):
    caplog.set_level(logging.DEBUG)
    responses.get(f"{LEADS_URL}/1", status=401)
    responses.get(f"{LEADS_URL}/1", json={"id": 1}, headers={"X-Request-Id": "req-77"})
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(f"{BASE}/api/v4/contacts", status=204)
    responses.post(LEADS_URL, status=400, json=load_fixture("validation_error.json"))

    amo.lead_get(1)
    amo.contact_find_by_email("anna@example.ru")
    with pytest.raises(AmoCRMValidationError):
        amo.leads_create([{"name": "Подписка на цветы — anna@example.ru"}])

    request_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("amocrm.request ")]
    assert len(request_lines) == len(responses.calls) == 5
    assert "method=GET path=/api/v4/leads/1 status=200" in request_lines[2]
    assert "request_id=req-77" in request_lines[2] and "duration_ms=" in request_lines[2]
    everything = caplog.text
    for secret in (ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH, CLIENT_SECRET, "anna@example.ru", "Bearer"):
        assert secret not in everything


@responses.activate
def test_an_expiring_token_is_still_used_when_the_token_endpoint_is_down(amo, expiring_token):
    responses.post(TOKEN_URL, status=503)
    responses.get(f"{LEADS_URL}/1", json={"id": 1})

    assert amo.lead_get(1) == {"id": 1}
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {ACCESS}"
