"""A model field that keeps secrets encrypted at rest with Fernet (`cryptography`).

The column holds a Fernet token (AES-128-CBC + HMAC-SHA256, base64), never the secret,
so a database dump or a replica shows no credential. Keys come from
FIELD_ENCRYPTION_KEY: the first key encrypts, every key decrypts, which lets an operator
rotate keys by putting a new one first and re-saving the rows.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes; see README)."
        ) from exc


def encrypt(plaintext: str) -> str:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEY)).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(tuple(settings.FIELD_ENCRYPTION_KEY)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY: the key was "
            "changed without keeping the old one in the list."
        ) from exc


class EncryptedTextField(models.TextField):
    """Text stored encrypted. Empty stays empty, so "is it set?" needs no key.

    Encrypted values cannot be filtered or indexed; look rows up by another column.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)
