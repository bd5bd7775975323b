"""`check --deploy` names AMOCRM_BASE_URL when tokens would cross the network in plain http."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

pytestmark = pytest.mark.django_db


def deploy_check() -> str:
    out = StringIO()
    try:
        call_command("check", "--deploy", "--fail-level", "WARNING", stdout=out, stderr=out)
    except SystemCheckError as e:
        return str(e)
    return out.getvalue()


def test_a_plain_http_base_url_with_debug_off_is_named_by_check_deploy(settings):
    settings.DEBUG = False
    settings.AMOCRM_BASE_URL = "http://flowers.amocrm.ru"

    assert "AMOCRM_BASE_URL" in deploy_check()
    assert "amocrm.W001" in deploy_check()


@pytest.mark.parametrize(
    ("debug", "base_url"),
    [(False, "https://flowers.amocrm.ru"), (False, ""), (True, "http://127.0.0.1:8001")],
)
def test_https_no_integration_or_debug_pass_the_amocrm_check(settings, debug, base_url):
    settings.DEBUG = debug
    settings.AMOCRM_BASE_URL = base_url

    assert "amocrm.W001" not in deploy_check()


def test_the_check_is_a_deploy_check_only(settings):
    settings.DEBUG = False
    settings.AMOCRM_BASE_URL = "http://flowers.amocrm.ru"
    out = StringIO()

    call_command("check", stdout=out)

    assert "amocrm.W001" not in out.getvalue()
