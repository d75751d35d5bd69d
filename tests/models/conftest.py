"""A `vitrina up` per test module with the scheduler and the evaluator off: tests run models
themselves, with their own clock."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import VitrinaProcess

QUIET = "[models]\nenabled = false\nlookback_s = 86400\n[alerts]\nenabled = false\n"


@pytest.fixture(scope="module")
def server() -> Iterator[VitrinaProcess]:
    folder = Path(tempfile.mkdtemp(prefix="vitrina-models-"))
    config = folder / "config.toml"
    config.write_text(QUIET)
    v = VitrinaProcess(folder / "data", config).start()
    yield v
    if v.proc is not None:
        v.stop()
    shutil.rmtree(folder, ignore_errors=True)
