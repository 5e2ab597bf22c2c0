"""AES-GCM encryption of SECRET inputs, in Kestra's format.

Kestra's ``EncryptionService`` writes ``base64(iv ‖ ciphertext ‖ tag)`` with a random 12-byte IV
and a 128-bit tag; :class:`SecretCipher` reads and writes the same text, so a value encrypted by
one server decrypts on any other holding the key. Imports the standard library only, and
``cryptography`` when a cipher is built (a server without a key never loads it); the key comes
from :class:`lanner.config.Settings`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from collections.abc import Callable

IV_BYTES = 12
NOT_CONFIGURED = "Unable to use a `SECRET` input as encryption is not configured"


class DecryptionError(ValueError):
    """The text is not a value encrypted with this key."""


class SecretCipher:
    """Encrypts and decrypts text with one AES key (16, 24 or 32 bytes)."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aes = AESGCM(key)

    def encrypt(self, plaintext: str) -> str:
        iv = os.urandom(IV_BYTES)
        sealed = self._aes.encrypt(iv, plaintext.encode("utf-8"), None)
        return base64.b64encode(iv + sealed).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(encrypted, validate=True)
            if len(raw) <= IV_BYTES:
                raise DecryptionError("too short to be an encrypted value")
            plain = self._aes.decrypt(raw[:IV_BYTES], raw[IV_BYTES:], None)
            return plain.decode("utf-8")
        except (binascii.Error, InvalidTag, UnicodeDecodeError) as error:
            raise DecryptionError("not a value encrypted with this server's key") from error


@functools.lru_cache(maxsize=4)
def cipher_of(key: bytes | None) -> SecretCipher | None:
    """The cipher of a configured key (one per key), None without one."""
    return SecretCipher(key) if key is not None else None


def secret_encrypter(key: bytes | None) -> Callable[[str], str]:
    """What encrypts SECRET inputs: the key's cipher, or a refusal naming the missing key."""
    cipher = cipher_of(key)
    if cipher is not None:
        return cipher.encrypt

    def refuse(plaintext: str) -> str:
        raise ValueError(NOT_CONFIGURED)

    return refuse
