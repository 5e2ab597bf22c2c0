"""Internal storage: ``kestra:///`` files of executions and namespace files, on the local
filesystem by default.

Must not import the store, the engine or the API.
"""

from __future__ import annotations

from lanner.storage.local import LocalStorage
from lanner.storage.namespace_files import FileAttributes, NamespaceFiles, file_uri, files_root
from lanner.storage.uris import (
    SCHEME,
    execution_prefix,
    input_file_path,
    is_inside,
    path_of,
    safe_path,
    task_file_path,
    uri_of,
)

__all__ = [
    "SCHEME",
    "FileAttributes",
    "LocalStorage",
    "NamespaceFiles",
    "execution_prefix",
    "file_uri",
    "files_root",
    "input_file_path",
    "is_inside",
    "path_of",
    "safe_path",
    "task_file_path",
    "uri_of",
]
