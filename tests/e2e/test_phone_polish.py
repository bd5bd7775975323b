"""In a real browser, on a phone (issue 27 items 7, 9, 10): the account page returns to the card
that changed, opening "Перенести" leaves its row alone, "Запомнить меня" is one aligned line, the
referral block shares; axe-core finds nothing on the pages these touch."""

import datetime
import email
import email.policy
import re

import pytest

from tools.harness.browser import PHONE, axe_violations, in_view, sign_up, submit, wait_for
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def box(locator) -> list[int]:
    """Where the element sits on the page (not in the viewport, which a click may scroll)."""
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return [Math.round(r.x + scrollX), Math.round(r.y + scrollY)]; }"
    )


def test_moving_a_delivery_keeps_the_row_still_and_returns_to_its_card(stack, new_page):
    page = new_page(PHONE)
    sign_up(page, signup_data(unique_email("polish")))
    assert "Добро пожаловать, Анна!" in page.locator(".messages").inner_text()
    assert axe_violations(page) == []
    card = page.locator(".delivery:has(details.delivery__move)").last
    card_id = card.get_attribute("id")
    skip, summary = card.get_by_role("button", name=re.compile("Пропустить")), card.locator("summary")
    before = (box(skip), box(summary), box(card.locator("time")))

    summary.click()

    assert (box(skip), box(summary), box(card.locator("time"))) == before
    assert card.locator("input[name=delivery_on]").is_visible()
    assert axe_violations(page) == []
    day = datetime.date.fromisoformat(card.locator("time").get_attribute("datetime"))
    card.locator("input[name=delivery_on]").fill((day + datetime.timedelta(days=1)).isoformat())
    card.get_by_role("button", name="Перенести доставку").click()
    page.wait_for_url(re.compile(rf"/account/#{card_id}$"))
    assert in_view(page, f"#{card_id}")

    page.locator(f"#{card_id} form.inline-form button[type=submit]").click()  # skip it
    page.wait_for_url(re.compile(rf"/account/#{card_id}$"))
    assert in_view(page, f"#{card_id}")
    assert page.locator(f"#{card_id}.delivery--skipped").count() == 1


def test_the_referral_block_offers_telegram_and_whatsapp_and_the_landing_names_the_referrer(stack, new_page):
    page = new_page(PHONE)
    sign_up(page, signup_data(unique_email("share")))
    block = page.locator("section[aria-labelledby=referral-title]")
    link = block.locator("#referral-link").input_value()
    assert "500 ₽" in block.inner_text()
    assert (
        block.get_by_role("link", name="Telegram")
        .get_attribute("href")
        .startswith("https://t.me/share/url?url=")
    )
    assert block.get_by_role("link", name="WhatsApp").get_attribute("href").startswith("https://wa.me/?text=")

    friend = new_page(PHONE)
    friend.goto(link)
    friend.wait_for_url(re.compile(r"/signup/$"))
    assert "Анна приглашает вас в Flower Account." in friend.locator("main").inner_text()
    assert axe_violations(friend) == []


def test_remember_me_is_one_aligned_line_and_the_reset_page_states_the_rule(stack, new_page):
    page = new_page(PHONE)
    page.goto("/login/")
    box_top = page.locator("#id_remember").bounding_box()
    text_box = page.locator("label.checkbox span").bounding_box()
    assert abs((box_top["y"] + box_top["height"] / 2) - (text_box["y"] + text_box["height"] / 2)) < 3
    assert box_top["x"] < text_box["x"]
    assert axe_violations(page) == []

    data = signup_data(unique_email("rule"))
    sign_up(new_page(), data)
    page.goto("/forgot-password/")
    page.fill("[name=email]", data["email"])
    submit(page)
    page.wait_for_url(re.compile(r"/forgot-password/sent/$"))
    link_re = re.compile(re.escape(stack.site_url) + r"/reset-password/[^/\s]+/[^/\s]+/")
    page.goto(wait_for(lambda: emailed(stack, data["email"], link_re), "a reset link by email"))
    help_text = page.locator("#id_new_password1_helptext").inner_text()
    assert help_text == "Не короче 8 символов, не только цифры и не слишком простой."
    assert axe_violations(page) == []


def emailed(stack, address: str, pattern: re.Pattern) -> str | None:
    for path in stack.email_dir.glob("*.log"):  # Django's file backend: messages between dashes
        for chunk in path.read_text(errors="replace").split("-" * 79):
            message = email.message_from_string(chunk.strip(), policy=email.policy.default)
            if message["To"] == address and (
                match := pattern.search(message.get_body(("plain",)).get_content())
            ):
                return match.group(0)
    return None
