"""Logging helpers: a request id on every line, JSON lines on demand, and secrets redacted.

The redaction is a safety net, not the policy: code logs ids and status codes, never secrets
(STYLE §10). The filter catches what slips through anyway, e.g. a third-party library logging a
URL with the webhook secret in its path or an `Authorization` header.
"""

import contextvars
import json
import logging
import re
from typing import Any

from django.conf import settings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REDACTED = "[REDACTED]"
SECRET_PATTERNS = [
    # Authorization headers and bearer tokens, however they are quoted.
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+)?[^\s'\",}]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # key=value or "key": "value" pairs whose key names a secret.
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|password\d?|passwd|secret|token|api_key|auth_code)"
        r"['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,}]+"
    ),
    # OAuth authorization codes and their state in query strings (?code=...&state=...).
    re.compile(r"([?&](?:code|state)=)[^&\s'\"]+"),
    # The webhook secret travels in the path: /amocrm/webhook/<secret>/
    re.compile(r"(/amocrm/webhook/)[^/\s'\"?]+"),
    # So does a password reset token: /reset-password/<uidb64>/<token>/ (Django then redirects to
    # /reset-password/<uidb64>/set-password/, which holds no secret).
    re.compile(r"(/reset-password/[^/\s'\"?]+/)(?!set-password/)[^/\s'\"?]+"),
    # And the reminder email's skip link, which works without a login: /account/deliveries/skip/<token>/
    re.compile(r"(/account/deliveries/skip/)[^/\s'\"?]+"),
]


def redact(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    for value in configured_secrets():
        text = text.replace(value, REDACTED)
    return text


def configured_secrets() -> list[str]:
    """Secret values from settings that must never be printed, whatever the context."""
    if not settings.configured:  # gunicorn's master logs before any worker loads the site
        return []
    names = ["SECRET_KEY", "AMOCRM_CLIENT_SECRET", "AMOCRM_LONG_LIVED_TOKEN", "AMOCRM_WEBHOOK_SECRET"]
    values = [getattr(settings, name, "") or "" for name in names]
    return [value for value in values if len(value) >= 8]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactSecretsFilter(logging.Filter):
    """Rewrites the formatted message (and any traceback) with secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)
