"""gunicorn's access log (GUNICORN_ACCESS_LOG=true) redacts secrets as the site's own log does."""

import datetime
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from gunicorn.config import Config

from tools.harness.database import sqlite_url
from tools.harness.processes import free_port
from tools.harness.site import GUNICORN_CONFIG, REQUEST_TIMEOUT, serving, site_env

WEBHOOK_SECRET = "hook-secret-in-the-path-0123456789"
SECRET_URLS = [
    (f"/amocrm/webhook/{WEBHOOK_SECRET}/", WEBHOOK_SECRET),
    ("/amocrm/oauth/callback/?code=def502001a2b3c4d5e6f&state=st4te-v4lue-42", "def502001a2b3c4d5e6f"),
    ("/amocrm/oauth/callback/?code=def502001a2b3c4d5e6f&state=st4te-v4lue-42", "st4te-v4lue-42"),
    (
        "/reset-password/MTI/cz7k4j-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d/",
        "cz7k4j-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
    ),
    (
        "/account/deliveries/skip/eyJkIjo0MiwibyI6IjIwMjctMDItMDQifQ:1vBcDe:Xy7_skipLinkSignature0/",
        "eyJkIjo0MiwibyI6IjIwMjctMDItMDQifQ:1vBcDe:Xy7_skipLinkSignature0",
    ),
]


def _config(log: Path) -> Config:
    """gunicorn's configuration as gunicorn.conf.py sets it, the access log going to `log`."""
    cfg = Config()
    namespace: dict = {}
    exec(compile(GUNICORN_CONFIG.read_text(), str(GUNICORN_CONFIG), "exec"), namespace)  # noqa: S102
    cfg.set("logger_class", namespace["logger_class"])
    cfg.set("accesslog", str(log))
    return cfg


def _access_line(url: str, tmp_path: Path, referer: str = "-") -> str:
    log = tmp_path / "access.log"
    cfg = _config(log)
    logger = cfg.logger_class(cfg)
    path, _, query = url.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": url,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": referer,
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    request = SimpleNamespace(headers=[("REFERER", referer)])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    return log.read_text()


@pytest.mark.parametrize(("url", "secret"), SECRET_URLS)
def test_access_log_redacts_secrets_in_the_request_line(tmp_path, url, secret):
    line = _access_line(url, tmp_path)

    assert "GET " in line and " 200 " in line  # a real access line was written
    assert secret not in line
    assert "[REDACTED]" in line


@pytest.mark.parametrize(("url", "secret"), SECRET_URLS)
def test_access_log_redacts_secrets_in_the_referrer(tmp_path, url, secret):
    line = _access_line("/account/", tmp_path, referer=f"https://flowers.example.ru{url}")

    assert secret not in line
    redacted = url
    for _, each in SECRET_URLS:  # the OAuth callback carries two secrets
        redacted = redacted.replace(each, "[REDACTED]")
    referrer = re.search(r'" 200 \d+ "([^"]*)"', line).group(1)  # the field after status and size
    assert referrer == f"https://flowers.example.ru{redacted}"


def test_access_log_keeps_ordinary_requests_readable(tmp_path):
    line = _access_line("/account/preferences/?saved=1", tmp_path)

    assert '"GET /account/preferences/?saved=1 HTTP/1.1" 200 512' in line


def test_gunicorn_serves_with_a_redacted_access_log_and_no_version_in_server():
    """The real thing: gunicorn with gunicorn.conf.py on 127.0.0.1, as production runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "site.sqlite3"
        database.touch()  # /healthz only runs SELECT 1: no tables needed
        port = free_port()
        env = site_env(
            sqlite_url(database), port, GUNICORN_ACCESS_LOG="true", AMOCRM_WEBHOOK_SECRET=WEBHOOK_SECRET
        )
        log = Path(tmp) / "gunicorn.log"
        with serving(env, port, log, workers=1) as (base_url, _):
            health = requests.get(f"{base_url}/healthz?code=def502001a2b3c4d5e6f", timeout=REQUEST_TIMEOUT)
            # GET on the POST-only webhook: 405, answered without a template or a table.
            webhook = requests.get(f"{base_url}/amocrm/webhook/{WEBHOOK_SECRET}/", timeout=REQUEST_TIMEOUT)
        text = log.read_text()

    assert health.status_code == 200
    assert webhook.status_code == 405
    assert "/healthz?code=[REDACTED]" in text
    assert "/amocrm/webhook/[REDACTED]/" in text
    assert WEBHOOK_SECRET not in text and "def502001a2b3c4d5e6f" not in text
    assert health.headers["Server"] == "gunicorn"  # gunicorn 27 names no version
    assert "/" not in health.headers["Server"]
