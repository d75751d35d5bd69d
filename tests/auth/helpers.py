"""Shared by the auth tests: a config with keys on, making keys with the CLI, and running a
process as root without the capabilities that let root read any file."""

from __future__ import annotations

from typing import Any

from tests.conftest import cli

AUTH = "[auth]\nenabled = true\n[models]\nenabled = false\n[alerts]\nenabled = false\n"
# Root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (util-linux's setpriv): file modes apply
# to it as to any user, so a chmod makes a real "permission denied".
WITHOUT_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def key(data_dir: Any, *args: str) -> str:
    done = cli("keys", "add", *args, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def harness_key(v: Any) -> None:
    """The key the test harness settles and queries with (settle() flushes: an operator action)."""
    v.headers = {"x-api-key": key(v.data_dir, "harness", "--read", "--operate")}
