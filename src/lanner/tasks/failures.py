"""The exception a task raises to fail on purpose: :class:`TaskFailure`.

Its message is logged at ERROR as it is (no exception class name in front). ``retryable=False``
says a retry cannot help (an unknown type, a property that does not validate): the engine then
does not apply the task's retry policy; ``outputs`` become the failed task run's outputs (a
script's ``exitCode``). Imports the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TaskFailure(Exception):
    """A task failed on purpose (``Fail``, a bad property value, a missing key...)."""

    def __init__(
        self, message: str, *, retryable: bool = True, outputs: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.outputs = outputs
