import io
import json
import logging

import pytest

from flower_account.logging import JsonFormatter, RedactSecretsFilter, RequestIdFilter, request_id_var


def formatted(message: str, *args, formatter: logging.Formatter | None = None) -> str:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    RequestIdFilter().filter(record)
    RedactSecretsFilter().filter(record)
    return (formatter or logging.Formatter("%(message)s")).format(record)


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("headers={'Authorization': 'Bearer eyJhbGciOi.payload.sig'}", "eyJhbGciOi.payload.sig"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ('body={"access_token": "AT-123456789", "expires_in": 86400}', "AT-123456789"),
        ('body={"refresh_token": "RT-987654321"}', "RT-987654321"),
        ("client_secret=CS-secret-value&grant_type=refresh_token", "CS-secret-value"),
        ("login failed password=hunter2hunter2", "hunter2hunter2"),
        ("POST /signup/ password1=Tulips-42&password2=Tulips-42", "Tulips-42"),
        ("GET /amocrm/oauth/callback/?code=def50200abc&state=xyz", "def50200abc"),
        ("Not Found: /amocrm/webhook/s3cr3t-hook-path/", "s3cr3t-hook-path"),
        ("GET /amocrm/oauth/callback/?code=abc&state=st4te-value-42", "st4te-value-42"),
        ("Not Found: /reset-password/MTI/cz7k4j-0a1b2c3d4e5f6a7b/", "cz7k4j-0a1b2c3d4e5f6a7b"),
    ],
)
def test_redaction_filter_removes_secrets_from_log_lines(message, secret):
    line = formatted(message)
    assert secret not in line
    assert "[REDACTED]" in line


def test_redaction_applies_to_lazy_arguments():
    line = formatted("amocrm.token_refreshed token=%s account=%s", "AT-very-secret-token", 31000001)
    assert "AT-very-secret-token" not in line
    assert "31000001" in line


def test_redaction_removes_configured_secret_values_anywhere(settings):
    settings.AMOCRM_WEBHOOK_SECRET = "configured-webhook-secret-42"
    line = formatted("weird place: %s", "xx configured-webhook-secret-42 yy")
    assert "configured-webhook-secret-42" not in line


def test_redaction_keeps_the_reset_form_path_readable():
    assert formatted("GET /reset-password/MTI/set-password/") == "GET /reset-password/MTI/set-password/"


def test_redaction_keeps_ordinary_lines_intact():
    assert (
        formatted("amocrm.lead_updated lead_id=%s status=%s", 7, 200)
        == "amocrm.lead_updated lead_id=7 status=200"
    )


def test_redaction_cleans_tracebacks():
    try:
        raise ValueError("refresh failed refresh_token=RT-in-exception")
    except ValueError:
        record = logging.LogRecord("test", logging.ERROR, __file__, 1, "failed", None, logging.sys.exc_info())
    RedactSecretsFilter().filter(record)
    assert "RT-in-exception" not in logging.Formatter("%(message)s").format(record)


def test_json_formatter_writes_one_object_per_line_with_request_id():
    token = request_id_var.set("req-12345678")
    try:
        line = formatted("accounts.signup profile_id=%s", 5, formatter=JsonFormatter())
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "accounts.signup profile_id=5"
    assert entry["request_id"] == "req-12345678"
    assert entry["level"] == "INFO"
    assert "\n" not in line


def test_responses_carry_a_request_id_and_keep_a_well_formed_incoming_one(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-abcdef123456")
    assert response["X-Request-ID"] == "lb-abcdef123456"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert generated != "bad id\nwith newline"
    assert len(generated) == 32


def test_runservers_request_lines_are_redacted_too():
    """make run and make demo serve with runserver, whose request lines Django logs on a handler of
    its own; ours replaces it, so a reset link or the webhook secret in a path is redacted there too."""
    server = logging.getLogger("django.server")
    lines = io.StringIO()
    ours = [h for h in server.handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)]
    assert ours and not server.propagate  # Django's own handler is gone
    streams = [(handler, handler.setStream(lines)) for handler in ours]
    try:
        server.info('"%s" %s %s', "GET /reset-password/MQ/diudgd-e63e6d406d647e6ad4d5/ HTTP/1.1", "200", "5")
        server.warning('"%s" %s %s', "POST /amocrm/webhook/hook-S3CRET-path/ HTTP/1.1", "404", "5")
    finally:
        for handler, stream in streams:
            handler.setStream(stream)

    logged = lines.getvalue()
    assert logged.count("[REDACTED]") == 2, logged
    assert "diudgd-e63e6d406d647e6ad4d5" not in logged and "hook-S3CRET-path" not in logged
