"""Secrets at rest: a model field that stores its value Fernet-encrypted.

Keys come from ESAP_FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys; the first encrypts, all decrypt,
so a key can be rotated). Without it a key is derived from SECRET_KEY, which suits the embedded default;
with it, that derived key still decrypts (last), so secrets stored before the keys were set stay readable
and `rotate_secrets` moves them to the first key.
An entry that is not a Fernet key is a configuration error (a system check, and ImproperlyConfigured on
use), never taken for a secret that cannot be decrypted.
"""
import base64
import logging
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.db import models

log = logging.getLogger(__name__)


class UndecryptableSecret(ValueError):
    """A stored secret that none of the configured keys decrypts."""


def invalid_key_positions(keys: list[str] | tuple[str, ...]) -> list[int]:
    """1-based positions of the entries that are not Fernet keys (never the keys: they are secret)."""
    positions = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (TypeError, ValueError):
            positions.append(position)
    return positions


def _invalid_keys_message(positions: list[int], count: int) -> str:
    which = (f"entry {positions[0]} of {count} is not a Fernet key" if len(positions) == 1 else
             f"entries {', '.join(map(str, positions))} of {count} are not Fernet keys")
    return f"ESAP_FIELD_ENCRYPTION_KEYS: {which}, so no stored secret can be read or saved."


@register()
def field_encryption_keys_are_fernet_keys(app_configs: Any, **kwargs: Any) -> list[Error]:
    keys = settings.FIELD_ENCRYPTION_KEYS
    positions = invalid_key_positions(keys)
    if not positions:
        return []
    return [Error(_invalid_keys_message(positions, len(keys)),
                  hint="Each comma-separated entry must be a key printed by python -c 'from "
                       "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' (44 "
                       "characters); fix or remove the entry, keeping the keys your secrets were "
                       "encrypted with.",
                  id="esap.crypto.E001")]


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if positions := invalid_key_positions(keys):
        raise ImproperlyConfigured(_invalid_keys_message(positions, len(keys)))
    return MultiFernet([Fernet(key) for key in (*keys, _derive_key(secret_key))])


def _derive_key(secret_key: str) -> str:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"esap-field-encryption", info=b"v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())).decode()


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise UndecryptableSecret("A stored secret cannot be decrypted with the configured keys.") from error


def rotate(token: str) -> str:
    """Re-encrypt with the first configured key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise UndecryptableSecret("A stored secret cannot be decrypted with the configured keys.") from error


class Secret(str):
    """A decrypted secret whose repr never shows the value (it may end up in logs or tracebacks)."""

    readable = True

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"


class UnreadableSecret(Secret):
    """A stored secret none of the configured keys decrypts (a key was dropped too early): empty, so
    nothing uses it, and marked, so that what needs it can say why it is missing. Saved again, it writes
    back the ciphertext it was read from, so restoring the key still recovers it."""

    readable = False

    def __new__(cls, stored: str) -> "UnreadableSecret":
        secret = super().__new__(cls, "")
        secret.stored = stored
        return secret

    def __repr__(self) -> str:
        return "UnreadableSecret()"


class EncryptedTextField(models.TextField):
    """Stores `encrypt(value)`; reads back a `Secret`. An empty value is stored as an empty string."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        if value is None:
            return None
        try:
            return Secret(decrypt(value) if value else "")
        except UndecryptableSecret:
            # One unreadable row must not take every page listing its table down with it.
            log.error("crypto: a stored %s cannot be decrypted with the configured keys", self)
            return UnreadableSecret(value)

    def to_python(self, value: Any) -> Any:
        return value if value is None or isinstance(value, Secret) else Secret(value)

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, UnreadableSecret):
            return value.stored
        return encrypt(str(value)) if value else ""
