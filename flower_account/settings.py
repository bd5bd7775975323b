"""Flower Account settings: one module, values from the environment (django-environ).

Defaults are the safe local ones, so `make run` needs no `.env`; production changes values, never
code paths. Secrets have no production default: with DEBUG off a missing SECRET_KEY stops start-up.
"""

import re
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")  # the real environment wins over the file

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links that leave the site: referral links and links in emails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Where staff put replacements for the legal texts (legal/consent.html, legal/privacy.html) without
# a release; empty: the texts shipped in templates/legal/ (docs/personal-data.md).
LEGAL_TEXTS_DIR = env.str("LEGAL_TEXTS_DIR", default="")

ROOT_URLCONF = "flower_account.urls"
WSGI_APPLICATION = "flower_account.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "flower_account.apps.SiteAdminConfig",  # django.contrib.admin with the site of admin_site.py
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    # Before django_tasks_db: its `db_worker` is replaced by ours, which outlives a database restart
    # (as staticfiles replaces `runserver`).
    "flower_account",
    "allauth.mfa",
    "django_tasks_db",
    "accounts",
    "amocrm",
    "emails",
]

MIDDLEWARE = [
    "flower_account.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "flower_account.middleware.PermissionsPolicyMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "flower_account.middleware.FormCharsetMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "flower_account.middleware.PrivatePagesMiddleware",
    "flower_account.middleware.AdminTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # LEGAL_TEXTS_DIR first: staff replace legal/consent.html or legal/privacy.html there.
        "DIRS": [*([LEGAL_TEXTS_DIR] if LEGAL_TEXTS_DIR else []), BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.analytics_context",
                "accounts.context_processors.legal_context",
            ],
        },
    },
    {
        # The account page's content only (flower_account/jinja2.py says why); found by name in
        # templates/jinja2/, which Django's engine above never asks for.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "flower_account.jinja2.environment"},
    },
]

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# A connection kept across requests (and the worker's, across tasks) is checked before reuse, so a
# database restart costs one reconnect instead of an error.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Local SQLite has two writers (the site and the task worker): take the write lock when a
    # transaction starts and wait for it, instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)

# CACHES
# ------------------------------------------------------------------------------
# Local memory by default; production points CACHE_URL at Redis so rate limits are shared.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# How long a Redis call may take (connect, then each answer) before this process counts in its own
# memory for a few seconds instead (flower_account.cache): sign-in keeps working with Redis down or hung.
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.25)
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "flower_account.cache.FallbackRedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        socket_connect_timeout=CACHE_SOCKET_TIMEOUT, socket_timeout=CACHE_SOCKET_TIMEOUT
    )

# TASKS
# ------------------------------------------------------------------------------
# Background work (the amoCRM sync) runs on django.tasks; tasks are rows in the database and
# `manage.py db_worker` runs them (Procfile `worker`). The web process only enqueues.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A task RUNNING longer than this lost its worker (killed, or its machine gone): `db_worker` fails it
# and queues it again (flower_account.worker). Longer than the longest task (a 1,000-lead resync).
TASKS_RUNNING_LEASE = env.int("TASKS_RUNNING_LEASE", default=15 * 60)

