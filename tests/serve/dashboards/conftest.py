"""One `vitrina up` fed by the simulator, shared by the dashboard tests of this package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.conftest import ROOT, VitrinaProcess
from tests.serve.dashboards.test_browser import Watched


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


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A desktop-sized page whose console errors are collected."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    w = Watched(context.new_page())
    yield w
    context.close()
