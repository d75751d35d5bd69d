"""The CLI's errors: bad option values are usage errors (exit 2) before anything runs, a data
folder that does not exist is refused (and not made) by every command but `up`, an unexpected
error is one line unless --debug, and help shows config sections as they are written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli


def vitrina(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vitrina", *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, port: str) -> None:
    done = vitrina("up", "--port", port, "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "Invalid value for '--port'" in done.stderr, done.stderr
    assert not (tmp_path / "d").exists()  # refused before the stack starts


READERS = [
    ["sql", "SELECT 1"],
    ["models", "list"],
    ["models", "run", "--full"],
    ["alerts", "list"],
    ["alerts", "check"],
    ["keys", "list"],
    ["keys", "revoke", "x"],
    ["report", "2026-01-05"],
    ["flush"],
]


@pytest.mark.parametrize("args", READERS, ids=[" ".join(a) for a in READERS])
def test_a_data_folder_that_does_not_exist_is_refused(tmp_path: Path, args: list[str]) -> None:
    typo = tmp_path / "TYPO"
    done = vitrina(*args, "--data-dir", str(typo))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "no data folder" in done.stderr and str(typo) in done.stderr and "Traceback" not in done.stderr
    assert not typo.exists()


def test_an_unexpected_error_is_one_line_unless_debug(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "folder" / "rules.yml"  # its folder does not exist
    done = vitrina("alerts", "export-prometheus", str(target))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "No such file or directory" in lines[0] and "--debug" in lines[0]
    debug = vitrina("--debug", "alerts", "export-prometheus", str(target))
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr


@pytest.mark.parametrize(
    ("args", "literal"),
    [
        (["alerts", "list", "--help"], "[[alerts.rules]]"),
        (["report", "--help"], "[reports] destination"),
        (["keys", "--help"], "[auth] enabled = true"),
        (["sql", "--help"], "[auth]"),
        (["ddl", "schema", "--help"], "[warehouse] cluster"),
        (["--help"], "Exit codes: 0"),
    ],
)
def test_help_shows_config_sections_literally(args: list[str], literal: str) -> None:
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    flat = " ".join(done.stdout.split())
    assert literal in flat and "\\[" not in flat, done.stdout