# AUTH
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# allauth's backend is a ModelBackend that logs in by email (the admin's login too); a second
# backend would hash every failed attempt twice.
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
# Argon2id with OWASP's m=19 MiB, t=2, p=1 (accounts/hashers.py): as strong as Django's defaults at
# a fraction of their memory and CPU. Hashes with other parameters are upgraded at the next login.
PASSWORD_HASHERS = [
    "accounts.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "account_login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # a reset link lives one day

# allauth: email is the login, no username; signup logs the customer straight in.
# Normalises addresses, refuses look-alikes (accounts.emails) and keys the login lock by IP and email.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {
    "signup": "accounts.forms.SignupForm",
    "login": "accounts.forms.LoginForm",
    # Sign-in by code: its request limit per (IP, address), not per address (accounts/login_code.py).
    "request_login_code": "accounts.login_code.RequestLoginCodeForm",
}
# Beside the password on /login/: the customer gets a code by email and types it. A code lives for
# ACCOUNT_LOGIN_BY_CODE_TIMEOUT seconds (the page and the email read it from here) and takes three
# guesses; it answers to no password lock, so the owner always has a way in (docs/security.md).
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 5 * 60
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
# No "send again" on the code page: a new code is asked for on /login/code/, under its request limit.
ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND = False
# A code asked for an unknown address sends nothing (the page answers the same): the form cannot be
# used to mail strangers.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# allauth's emails (the code; "no such account" for an unknown address) name the site, not its host.
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Flower Account: "
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_SIGNUP_REDIRECT_URL = "accounts:dashboard"
# Behind a load balancer, how many proxies append to X-Forwarded-For: allauth then rate-limits the
# customer's address, not the proxy's (0 = use REMOTE_ADDR, for a site served directly).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# allauth's own rate limits, counted in the configured cache (Redis in production). Nobody can lock
# anybody out (docs/security.md): failed logins lock a (client IP, address) pair, not the address;
# the address alone has a slower ceiling against guesses spread over many IPs; the code by email
# answers to neither, and its request limit is per (IP, address) too (accounts.adapters, login_code).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/15m/key",  # key: (client IP, address); one IP: at most 20 an hour
    "login_failed_address": "30/h/key",  # key: the address, from every IP: 720 guesses a day at most
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "request_login_code": "20/m/ip,3/m/key",  # key: (client IP, address); each sends an email
    "change_password": "5/m/user",
    # A customer's own actions (skip, un-skip, move, pause, resume, preferences): each one reaches
    # amoCRM, whose few requests a second the whole deployment shares; more is a 429 page.
    "account_action": env.str("ACCOUNT_ACTION_RATE_LIMIT", default="10/m/user,60/h/user"),
}

# Staff two-factor sign-in (allauth.mfa): an authenticator app (TOTP) and recovery codes. With
# ADMIN_REQUIRE_2FA a staff member without one is sent to set it up before any admin page, and
# allauth asks every sign-in of an account that has one for its code.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=True)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Flower Account"
MFA_TOTP_TOLERANCE = 1  # a phone's clock 30 s off still works
# Wrong codes count as failed logins (allauth's "login_failed" limit above, per account), and
# allauth refuses a code already used within its period.

# SESSIONS AND COOKIES
# ------------------------------------------------------------------------------
# Django's database sessions, read with SQL built once per process (flower_account/sessions.py).
SESSION_ENGINE = "flower_account.sessions"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 24 * 14)  # two weeks
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# SECURITY (production values come from the environment; see .env.example)
# ------------------------------------------------------------------------------
# A site served over https gets secure cookies, the https redirect and HSTS unless told otherwise.
SERVES_HTTPS = SITE_URL.startswith("https://") and not DEBUG
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SERVES_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SERVES_HTTPS)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SERVES_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365 if SERVES_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SERVES_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SERVES_HTTPS)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a proxy that sets (and strips incoming) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Browser features the site never uses, denied to it and to anything it loads (Permissions-Policy).
# Only names Chromium knows: it reports unknown ones (FLoC's interest-cohort is gone; browsing-topics
# is its successor) as errors in the console.
PERMISSIONS_POLICY = [
    "accelerometer",
    "autoplay",
    "browsing-topics",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
]
# Google Tag Manager container (GTM-XXXXXXX); empty: no GTM snippet, no dataLayer, no Google hosts.
GTM_CONTAINER_ID = env.str("GTM_CONTAINER_ID", default="")
if GTM_CONTAINER_ID and not re.fullmatch(r"GTM-[A-Z0-9]+", GTM_CONTAINER_ID):
    raise ImproperlyConfigured("GTM_CONTAINER_ID looks like GTM-XXXXXXX (capital letters and digits).")
GTM_HOST = "https://www.googletagmanager.com"


