"""One `vitrina up` fed by the simulator, shared by the dashboard tests of this package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, VitrinaProcess


@pytest.fixture(scope="package")
def fed() -> Iterator[VitrinaProcess]:
    """A server holding a few seconds of simulated traffic on every stream, a few bad events included."""
    folder = Path(tempfile.mkdtemp(prefix="vitrina-dash-"))
    v = VitrinaProcess(folder / "data").start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "vitrina",
                "simulate",
                "--url",
                v.url,
                "--rate",
                "600",
                "--duration",
                "4",
                "--seed",
                "5",
                "--bad-fraction",
                "0.02",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert run.returncode == 0, run.stderr
        yield v
    finally:
        if v.proc is not None:
            v.stop()
        shutil.rmtree(folder, ignore_errors=True)
