"""The Nushell helper ships twice: ``tools/kestra.nu`` in the repository (a symlink) and
``lanner/tools/kestra.nu`` in the package (package data), whose path ``lanner nu-helper`` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_helper_ships_in_the_package_and_the_repository() -> None:
    tools = REPO_ROOT / "tools" / "kestra.nu"
    packaged = REPO_ROOT / "src" / "lanner" / "tools" / "kestra.nu"
    assert tools.is_symlink()
    assert tools.resolve() == packaged.resolve()
    printed = subprocess.run(
        [sys.executable, "-m", "lanner.cli.main", "nu-helper"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert Path(printed).samefile(packaged)
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"tools/*.nu"' in pyproject  # package data: the wheel carries it
