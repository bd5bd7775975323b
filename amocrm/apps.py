from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class AmocrmConfig(AppConfig):
    name = "amocrm"
    verbose_name = "amoCRM"

    def ready(self) -> None:
        from amocrm import signals  # noqa: F401 - connects the receivers

        checks.register(check_token_keys, checks.Tags.security)


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
