"""Collects every problem found in a flow source, located by path and source mark."""

from __future__ import annotations

from lanner.errors import ErrorDetail, InvalidFlowError
from lanner.flows.loader import LoadedDocument, Mark, Path, format_path


class Problems:
    """Problems of one document; ``raise_if_any`` turns them into one :class:`InvalidFlowError`."""

    def __init__(self, document: LoadedDocument) -> None:
        self._document = document
        self._items: list[tuple[Path, str]] = []
        self._marks: dict[tuple[Path, str], Mark] = {}
        for problem in document.problems:
            self._items.append((problem.path, problem.message))
            if problem.mark is not None:
                self._marks[problem.path, problem.message] = problem.mark

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, path: Path, message: str) -> None:
        """Record one problem at ``path`` (the message names what is wrong, Kestra-like)."""
        if (path, message) not in self._items:
            self._items.append((path, message))

    def details(self) -> list[ErrorDetail]:
        """One :class:`ErrorDetail` per problem; the message ends with the source line:column."""
        details = []
        for path, message in self._items:
            mark = self._marks.get((path, message)) or self._document.mark_of(path)
            where = f" (line {mark.line}, column {mark.column})" if mark else ""
            details.append(ErrorDetail(format_path(path), f"{message}{where}"))
        return details

    def raise_if_any(self) -> None:
        """Raise :class:`InvalidFlowError` listing every problem, Kestra's message style."""
        if not self._items:
            return
        details = self.details()
        message = ", ".join(f"{d.path}: {d.message}" if d.path else d.message for d in details)
        raise InvalidFlowError(f"Invalid entity: {message}", details)
