import pytest

from tools.harness.smtp import SmtpServer


@pytest.fixture
def transport(settings):
    """The site's mailers as settings.py makes them (the outbox is the default), with the worker's
    transport under the test's control: `transport.update(BACKEND=..., OPTIONS=...)`.

    pytest-django swaps every mailer for locmem; the default is put back from the settings module so
    these tests hold what production runs."""
    from flower_account import settings as site

    chosen = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    settings.MAILERS = {"default": site.MAILERS["default"], "transport": chosen}
    return chosen


def smtp_at(port: int, *, timeout: float = 5) -> dict:
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": timeout},
    }


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server
