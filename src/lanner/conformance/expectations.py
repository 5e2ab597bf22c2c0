"""The expectation table (``expectations.tsv``): one row per corpus file.

Columns: ``file``, ``kestra_test`` (the Kestra test the expectation is read from, or ``-``),
``status``, ``state``, ``task_runs``, ``task_states``, ``inputs``, ``reason``.

``status`` is one of:

- ``run``: started by the runner; must end in ``state`` (with ``task_runs`` task runs and the
  ``task_states`` ``taskId=STATE,...`` when given; every run of that task id is in that state);
- ``pending: <what is missing>``: run and reported like ``run``, but allowed to differ until
  the missing piece lands (e.g. a task type another change builds);
- ``triggered``: not started by the runner but by a flow trigger of another row's execution;
  the first execution of the flow must reach ``state``;
- ``pending triggered: <what is missing>``: a ``triggered`` row allowed to differ likewise;
- ``skip``: not runnable here; ``reason`` says why (a trigger event, a subflow-only flow
  checked through its parent, a test-only harness step).

``inputs`` is a JSON object of execution inputs; a string value ``"lines:N"`` uploads a file of
N lines (``Hello World 1`` ...), ``"file:TEXT"`` a file holding TEXT.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("expectations.tsv")
COLUMNS = ("file", "kestra_test", "status", "state", "task_runs", "task_states", "inputs", "reason")
STATUSES = ("run", "pending", "triggered", "skip")


@dataclass(frozen=True, slots=True)
class Expectation:
    file: str
    kestra_test: str
    status: str
    state: str | None = None
    task_runs: int | None = None
    task_states: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    triggered: bool = False
    """Started by another row's execution (a subflow task, a flow trigger), not the runner."""

    @property
    def is_started(self) -> bool:
        """The runner starts an execution of this file."""
        return self.status in ("run", "pending") and not self.triggered

    @property
    def is_runnable(self) -> bool:
        """Counted in the ratio: started by the runner or by a trigger."""
        return self.status != "skip"


def _row(values: dict[str, str], line: int) -> Expectation:
    status_cell = values["status"].strip()
    status, _, pending_reason = status_cell.partition(":")
    status = status.strip()
    triggered = status in ("triggered", "pending triggered")
    if status == "pending triggered":
        status = "pending"
    if status not in STATUSES:
        raise ValueError(f"{TABLE.name}:{line}: status must be one of {STATUSES}, not {status!r}")
    reason = values["reason"].strip() or pending_reason.strip()
    state = values["state"].strip() or None
    if status != "skip" and state is None:
        raise ValueError(f"{TABLE.name}:{line}: a {status} row needs an expected state")
    if status == "skip" and not reason:
        raise ValueError(f"{TABLE.name}:{line}: a skip row needs a reason")
    if status == "pending" and not pending_reason.strip():
        raise ValueError(f"{TABLE.name}:{line}: write `pending: <what is missing>`")
    task_states: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in values["task_states"].split(","))):
        task_id, _, task_state = pair.partition("=")
        task_states[task_id.strip()] = task_state.strip()
    inputs_cell = values["inputs"].strip()
    inputs = json.loads(inputs_cell) if inputs_cell else {}
    count = values["task_runs"].strip()
    return Expectation(
        file=values["file"].strip(),
        kestra_test=values["kestra_test"].strip(),
        status=status,
        state=state,
        task_runs=int(count) if count else None,
        task_states=task_states,
        inputs=inputs,
        reason=reason if status != "pending" else pending_reason.strip(),
        triggered=triggered,
    )


def load_expectations(path: Path = TABLE) -> dict[str, Expectation]:
    """The table's rows by file name (duplicate files are an error)."""
    rows: dict[str, Expectation] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if line.strip() and not line.startswith("#"))
        reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path.name}: the header must be {' '.join(COLUMNS)}")
        for number, values in enumerate(reader, start=2):
            if None in values or any(values.get(c) is None for c in COLUMNS):
                raise ValueError(f"{path.name}:{number}: expected {len(COLUMNS)} columns")
            row = _row(values, number)
            if row.file in rows:
                raise ValueError(f"{path.name}:{number}: {row.file} appears twice")
            rows[row.file] = row
    return rows
