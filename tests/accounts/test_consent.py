"""152-FZ consent: a separate, unticked, required box at signup; the texts; the append-only record."""

import hashlib
import re
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from accounts import legal
from accounts.models import ConsentRecord, LegalText, User
from tests.accounts.helpers import field_errors, input_value, page_text, textarea_value

pytestmark = pytest.mark.django_db


def consent_page_body(client) -> str:
    """The document exactly as the consent page shows it (between the article tag and the version)."""
    page = client.get(reverse("legal_consent")).content.decode()
    return re.search(r'<article class="card legal">\s*(.*?)\s*<p class="aside">', page, re.S).group(1)


def test_signup_page_has_the_consent_box_unticked_and_linked_to_its_text(client):
    page = client.get(reverse("account_signup")).content.decode()

    box = re.search(r'<input[^>]*name="consent"[^>]*>', page).group(0)
    assert 'type="checkbox"' in box
    assert "checked" not in box
    assert "required" in box
    assert f'href="{reverse("legal_consent")}"' in page


def test_signup_without_the_box_is_refused_in_russian_and_keeps_what_was_typed(client, signup_data):
    data = signup_data()
    del data["consent"]

    response = client.post(reverse("account_signup"), data)

    assert response.status_code == HTTPStatus.OK
    assert not User.objects.filter(email="anna@example.ru").exists()
    assert "Без вашего согласия на обработку персональных данных" in field_errors(response, "consent")
    assert input_value(response, "email") == "anna@example.ru"
    assert input_value(response, "delivery_address") == "Москва, ул. Тверская, 7, кв. 12"
    assert textarea_value(response, "wishes") == "Побольше пионов, без лилий"


def test_signup_records_the_consent_with_the_hash_of_the_text_shown(client, signup_data):
    shown = consent_page_body(client)

    client.post(
        reverse("account_signup"),
        signup_data(),
        HTTP_USER_AGENT="Mozilla/5.0 (Android) Test",
        REMOTE_ADDR="203.0.113.7",
    )

    record = ConsentRecord.objects.get(user__email="anna@example.ru")
    assert record.action == ConsentRecord.Action.GIVEN
    assert record.text.kind == LegalText.Kind.CONSENT
    assert record.text.version == "2025-09-01"
    assert record.text.sha256 == hashlib.sha256(shown.encode()).hexdigest()
    assert record.text.text == shown
    assert record.ip_address == "203.0.113.7"
    assert record.user_agent == "Mozilla/5.0 (Android) Test"
    assert record.created_at is not None


def test_consent_and_policy_pages_name_the_operator_from_the_settings(client, settings):
    settings.OPERATOR_NAME = "ООО «Ромашка»"
    settings.OPERATOR_INN = "7701234567"
    settings.OPERATOR_ADDRESS = "Москва, ул. Садовая, 5"
    settings.OPERATOR_EMAIL = "pd@romashka.ru"

    for name in ("legal_consent", "legal_privacy"):
        text = page_text(client.get(reverse(name)))
        assert "ООО «Ромашка»" in text
        assert "7701234567" in text
        assert "pd@romashka.ru" in text
        assert "Версия 2025-09-01" in text


def test_every_page_footer_links_the_policy_and_names_the_operator(client, customer_client, settings):
    settings.OPERATOR_INN = "7701234567"
    for url in (reverse("home"), reverse("account_login"), reverse("accounts:dashboard")):
        page = page_text(customer_client.get(url, follow=True))
        footer = page[page.index('<footer class="site-footer">') :]
        assert f'href="{reverse("legal_privacy")}"' in footer
        assert "Оператор персональных данных" in footer
        assert "7701234567" in footer


def test_staff_replace_a_text_from_the_legal_texts_dir_without_a_release(client, settings, tmp_path):
    (tmp_path / "legal").mkdir()
    (tmp_path / "legal" / "consent.html").write_text(
        "{# version: 2026-01-15 #}\n<h1>Согласие</h1><p>Новый текст, {{ operator.name }}.</p>",
        encoding="utf-8",
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]

    document = legal.document_render(kind=LegalText.Kind.CONSENT)

    assert document.version == "2026-01-15"
    assert "Новый текст" in document.text
    assert "Новый текст" in page_text(client.get(reverse("legal_consent")))


def test_consent_records_are_never_changed_or_deleted(client, signup_data):
    client.post(reverse("account_signup"), signup_data())
    record = ConsentRecord.objects.get()

    with pytest.raises(ValueError, match="append-only"):
        record.save()
    with pytest.raises(ValueError, match="append-only"):
        record.delete()
    assert ConsentRecord.objects.count() == 1


def test_staff_see_the_consents_read_only_on_the_customer_card(signup_data, superuser_client):
    Client().post(reverse("account_signup"), signup_data(), HTTP_USER_AGENT="Firefox/140")
    user = User.objects.get(email="anna@example.ru")
    record = ConsentRecord.objects.get(user=user)

    # The user's page leads to the card: one entry per customer (accounts.admin_card).
    response = superuser_client.get(reverse("admin:accounts_user_change", args=[user.pk]), follow=True)

    card = page_text(response)
    assert response.redirect_chain[-1][0] == reverse("admin:accounts_profile_change", args=[user.profile.pk])
    assert record.text.sha256 in card
    assert "Firefox/140" in card
    assert not re.search(r'name="consents-', card)
