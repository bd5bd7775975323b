"""Who may connect amoCRM and act on its rows (issue 24 item 4): superusers and holders of a
dedicated permission connect; view-only staff see the rows but may not resync or apply again."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from amocrm.models import LeadSync, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client, user_factory):
    """Staff who may only view amoCRM's rows and profiles."""
    user = user_factory(is_staff=True)
    codenames = ["view_leadsync", "view_webhookevent", "view_oauthtoken", "view_profile"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def actions_offered(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    form = response.context.get("action_form")
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


def test_view_only_staff_are_not_offered_resync_or_apply_again(viewer_client, customer):
    WebhookEvent.objects.create(lead_id=1, dedupe_key="key-1", action="update")

    assert "resync_selected" not in actions_offered(
        viewer_client, reverse("admin:amocrm_leadsync_changelist")
    )
    assert "resync_to_amocrm" not in actions_offered(
        viewer_client, reverse("admin:accounts_profile_changelist")
    )
    assert "reprocess_selected" not in actions_offered(
        viewer_client, reverse("admin:amocrm_webhookevent_changelist")
    )


def test_view_only_staff_posting_a_resync_queue_nothing(viewer_client, customer, enqueued):
    sync = LeadSync.objects.get(profile=customer)

    viewer_client.post(
        reverse("admin:amocrm_leadsync_changelist"),
        {"action": "resync_selected", "_selected_action": [sync.pk]},
    )

    assert enqueued == []


def test_superusers_are_offered_resync_and_apply_again(superuser_client, customer):
    WebhookEvent.objects.create(lead_id=1, dedupe_key="key-1", action="update")

    assert "resync_selected" in actions_offered(superuser_client, reverse("admin:amocrm_leadsync_changelist"))
    assert "reprocess_selected" in actions_offered(
        superuser_client, reverse("admin:amocrm_webhookevent_changelist")
    )


@pytest.fixture
def oauth_configured(settings):
    settings.AMOCRM_BASE_URL = "https://flowers.amocrm.ru"
    settings.AMOCRM_CLIENT_ID, settings.AMOCRM_CLIENT_SECRET = "id", "secret"
    settings.AMOCRM_REDIRECT_URI = "https://flowers.example.ru/amocrm/oauth/callback/"
    settings.AMOCRM_LONG_LIVED_TOKEN = ""


@pytest.mark.parametrize("page", ["admin:index", "admin:amocrm_oauthtoken_changelist"])
def test_the_connect_button_shows_to_superusers(superuser_client, oauth_configured, page):
    assert reverse("amocrm:oauth_start") in superuser_client.get(reverse(page)).content.decode()


@pytest.mark.parametrize("page", ["admin:index", "admin:amocrm_oauthtoken_changelist"])
def test_the_connect_button_is_hidden_from_staff_who_may_not_connect(viewer_client, oauth_configured, page):
    response = viewer_client.get(reverse(page))

    assert response.status_code == HTTPStatus.OK
    assert reverse("amocrm:oauth_start") not in response.content.decode()
