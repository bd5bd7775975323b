"""The account page's content is a Jinja2 template (flower_account/jinja2.py): its strings reach the
translators as any template's do, and everything a customer or a manager typed is escaped."""

import re
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

from accounts import page_texts
from tests.accounts.helpers import page_text

CONTENT = Path(settings.BASE_DIR) / "templates" / "jinja2" / "accounts" / "dashboard_content.html"
MSGIDS = re.findall(r'_\("([^"]*)"\)', CONTENT.read_text())


def test_makemessages_reads_every_string_of_the_content():
    extracted = templatize(CONTENT.read_text(), origin=str(CONTENT))
    assert len(MSGIDS) > 40
    assert [
        msgid for msgid in MSGIDS if f"_({msgid!r})" not in extracted and f'_("{msgid}")' not in extracted
    ] == []


def test_every_string_of_the_content_and_every_plural_is_translated():
    with translation.override("ru"):
        assert [msgid for msgid in MSGIDS if translation.gettext(msgid) == msgid] == []
        assert page_texts.friends_signed_up(5) == "По вашей ссылке зарегистрировались 5 человек."
        assert page_texts.skip_rule(1) == "Доставку можно пропустить не позднее чем за 1 день до неё."


def test_the_content_escapes_a_name_typed_into_a_translated_sentence(client, profile_factory):
    profile = profile_factory()
    profile.user.first_name = '<img src=x onerror="alert(1)">'
    profile.user.save()
    client.force_login(profile.user)

    html = client.get("/account/").content.decode()

    assert "<img src=x" not in html
    assert "Здравствуйте, &lt;img src=x onerror=&#34;alert(1)&#34;&gt;!" in html


def test_the_content_keeps_the_translations_own_markup_and_is_in_the_layout(customer_client):
    response = customer_client.get("/account/")
    html = response.content.decode()

    assert "&amp;nbsp;" not in html  # "%(price)s&nbsp;₽" kept as the translation has it
    assert re.search(r"Одна доставка: [\d\s\u00a0,]+&nbsp;₽\.", html)
    assert html.count('<main id="main"') == 1 and "<h1>" in html.split('<main id="main"')[1]
    assert "Баланс" in page_text(response)


def test_the_contents_urls_follow_the_script_prefix_they_are_looked_up_under():
    from django.urls import reverse, set_script_prefix

    from flower_account.jinja2 import url

    url_at_root = url("accounts:pause")
    assert url_at_root == reverse("accounts:pause")
    try:
        set_script_prefix("/shop/")
        assert url("accounts:pause") == "/shop" + reverse("accounts:pause", urlconf=None).removeprefix(
            "/shop"
        )
        assert url("accounts:pause").startswith("/shop/")
    finally:
        set_script_prefix("/")
    assert url("accounts:pause") == url_at_root