def content_security_policy(*, gtm: bool) -> dict[str, list[str]]:
    """Strict CSP: every script and style is a file under static/; no inline code anywhere.

    The one opt-in exception is the GTM snippet: with a container id, script-src takes the request's
    nonce (the snippet carries it) and GTM's host; images and beacons may go to Google's hosts.
    """
    google = [GTM_HOST, "https://www.google-analytics.com", "https://*.google-analytics.com"]
    return {
        "default-src": [CSP.SELF],
        "script-src": [CSP.SELF, *([CSP.NONCE, GTM_HOST] if gtm else [])],
        "style-src": [CSP.SELF],
        "img-src": [CSP.SELF, "data:", *(google if gtm else [])],
        "connect-src": [CSP.SELF, *(google if gtm else [])],
        "form-action": [CSP.SELF],
        "frame-ancestors": [CSP.NONE],
        "base-uri": [CSP.SELF],
        "object-src": [CSP.NONE],
    }


SECURE_CSP = content_security_policy(gtm=bool(GTM_CONTAINER_ID))

# EMAIL
# ------------------------------------------------------------------------------
# Every email is written to the outbox (emails.backends) in the transaction that wants it sent; the
# task worker sends it through the "transport" mailer, EMAIL_URL in django-environ's URL form.
_email = env.email_url("EMAIL_URL", default="consolemail://")
_mailer_options = {
    "django.core.mail.backends.smtp.EmailBackend": {
        "host": _email["EMAIL_HOST"],
        "port": _email["EMAIL_PORT"],
        "username": _email["EMAIL_HOST_USER"],
        "password": _email["EMAIL_HOST_PASSWORD"],
        "use_tls": _email.get("EMAIL_USE_TLS", False),
        "use_ssl": _email.get("EMAIL_USE_SSL", False),
        # Seconds per SMTP command: a server that accepts and never answers holds the worker this long
        # (the email stays waiting and is retried).
        "timeout": env.float("EMAIL_TIMEOUT", default=5),
    },
    "django.core.mail.backends.filebased.EmailBackend": {"file_path": _email["EMAIL_FILE_PATH"]},
}.get(_email["EMAIL_BACKEND"], {})
# Django's console backend prints a Russian body base64; ours prints it as the customer reads it.
_mail_backend = {
    "django.core.mail.backends.console.EmailBackend": "flower_account.console_mail.EmailBackend",
}.get(_email["EMAIL_BACKEND"], _email["EMAIL_BACKEND"])
MAILERS = {
    "default": {"BACKEND": "emails.backends.OutboxBackend"},
    "transport": {
        "BACKEND": _mail_backend,
        "OPTIONS": {key: value for key, value in _mailer_options.items() if value not in (None, "")},
    },
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Flower Account <noreply@flower-account.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = "[Flower Account] "

# I18N
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian"))]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates in the genitive ("4 декабря"), without Django's "г." (flower_account/formats/ru/formats.py).
FORMAT_MODULE_PATH = ["flower_account.formats"]

# STATIC FILES
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")  # where collectstatic writes
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # WhiteNoise's (hashed names, compressed copies), each URL looked up once per process.
    "staticfiles": {"BACKEND": "flower_account.static_storage.StaticFilesStorage"},
}

