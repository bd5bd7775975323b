import datetime
import json
import re
from itertools import count

import pytest
import responses
from cryptography.fernet import Fernet
from django.db import connection
from django.utils import timezone

from accounts.models import BouquetCategory, Profile
from amocrm import mapping
from amocrm.client import AmoCRMClient
from amocrm.models import CustomField, CustomFieldEnum, LeadSync, OAuthToken
from amocrm.ratelimit import DatabaseRateLimiter
from amocrm.services import connection as amocrm_connection
from amocrm.services.connection import DatabaseTokenSource
from amocrm.services.fields import field_map_load

BASE = "https://flowers.amocrm.ru"
TOKEN_URL = f"{BASE}/oauth2/access_token"
# Distinctive values, so a test can prove they never show up where they must not.
ACCESS = "access-SECRET-1f0c"
REFRESH = "refresh-SECRET-9a7e"
NEW_ACCESS = "access-SECRET-NEW-55b2"
NEW_REFRESH = "refresh-SECRET-NEW-c3d4"
CLIENT_SECRET = "client-SECRET-0000"
LEAD, CONTACT = 30000001, 40000001  # the lead and contact `linked` holds
LEADS_URL = f"{BASE}/api/v4/leads"
CONTACTS_URL = f"{BASE}/api/v4/contacts"
COMPLEX_URL = f"{BASE}/api/v4/leads/complex"
EVENTS_URL = f"{BASE}/api/v4/events"
WEBHOOK_SECRET = "hook-SECRET-7f3a9c"


