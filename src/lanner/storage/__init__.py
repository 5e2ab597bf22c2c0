"""Internal storage: ``kestra:///`` files of executions, on the local filesystem by default.

Must not import the store, the engine or the API.
"""

from __future__ import annotations

from lanner.storage.local import LocalStorage
from lanner.storage.uris import (
    SCHEME,
    execution_prefix,
    input_file_path,
    is_inside,
    path_of,
    safe_path,
    uri_of,
)

__all__ = [
    "SCHEME",
    "LocalStorage",
    "execution_prefix",
    "input_file_path",
    "is_inside",
    "path_of",
    "safe_path",
    "uri_of",
]