# LOGGING
# ------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "plain" for people, "json" for log collectors (one JSON object per line).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "flower_account.logging.RequestIdFilter"},
        "redact_secrets": {"()": "flower_account.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "flower_account.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django gives runserver's request lines (make run, make demo) and, under DEBUG, its own
    # messages handlers of their own, which would print a reset token or the webhook secret in a
    # path as it is: both go through ours instead.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}

# FLOWER ACCOUNT
# ------------------------------------------------------------------------------
# The operator of personal data (152-FZ), named in the consent, the privacy policy and every footer.
OPERATOR_NAME = env.str("OPERATOR_NAME", default="ИП Цветкова Анна Сергеевна")
OPERATOR_INN = env.str("OPERATOR_INN", default="000000000000")
OPERATOR_ADDRESS = env.str("OPERATOR_ADDRESS", default="Москва, ул. Цветочная, 1")
OPERATOR_EMAIL = env.str("OPERATOR_EMAIL", default="privacy@flower-account.local")
# /readyz answers 503 when a profile change has waited longer than this for amoCRM (seconds).
READYZ_SYNC_MAX_AGE = env.int("READYZ_SYNC_MAX_AGE", default=15 * 60)
# Monitoring presents this as `Authorization: Bearer <token>` to read /readyz's details (staff may
# too); everyone else gets the status and the names of failing checks. Empty: staff only.
READYZ_TOKEN = env.str("READYZ_TOKEN", default="")
# How many upcoming delivery dates the account page lists.
UPCOMING_DELIVERIES_SHOWN = 4
# The admin lives at a path of your choosing in production (it ends with a slash).
ADMIN_URL = env.str("ADMIN_URL", default="admin/")

# SUBSCRIPTIONS
# ------------------------------------------------------------------------------
# Deliveries are kept as rows this far ahead (`deliveries_roll` moves the window daily).
DELIVERY_HORIZON_WEEKS = env.int("DELIVERY_HORIZON_WEEKS", default=8)
# A customer may skip a delivery until this many days before it (2: a Friday delivery until Wednesday).
DELIVERY_SKIP_CUTOFF_DAYS = env.int("DELIVERY_SKIP_CUTOFF_DAYS", default=2)
# The reminder email goes this many days before each delivery (3: a day before the skip cut-off,
# so the customer can still skip), from this hour, Moscow time (`deliveries_remind`, hourly).
DELIVERY_REMINDER_DAYS = env.int("DELIVERY_REMINDER_DAYS", default=3)
DELIVERY_REMINDER_HOUR = env.int("DELIVERY_REMINDER_HOUR", default=10)
# What the referrer is credited, once, when a friend's first bouquet is delivered (roubles).
REFERRAL_REWARD_AMOUNT = Decimal(env.str("REFERRAL_REWARD_AMOUNT", default="500"))
# The most a customer may ask to be invoiced at signup (roubles): a typo must not become a huge bill.
SIGNUP_SUM_MAX = Decimal(env.str("SIGNUP_SUM_MAX", default="100000"))
# How an invoice awaiting payment gets paid, as the account page tells the customer (plain text).
PAYMENT_INSTRUCTIONS = env.str(
    "PAYMENT_INSTRUCTIONS", default="Менеджер позвонит и пришлёт ссылку на оплату."
)
# How the customer reaches the manager, shown in the account page's contact block; an empty value
# is left out. Telegram: the username without "@"; WhatsApp: the number, digits only (wa.me links).
SUPPORT_PHONE = env.str("SUPPORT_PHONE", default="+7 495 000-00-00")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="hello@flowers.example.ru")
SUPPORT_TELEGRAM = env.str("SUPPORT_TELEGRAM", default="")
SUPPORT_WHATSAPP = env.str("SUPPORT_WHATSAPP", default="")
# How many hours a manager has to answer a message from the account page (the amoCRM task's deadline).
MANAGER_MESSAGE_ANSWER_HOURS = env.int("MANAGER_MESSAGE_ANSWER_HOURS", default=24)
# How many entries one page of the account page's history lists (`?page=` turns the pages).
ACCOUNT_HISTORY_SHOWN = 10
# The country a phone number typed without "+<code>" belongs to (8 900 …: Russia); ISO 3166 code.
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="RU")

