"""In a real browser: a customer who asked for a code for a mistyped address can always go back,
to another address or to the password (issue 27 item 2); axe-core finds nothing on those pages."""

import re

import pytest

from tools.harness.browser import PHONE, axe_violations, sign_up, submit
from tools.harness.site import signup_data, unique_email

pytestmark = pytest.mark.e2e


def test_a_customer_who_mistyped_the_address_corrects_it_or_uses_the_password(stack, new_page):
    data = signup_data(unique_email("wayback"))
    sign_up(new_page(), data)
    typo = data["email"].replace("@", "@x")

    page = new_page(PHONE)
    page.goto("/login/code/")
    assert axe_violations(page) == []
    page.fill("[name=email]", typo)
    submit(page)
    page.wait_for_url(re.compile(r"/login/code/confirm/$"))
    assert page.locator(".messages").count() == 0  # no flash beside the page's own "if we have it"
    assert axe_violations(page) == []

    page.get_by_role("link", name="Изменить адрес").click()
    page.wait_for_url(re.compile(r"/login/code/$"))
    assert page.input_value("[name=email]") == typo  # the typed address, to correct

    page.get_by_role("link", name="Войти с паролем").click()
    page.wait_for_url(re.compile(r"/login/$"))
    assert axe_violations(page) == []
    page.fill("[name=login]", data["email"])
    page.fill("[name=password]", data["password1"])
    submit(page)
    page.wait_for_url(re.compile(r"/account/$"))


def test_the_password_page_stays_open_while_a_code_is_pending(stack, new_page):
    data = signup_data(unique_email("pending"))
    sign_up(new_page(), data)

    page = new_page(PHONE)
    page.goto("/login/code/")
    page.fill("[name=email]", data["email"])
    submit(page)
    page.wait_for_url(re.compile(r"/login/code/confirm/$"))
    page.get_by_role("link", name="Войти с паролем").click()

    page.wait_for_url(re.compile(r"/login/$"))
    assert page.locator("h1").inner_text() == "Войти"
