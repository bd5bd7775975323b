"""In a real browser, on a phone: what a new customer's walk through the site found (the
qa-customer round): a refused move said why only at the top of a page that had scrolled to the
card, and the close page's two buttons touched when they wrapped."""

import re

import pytest

from tools.harness.browser import PHONE, axe_violations, in_view, sign_up
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def test_a_refused_move_says_why_where_the_customer_is_looking(stack, new_page):
    page = new_page(PHONE)
    sign_up(page, signup_data(unique_email("refused")))
    first, second = page.locator(".delivery:has(details.delivery__move)").all()[:2]
    card_id = first.get_attribute("id")
    taken = second.locator("time").get_attribute("datetime")

    first.locator("summary").click()
    first.locator("input[name=delivery_on]").fill(taken)  # the next delivery's day
    first.get_by_role("button", name="Перенести доставку").click()
    page.wait_for_url(re.compile(rf"/account/#{card_id}$"))

    note = f"#{card_id} .delivery__notes"
    assert page.locator(note).inner_text() == "На этот день уже есть доставка — выберите другой."
    assert in_view(page, note)
    assert axe_violations(page) == []


def test_the_close_pages_two_buttons_do_not_touch_on_a_phone(stack, new_page):
    page = new_page(PHONE)
    sign_up(page, signup_data(unique_email("closing")))
    page.goto("/account/close/")

    close, keep = (b.bounding_box() for b in page.locator("main form .button").all())
    apart = max(keep["y"] - (close["y"] + close["height"]), keep["x"] - (close["x"] + close["width"]))

    assert apart >= 8  # px: two tap targets, one of them closes the subscription
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe_violations(page) == []


def test_the_account_pages_links_of_their_own_are_tap_sized_on_a_phone(stack, new_page):
    # Links standing alone (not inside a sentence) were 19-22 px high, under 38 px buttons.
    page = new_page(PHONE)
    sign_up(page, signup_data(unique_email("taps")))
    links = [
        *page.locator("a.delivery__details").all(),
        page.get_by_role("link", name="Закрыть подписку"),
        page.get_by_role("link", name="Изменить пароль"),
        page.get_by_role("link", name="Мои данные"),
    ]

    heights = {link.inner_text(): link.bounding_box()["height"] for link in links}

    assert min(heights.values()) >= 44, heights
