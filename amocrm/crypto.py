"""Encryption of the OAuth tokens at rest (Fernet from `cryptography`).

`AMOCRM_TOKEN_KEYS` lists Fernet keys: the first encrypts, every one decrypts, so a key is rotated by
putting a new one first, running `manage.py amocrm_rotate_token_keys`, then dropping the old one.
With DEBUG on and no keys set, one key is derived from SECRET_KEY so a local `make run` works.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from amocrm.exceptions import AmoCRMError


class TokenDecryptionError(AmoCRMError):
    """A stored token was encrypted with a key that is no longer in AMOCRM_TOKEN_KEYS."""

    staff_problem = _(
        "The site cannot read its stored amoCRM keys: AMOCRM_TOKEN_KEYS lost the key they need."
    )
    staff_action = _(
        "Put the old key back into AMOCRM_TOKEN_KEYS, or reconnect amoCRM on the admin's main page."
    )


def token_keys() -> list[str]:
    keys = [key for key in settings.AMOCRM_TOKEN_KEYS if key]
    if not keys and settings.DEBUG:
        digest = hashlib.sha256(f"amocrm-token-key:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return keys


def _fernet() -> MultiFernet:
    keys = token_keys()
    if not keys:
        raise ImproperlyConfigured("AMOCRM_TOKEN_KEYS is not set: amoCRM tokens cannot be stored.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as e:
        raise ImproperlyConfigured("AMOCRM_TOKEN_KEYS holds a value that is not a Fernet key.") from e


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken as e:
        raise TokenDecryptionError("a stored amoCRM token cannot be decrypted with AMOCRM_TOKEN_KEYS") from e


def reencrypt(value: str) -> str:
    """The same secret encrypted with the first key (MultiFernet.rotate)."""
    try:
        return _fernet().rotate(value.encode()).decode()
    except InvalidToken as e:
        raise TokenDecryptionError("a stored amoCRM token cannot be decrypted with AMOCRM_TOKEN_KEYS") from e
