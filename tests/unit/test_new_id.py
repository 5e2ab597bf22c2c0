"""Execution ids: Kestra's friendly ids, base62 of a random version-4 UUID."""

from __future__ import annotations

import random
import uuid

from lanner.domain.executions import base62, new_id


def plain_base62(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = []
    while number:
        number, rest = divmod(number, 62)
        out.append(digits[rest])
    return "".join(reversed(out)) or "0"


def test_base62_is_the_plain_division() -> None:
    rng = random.Random(7)
    numbers = [0, 1, 61, 62, 63, 3843, 3844, 3845, 62**3, 62**4 - 1, 2**128 - 1]
    numbers += [rng.getrandbits(rng.randint(1, 128)) for _ in range(5000)]
    for number in numbers:
        assert base62(number) == plain_base62(number), number


def test_ids_are_version_4_uuids_in_base62() -> None:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        assert 1 <= len(text) <= 22
        number = 0
        for char in text:
            number = number * 62 + digits.index(char)
        parsed = uuid.UUID(int=number)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
