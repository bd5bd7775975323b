"""A form POST that declares a charset other than UTF-8 gets the 400 page and one log line.

Django refuses such a body with BadRequest when request.POST is read; its error views then read
request.POST again (requires_csrf_token) and raise again: a 500 and a chain of tracebacks.
"""

import logging
from http import HTTPStatus

import pytest
from django.test import Client

from tests.accounts.helpers import page_text

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "webhook-path-secret-0123456789"


@pytest.fixture
def browser(settings) -> Client:
    settings.AMOCRM_WEBHOOK_SECRET = WEBHOOK_SECRET
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.get("/login/")  # the CSRF cookie, as a browser has it
    return client


@pytest.mark.parametrize("path", ["/login/", "/signup/", f"/amocrm/webhook/{WEBHOOK_SECRET}/"])
@pytest.mark.parametrize("charset", ["cp1251", "utf-7", "latin-1", "utf-16"])
def test_form_post_in_another_charset_answers_400_with_one_log_line(browser, caplog, path, charset):
    with caplog.at_level(logging.INFO):
        response = browser.post(
            path,
            data="login=anna%40example.ru&password=x",
            content_type=f"application/x-www-form-urlencoded; charset={charset}",
        )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Неверный запрос" in page_text(response)
    assert len(caplog.records) == 1, [record.getMessage() for record in caplog.records]
    assert caplog.records[0].exc_info is None
    assert "Traceback" not in caplog.text


def test_form_post_in_utf8_is_untouched(browser):
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/login/",
        data=f"login=anna%40example.ru&password=x&csrfmiddlewaretoken={token}",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )

    # The body was read: the usual answer to a wrong address and password.
    assert response.status_code == HTTPStatus.OK
    assert "Указанные вами адрес электронной почты и/или пароль неверны." in page_text(response)
