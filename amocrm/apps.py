from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class AmocrmConfig(AppConfig):
    name = "amocrm"
    verbose_name = "amoCRM"

    def ready(self) -> None:
        from amocrm import signals  # noqa: F401 - connects the receivers

        checks.register(check_token_keys, checks.Tags.security)
        checks.register(check_base_url_https, checks.Tags.security, deploy=True)


def check_token_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """OAuth credentials with DEBUG off need AMOCRM_TOKEN_KEYS: tokens are stored encrypted."""
    from amocrm.crypto import token_keys

    if settings.AMOCRM_CLIENT_ID and settings.AMOCRM_CLIENT_SECRET and not token_keys():
        return [
            checks.Error(
                "AMOCRM_TOKEN_KEYS is not set, so amoCRM OAuth tokens cannot be stored.",
                hint="Set AMOCRM_TOKEN_KEYS to a Fernet key (see .env.example).",
                id="amocrm.E001",
            )
        ]
    return []


def check_base_url_https(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`check --deploy`: tokens and the client secret must not cross the network in plain http."""
    if not settings.DEBUG and urlsplit(settings.AMOCRM_BASE_URL).scheme == "http":
        return [
            checks.Warning(
                "AMOCRM_BASE_URL is plain http, so amoCRM tokens and the client secret would be sent "
                "unencrypted.",
                hint="Set AMOCRM_BASE_URL to the account's https address, e.g. https://flowers.amocrm.ru.",
                id="amocrm.W001",
            )
        ]
    return []
