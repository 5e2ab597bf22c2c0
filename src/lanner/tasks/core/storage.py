"""Core ``storage.*`` tasks (internal storage files), ``namespace.*`` files and templating:
properties only, no runtime yet. Imports ``lanner.tasks`` only."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from lanner.tasks.base import DYNAMIC, Bool, Int, StrList, Task, Text

CORE = "io.kestra.plugin.core"
LEGACY = "io.kestra.core.tasks.storages"


class Concat(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.Concat"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Concat",)

    files: StrList | Text
    separator: Text | None = None
    extension: Text = ".tmp"


class Split(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.Split"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Split",)

    from_: Text = Field(alias="from")
    bytes: Text | None = None
    partitions: Int | None = None
    rows: Int | None = None
    separator: Text = "\n"


class Size(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.Size"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Size",)

    uri: Text


class Delete(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.Delete"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Delete",)

    uri: Text
    errorOnMissing: Bool = False


class Reverse(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.Reverse"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.Reverse",)

    from_: Text = Field(alias="from")
    separator: Text = "\n"
    charset: Text = "UTF-8"


class FilterItems(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.FilterItems"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.FilterItems",)

    from_: Text = Field(alias="from")
    filterCondition: Text
    filterType: Annotated[Literal["INCLUDE", "EXCLUDE"], DYNAMIC] = "INCLUDE"
    errorOrNullBehavior: Annotated[Literal["FAIL", "INCLUDE", "EXCLUDE"], DYNAMIC] = "FAIL"


class DeduplicateItems(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.DeduplicateItems"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.DeduplicateItems",)

    from_: Text = Field(alias="from")
    expr: Text


class LocalFiles(Task):
    """Deprecated: use WorkingDirectory's ``inputFiles``/``outputFiles``."""

    TYPE: ClassVar[str] = f"{CORE}.storage.LocalFiles"
    ALIASES: ClassVar[tuple[str, ...]] = (f"{LEGACY}.LocalFiles",)
    DEPRECATED: ClassVar[bool] = True

    inputs: dict[str, Any] | Text | None = None
    outputs: StrList | None = None


class PurgeCurrentExecutionFiles(Task):
    TYPE: ClassVar[str] = f"{CORE}.storage.PurgeCurrentExecutionFiles"
    ALIASES: ClassVar[tuple[str, ...]] = (
        f"{LEGACY}.PurgeExecution",
        f"{CORE}.storage.PurgeExecution",
    )


class UploadFiles(Task):
    TYPE: ClassVar[str] = f"{CORE}.namespace.UploadFiles"

    namespace: Text
    files: StrList | None = None
    filesMap: dict[str, Any] | Text | None = None
    destination: Text = "/"
    conflict: Annotated[Literal["OVERWRITE", "ERROR", "SKIP"], DYNAMIC] = "OVERWRITE"


class DownloadFiles(Task):
    TYPE: ClassVar[str] = f"{CORE}.namespace.DownloadFiles"

    namespace: Text
    files: StrList | Text
    destination: Text = ""


class DeleteFiles(Task):
    TYPE: ClassVar[str] = f"{CORE}.namespace.DeleteFiles"

    namespace: Text
    files: StrList | Text
    deleteParentFolder: Bool | None = None


MODELS: tuple[type[Task], ...] = (
    Concat, Split, Size, Delete, Reverse, FilterItems, DeduplicateItems, LocalFiles,
    PurgeCurrentExecutionFiles, UploadFiles, DownloadFiles, DeleteFiles,
)  # fmt: skip
