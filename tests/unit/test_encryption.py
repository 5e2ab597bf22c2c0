"""SECRET input encryption: Kestra's AES-GCM format, and the refusal without a key."""

from __future__ import annotations

import base64

import pytest

from lanner.domain.input_values import InputValuesError, coerce_inputs
from lanner.domain.inputs import InputSpec, InputType
from lanner.encryption import (
    IV_BYTES,
    NOT_CONFIGURED,
    DecryptionError,
    SecretCipher,
    secret_encrypter,
)

KEY = bytes(range(32))


def test_round_trip_in_kestras_layout() -> None:
    cipher = SecretCipher(KEY)
    sealed = cipher.encrypt("s3cret ✓")
    raw = base64.b64decode(sealed)
    assert len(raw) == IV_BYTES + len("s3cret ✓".encode()) + 16  # iv, text, GCM tag
    assert cipher.decrypt(sealed) == "s3cret ✓"
    assert cipher.encrypt("s3cret ✓") != sealed  # a fresh IV each time


@pytest.mark.parametrize("text", ["plain", "", base64.b64encode(b"x" * 40).decode()])
def test_decrypt_refuses_what_this_key_did_not_encrypt(text: str) -> None:
    with pytest.raises(DecryptionError):
        SecretCipher(KEY).decrypt(text)
    sealed = SecretCipher(b"k" * 32).encrypt("value")
    with pytest.raises(DecryptionError):
        SecretCipher(KEY).decrypt(sealed)


def test_secret_inputs_are_encrypted_and_refused_without_a_key() -> None:
    specs = (InputSpec("pw", InputType.SECRET), InputSpec("name", InputType.STRING))
    inputs = coerce_inputs(specs, {"pw": "hunter2", "name": "n"}, encrypt=secret_encrypter(KEY))
    assert inputs["name"] == "n"
    assert inputs["pw"] != "hunter2"
    assert SecretCipher(KEY).decrypt(inputs["pw"]) == "hunter2"
    with pytest.raises(InputValuesError) as caught:
        coerce_inputs(specs, {"pw": "hunter2", "name": "n"}, encrypt=secret_encrypter(None))
    assert [(p.input_id, p.message) for p in caught.value.problems] == [("pw", NOT_CONFIGURED)]
    # Pure coercion (no encrypter): the value stays as submitted.
    assert coerce_inputs(specs, {"pw": "hunter2", "name": "n"})["pw"] == "hunter2"
