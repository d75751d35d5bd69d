"""The import contract of pyproject.toml ([tool.importlinter]): the stages are layers, so no
import cycle runs between them; checked with import-linter on the real package, and shown to
fail on a copy of it into which one cycle is introduced."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's contracts, on the `vitrina` package found in `package_parent`."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_the_stages_keep_their_layers() -> None:
    result = lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_cycle_between_two_stages_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "src" / "vitrina", tmp_path / "vitrina", ignore=shutil.ignore_patterns("__pycache__"))
    kafka = tmp_path / "vitrina" / "log" / "kafka.py"
    # the log importing the loaders that import it back: the kind of cycle the layers forbid
    cycle = "from vitrina.load import commit  # noqa: F401\n"
    kafka.write_text(kafka.read_text().replace("from vitrina.core import", cycle + "from vitrina.core import", 1))
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stages are layers: a stage imports only the stages below it BROKEN" in result.stdout
    assert "vitrina.log.kafka -> vitrina.load.commit" in result.stdout
