"""``kestra-ws``: the agent-friendly client (``poll``, ``watch`` with JSON output).

Its commands arrive with the executions API; for now it only explains itself.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kestra-ws",
    help="Follow Kestra/Lanner executions from scripts and AI agents (poll, watch; JSON output). "
    "Reads KESTRA_URL, KESTRA_USER/KESTRA_PASSWORD or KESTRA_TOKEN.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def root() -> None:
    """kestra-ws: poll and watch executions (commands arrive with the executions API)."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
