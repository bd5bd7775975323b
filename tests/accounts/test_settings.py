import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
TEMPLATES = sorted(TEMPLATES_DIR.rglob("*.html"))


@pytest.mark.argon2
def test_argon2_is_the_first_password_hasher():
    assert settings.PASSWORD_HASHERS[0] == "accounts.hashers.OwaspArgon2PasswordHasher"


@pytest.mark.argon2
def test_a_new_users_password_is_hashed_with_argon2(user_factory):
    user = user_factory()

    assert user.password.startswith("argon2")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/signup/", "/login/", "/forgot-password/"])
def test_pages_carry_a_strict_content_security_policy(client, path):
    response = client.get(path)

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


@pytest.mark.django_db
def test_account_page_carries_the_security_headers(customer_client):
    response = customer_client.get("/account/")

    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_templates_exist_to_scan():
    names = {path.relative_to(TEMPLATES_DIR).as_posix() for path in TEMPLATES}

    assert {"base.html", "404.html", "500.html", "account/signup.html", "accounts/dashboard.html"} <= names


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.relative_to(TEMPLATES_DIR).as_posix())
def test_template_has_no_inline_script_style_or_handlers(template):
    source = template.read_text()
    if template.relative_to(TEMPLATES_DIR).as_posix() == "includes/gtm.html":
        # The one opt-in exception: Google Tag Manager's snippet, allowed by the request's CSP nonce.
        assert '<script nonce="{{ csp_nonce }}">' in source
        source = re.sub(r'<script nonce="\{\{ csp_nonce \}\}">.*?</script>', "", source, flags=re.S)

    inline_scripts = [
        body for body in re.findall(r"<script\b[^>]*>(.*?)</script>", source, re.S | re.I) if body.strip()
    ]
    assert inline_scripts == []
    assert re.findall(r"<style\b", source, re.I) == []
    assert re.findall(r"\sstyle\s*=", source, re.I) == []
    assert re.findall(r"\son[a-z]+\s*=", source, re.I) == []
    assert re.findall(r"javascript:", source, re.I) == []


def test_template_scan_catches_inline_code():
    # The scan above must be able to fail: the same patterns on offending markup.
    offending = '<script>alert(1)</script><p style="color:red" onclick="x()">'

    assert re.findall(r"<script\b[^>]*>(.*?)</script>", offending, re.S | re.I) == ["alert(1)"]
    assert re.findall(r"\sstyle\s*=", offending, re.I)
    assert re.findall(r"\son[a-z]+\s*=", offending, re.I)


def test_language_and_time_zone_are_russian():
    assert settings.LANGUAGE_CODE == "ru"
    assert settings.TIME_ZONE == "Europe/Moscow"
    assert settings.USE_TZ is True


def test_logout_is_post_only_and_email_is_the_login():
    assert settings.ACCOUNT_LOGOUT_ON_GET is False
    assert set(settings.ACCOUNT_LOGIN_METHODS) == {"email"}
    assert settings.ACCOUNT_USER_MODEL_USERNAME_FIELD is None


def _import_settings(**env: str) -> subprocess.CompletedProcess:
    clean_env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", "import flower_account.settings"],
        cwd=settings.BASE_DIR,
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif((Path(settings.BASE_DIR) / ".env").exists(), reason="a local .env may set SECRET_KEY")
def test_a_missing_secret_key_stops_start_up_when_debug_is_off():
    result = _import_settings(DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_debug_runs_without_a_secret_key():
    result = _import_settings(DEBUG="true")

    assert result.returncode == 0, result.stderr