@pytest.fixture(autouse=True)
def _skip_postgres_only(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: DATABASE_URL=postgres://...")


@pytest.fixture(autouse=True)
def amocrm_settings(settings):
    settings.AMOCRM_BASE_URL = BASE
    settings.AMOCRM_CLIENT_ID = "client-id-42"
    settings.AMOCRM_CLIENT_SECRET = CLIENT_SECRET
    settings.AMOCRM_REDIRECT_URI = "https://flowers.example.ru/amocrm/oauth/callback/"
    settings.AMOCRM_AUTHORIZE_URL = "https://www.amocrm.ru/oauth"
    settings.AMOCRM_LONG_LIVED_TOKEN = ""
    settings.AMOCRM_RATE_LIMIT = 1000  # commands build their own client; keep them from really waiting
    settings.AMOCRM_TIMEOUT = 10
    settings.AMOCRM_TOKEN_KEYS = [Fernet.generate_key().decode()]
    # The lead's history notes have their own tests (test_notes.py); elsewhere they would add a
    # notes request to every sync these tests count.
    settings.AMOCRM_LEAD_NOTES = False
    return settings


@pytest.fixture
def webhook_settings(amocrm_settings):
    """Webhooks accepted at WEBHOOK_SECRET from any account; stages 142 and 143 mean active and closed."""
    amocrm_settings.AMOCRM_WEBHOOK_SECRET = WEBHOOK_SECRET
    amocrm_settings.AMOCRM_ACCOUNT_ID = ""
    amocrm_settings.AMOCRM_ACCOUNT_SUBDOMAIN = ""
    amocrm_settings.AMOCRM_STATUS_MAP = {142: "active", 143: "closed"}
    return amocrm_settings


def token_answer(access: str = NEW_ACCESS, refresh: str = NEW_REFRESH, expires_in: int = 86400) -> dict:
    return {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "access_token": access,
        "refresh_token": refresh,
    }


@pytest.fixture
def oauth_token(db) -> OAuthToken:
    """A connected account whose access token is valid for another day."""
    token = OAuthToken(base_url=BASE)
    token.set_tokens(access_token=ACCESS, refresh_token=REFRESH, expires_in=86400)
    token.save()
    return token


@pytest.fixture
def expiring_token(oauth_token) -> OAuthToken:
    oauth_token.expires_at = timezone.now() + datetime.timedelta(minutes=1)
    oauth_token.save()
    return oauth_token


@pytest.fixture
def sleeps() -> list[float]:
    """Where the client's injected sleep records its waits (tests never really sleep)."""
    return []


@pytest.fixture(autouse=True)
def _backoff_recorded(monkeypatch, sleeps):
    """Clients the code builds itself (tasks, commands) record their backoff in `sleeps` too."""
    monkeypatch.setattr(amocrm_connection, "backoff_sleep", sleeps.append)


@pytest.fixture
def limiter_waits() -> list[float]:
    return []


@pytest.fixture
def amo(db, sleeps, limiter_waits) -> AmoCRMClient:
    """The real client, database limiter and token source; waits are recorded, never slept."""
    return AmoCRMClient(
        base_url=BASE,
        tokens=DatabaseTokenSource(),
        limiter=DatabaseRateLimiter(rate=7, sleep=limiter_waits.append),
        sleep=sleeps.append,
        jitter=lambda: 0.0,
    )


def load_fixture(name: str):
    from pathlib import Path

    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


def request_json(call) -> object:
    return json.loads(call.request.body)


class FakeAmoCRM:
    """Just enough of amoCRM's lead custom-field endpoints, with state, for the setup command."""

    def __init__(self, fields: list[dict] | None = None, page_size: int = 3) -> None:
        self.ids = count(600001)
        self.enum_ids = count(900001)
        self.fields = [self._with_ids(f) for f in fields or []]
        self.page_size = page_size

    def _with_ids(self, field: dict) -> dict:
        field = {"id": field.get("id") or next(self.ids), "code": None, "sort": 500, **field}
        if field.get("enums") is not None:
            field["enums"] = [
                {"id": e.get("id") or next(self.enum_ids), "sort": 1, **e} for e in field["enums"]
            ]
        else:
            field["enums"] = None
        return field

    def register(self, mock=responses) -> None:
        url = f"{BASE}/api/v4/leads/custom_fields"
        mock.add_callback(responses.GET, url, callback=self.list)
        mock.add_callback(responses.POST, url, callback=self.create)
        mock.add_callback(responses.PATCH, re.compile(rf"{re.escape(url)}/\d+"), callback=self.update)
        mock.add_callback(responses.GET, re.compile(rf"{re.escape(url)}/\d+"), callback=self.get)

    def list(self, request):
        page = int(request.params.get("page", 1))
        chunk = self.fields[(page - 1) * self.page_size : page * self.page_size]
        if not chunk:
            return (204, {}, "")
        links = {"self": {"href": f"{request.url}"}}
        if page * self.page_size < len(self.fields):
            links["next"] = {"href": f"{BASE}/api/v4/leads/custom_fields?page={page + 1}&limit=50"}
        body = {"_page": page, "_links": links, "_embedded": {"custom_fields": chunk}}
        return (200, {"Content-Type": "application/hal+json"}, json.dumps(body))

    def create(self, request):
        created = [self._with_ids(dict(f)) for f in json.loads(request.body)]
        self.fields.extend(created)
        body = {"_total_items": len(created), "_embedded": {"custom_fields": created}}
        return (200, {"Content-Type": "application/hal+json"}, json.dumps(body))

    def _field(self, request) -> dict:
        field_id = int(request.url.rstrip("/").split("/")[-1])
        return next(f for f in self.fields if f["id"] == field_id)

    def update(self, request):
        field = self._field(request)
        data = json.loads(request.body)
        if "enums" in data:
            # amoCRM replaces the list: enums sent without an id are new, enums left out are deleted.
            field["enums"] = [{**e, "id": e.get("id") or next(self.enum_ids)} for e in data["enums"]]
        return (200, {"Content-Type": "application/hal+json"}, json.dumps(field))

    def get(self, request):
        return (200, {"Content-Type": "application/hal+json"}, json.dumps(self._field(request)))

    def by_code(self, code: str) -> dict:
        return next(f for f in self.fields if f.get("code") == code)


# The ids `amocrm_setup_fields` would have stored, for tests that need the field mapping.
FIELD_IDS = {spec.key: 600001 + i for i, spec in enumerate(mapping.FIELDS)}


@pytest.fixture
def field_map(db) -> mapping.FieldMap:
    """The ids `amocrm_setup_fields` would have stored: fields 600001…, enums 900001…"""
    enum_ids = count(900001)
    choices = {
        CustomField.Key.BOUQUET_CATEGORY: [(c.slug, c.name) for c in BouquetCategory.objects.all()],
        CustomField.Key.DELIVERY_INTERVAL: mapping.choice_enums(Profile.DeliveryInterval),
        CustomField.Key.ACCOUNT_STATUS: mapping.choice_enums(Profile.AccountStatus),
    }
    for spec in mapping.FIELDS:
        field = CustomField.objects.create(
            key=spec.key, field_id=FIELD_IDS[spec.key], field_type=spec.type, code=spec.code, name=spec.name
        )
        for key, label in choices.get(spec.key, []):
            CustomFieldEnum.objects.create(field=field, key=key, enum_id=next(enum_ids), value=label)
    return field_map_load()


def link(profile: Profile, field_map: mapping.FieldMap, *, lead_id: int = LEAD, **columns: object) -> Profile:
    """Mark the profile's lead synced: amoCRM holds exactly the profile's values, nothing is due.
    `columns` sets other LeadSync columns (contact_id, crm_status_id, …)."""
    LeadSync.objects.filter(profile=profile).update(
        lead_id=lead_id,
        status=LeadSync.Status.SYNCED,
        synced_values=mapping.lead_state(profile, field_map),
        pending_since=None,
        next_attempt_at=None,
        **columns,
    )
    return Profile.objects.get(pk=profile.pk)


@pytest.fixture
def crm(oauth_token, field_map):
    """amoCRM connected (OAuth token stored) and its fields set up."""
    return field_map


@pytest.fixture
def linked(profile_factory, field_map, oauth_token) -> Profile:
    """A profile whose lead LEAD and contact CONTACT (made by us, without a phone) amoCRM holds
    exactly as the site sent them."""
    return link(profile_factory(), field_map, contact_id=CONTACT, contact_phone="")


@pytest.fixture
def no_lead_events():
    """amoCRM lists no lead deleted or restored (a reconciliation run asks after reading leads and
    contacts): registered on `responses`' default mock, which the test's `@responses.activate` uses."""
    responses.get(EVENTS_URL, status=204)