# AMOCRM
# ------------------------------------------------------------------------------
# Optional: with no base URL and no credentials the integration is off and nothing reaches a CRM
# (`amocrm.services.connection.is_enabled()` decides, from these values).
AMOCRM_BASE_URL = env.str("AMOCRM_BASE_URL", default="").rstrip("/")  # e.g. https://flowers.amocrm.ru
AMOCRM_CLIENT_ID = env.str("AMOCRM_CLIENT_ID", default="")
AMOCRM_CLIENT_SECRET = env.str("AMOCRM_CLIENT_SECRET", default="")
AMOCRM_REDIRECT_URI = env.str("AMOCRM_REDIRECT_URI", default="") or f"{SITE_URL}/amocrm/oauth/callback/"
AMOCRM_AUTHORIZE_URL = env.str("AMOCRM_AUTHORIZE_URL", default="") or "https://www.amocrm.ru/oauth"
# A private integration's long-lived token; when set it is used instead of the OAuth tokens.
AMOCRM_LONG_LIVED_TOKEN = env.str("AMOCRM_LONG_LIVED_TOKEN", default="")
AMOCRM_RATE_LIMIT = env.float("AMOCRM_RATE_LIMIT", default=7)  # requests per second, whole deployment
AMOCRM_TIMEOUT = env.float("AMOCRM_TIMEOUT", default=10)  # seconds to wait for an answer
# Fernet keys for the OAuth tokens stored in the database, comma-separated: the first encrypts, all
# decrypt (rotate by putting a new key first). With DEBUG on and none set, amocrm derives one from
# SECRET_KEY so `make run` works; with DEBUG off, OAuth credentials need these keys (check amocrm.E001).
AMOCRM_TOKEN_KEYS = env.list("AMOCRM_TOKEN_KEYS", default=[])
# Where new leads land: a pipeline id and a stage (status) id from GET /api/v4/leads/pipelines.
# Empty: amoCRM's default (the first working stage of the main pipeline). Never «Неразобранное»
# (type 1), which the leads API refuses; `manage.py amocrm_check` checks these ids.
AMOCRM_PIPELINE_ID = env.int("AMOCRM_PIPELINE_ID", default=None)
AMOCRM_STATUS_ID = env.int("AMOCRM_STATUS_ID", default=None)
# The path secret of amoCRM's webhook, /amocrm/webhook/<secret>/; empty: the endpoint answers 404.
# `manage.py amocrm_subscribe_webhook` registers the URL with amoCRM.
AMOCRM_WEBHOOK_SECRET = env.str("AMOCRM_WEBHOOK_SECRET", default="")
# A webhook change stamped more than this many seconds after now is refused: a clock in the future
# would make every later real change to the lead look older and be ignored.
AMOCRM_WEBHOOK_MAX_FUTURE = env.int("AMOCRM_WEBHOOK_MAX_FUTURE", default=300)
# Optional: the account id webhooks must name (account[id]); the subdomain of AMOCRM_BASE_URL is
# always checked.
AMOCRM_ACCOUNT_ID = env.str("AMOCRM_ACCOUNT_ID", default="")
# The account's subdomain webhooks must name (account[subdomain]); empty: the first label of the
# AMOCRM_BASE_URL host (flowers for https://flowers.amocrm.ru). Set it when the base URL has none.
AMOCRM_ACCOUNT_SUBDOMAIN = env.str("AMOCRM_ACCOUNT_SUBDOMAIN", default="")
# The circuit breaker: a 403/402 (a blocked account, a lapsed plan) or AMOCRM_BREAKER_FAILURES 5xx or
# timeouts in a row stop every process calling amoCRM; after a cool-down one probe call decides
# whether it closes. An outage's first cool-down is AMOCRM_BREAKER_FIRST_COOLDOWN seconds, doubled
# by each failed probe up to AMOCRM_BREAKER_COOLDOWN; a block or a lapsed plan waits twice
# AMOCRM_BREAKER_COOLDOWN each time.
AMOCRM_BREAKER_FIRST_COOLDOWN = env.int("AMOCRM_BREAKER_FIRST_COOLDOWN", default=10)
AMOCRM_BREAKER_COOLDOWN = env.int("AMOCRM_BREAKER_COOLDOWN", default=300)
AMOCRM_BREAKER_FAILURES = env.int("AMOCRM_BREAKER_FAILURES", default=5)
# Post the site's events (signup, skips, pauses, preference changes, staff corrections) to the
# lead's history in amoCRM as notes managers read in the lead's card.
AMOCRM_LEAD_NOTES = env.bool("AMOCRM_LEAD_NOTES", default=True)
# How often amocrm_reconcile runs (its timer or `--every`); /readyz warns after three missed runs.
AMOCRM_RECONCILE_INTERVAL = env.int("AMOCRM_RECONCILE_INTERVAL", default=300)
# Pipeline stage id → account status for `leads[status]` webhooks, e.g. "142:active,143:closed";
# stages not listed leave the status alone.
AMOCRM_STATUS_MAP = {
    int(stage.strip()): status.strip()
    for stage, status in (pair.split(":", 1) for pair in env.list("AMOCRM_STATUS_MAP", default=[]))
}
