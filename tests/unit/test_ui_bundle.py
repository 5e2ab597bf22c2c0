"""The committed editor bundle (``src/lanner/ui/static/editor.js``) is what ``ui-src/`` builds:
esbuild's output is deterministic, so a fresh build into a temporary file must equal it byte for
byte. Needs Node.js and ``npm ci`` in ``ui-src/`` (``.ci/run`` does both); skipped locally
without them, a failure in CI. Also runs the YAML cursor-context tests under ``node --test``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.acceptance.conftest import skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[2]
UI_SRC = REPO_ROOT / "ui-src"
BUNDLE = REPO_ROOT / "src" / "lanner" / "ui" / "static" / "editor.js"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        skip_or_fail("node is not installed")
    if not (UI_SRC / "node_modules" / "esbuild").is_dir():
        skip_or_fail("ui-src/node_modules is missing (run `npm ci` in ui-src)")
    return found


def test_the_committed_bundle_is_a_fresh_build(tmp_path: Path) -> None:
    out = tmp_path / "editor.js"
    subprocess.run(
        [node(), "build.mjs", "--outfile", str(out)], cwd=UI_SRC, check=True, timeout=120
    )
    fresh = out.read_bytes()
    assert len(fresh) > 100_000  # CodeMirror is in it, not fetched from a CDN
    assert b"https://cdn" not in fresh
    assert fresh == BUNDLE.read_bytes(), "run `cd ui-src && node build.mjs` and commit editor.js"


def test_the_yaml_context_helpers() -> None:
    result = subprocess.run(
        [node(), "--test", "yaml-context.test.mjs"],
        cwd=UI_SRC,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
