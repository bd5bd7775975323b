"""Staff reach the admin through the site's login page (allauth's limits guard it) in a real browser."""

import re

import pytest

from tools.harness.browser import submit
from tools.harness.site import PASSWORD, manage, unique_email

pytestmark = pytest.mark.e2e


def test_staff_open_the_admin_through_the_site_login_and_land_in_it(stack, new_page):
    email = unique_email("staff")
    env = {**stack.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    manage(env, "createsuperuser", "--noinput", "--email", email)
    page = new_page()

    page.goto("/admin/")
    page.wait_for_url(re.compile(r"/login/\?next=%2Fadmin%2F$"))
    page.fill("[name=login]", email)
    page.fill("[name=password]", PASSWORD)
    submit(page)

    page.wait_for_url(re.compile(r"/admin/$"))
    assert "Администрирование Flower Account" in page.locator("#site-name").inner_text()
