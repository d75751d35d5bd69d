"""deploy/ is exactly what `vitrina deploy render` writes (so its files cannot drift from each
other or from the code), and no secret is ever written into it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.deploy.tools import DEPLOY, DUMMY_SECRETS
from vitrina.deploy.topology import SECRETS, SINGLE, TOPOLOGIES, Topology


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def render_cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> None:
    for extra in ([], ["--cluster"]):
        done = subprocess.run(
            [sys.executable, "-m", "vitrina", "deploy", "render", str(folder), *extra, *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        assert done.returncode == 0, done.stderr


def test_committed_deploy_folder_is_the_render_output_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    render_cli(out)
    rendered, committed = tree(out), tree(DEPLOY)
    assert sorted(committed) == sorted(rendered), "deploy/ has other files than the render: delete them, or re-render"
    stale = [name for name in rendered if rendered[name] != committed[name]]
    assert not stale, f"deploy/ differs from the render in {stale}: re-run `vitrina deploy render deploy` and `... --cluster`"


def test_rendering_writes_no_secret_from_the_environment(tmp_path: Path) -> None:
    render_cli(tmp_path / "deploy", env=DUMMY_SECRETS)
    for name, data in tree(tmp_path / "deploy").items():
        for value in DUMMY_SECRETS.values():
            assert value.encode() not in data, f"{name} holds the value of a secret"


@pytest.mark.parametrize("topology", [pytest.param(t, id=t.name) for t in TOPOLOGIES.values()])
def test_compose_takes_every_secret_from_the_environment(topology: Topology) -> None:
    text = (DEPLOY / topology.compose_file).read_text()
    refs = set(re.findall(r"\$\{(\w+)", text))
    assert refs == {s.env for s in topology.secrets}, "the compose file references a variable the topology does not declare"
    for key, value in re.findall(r"^\s+(\w*(?:PASSWORD|SECRET)\w*): (.*)$", text, re.M):
        ref = re.match(r"\$\{(\w+):\?", value)
        assert ref and ref.group(1) in refs, f"{key} is not taken from the environment: {value}"
    assert "http://vitrina:${VITRINA_CLICKHOUSE_PASSWORD:?" in text  # the DSN's password too


def test_env_example_names_every_secret_and_holds_no_value() -> None:
    lines = [line for line in (DEPLOY / "env.example").read_text().splitlines() if line and not line.startswith("#")]
    assert lines == [f"{s.env}=" for s in SECRETS]
    assert (DEPLOY / ".gitignore").read_text().splitlines()[-1] == ".env"


def test_the_settings_file_chooses_the_database(tmp_path: Path) -> None:
    config = tmp_path / "vitrina.toml"
    config.write_text('database = "shop"\n')
    render_cli(tmp_path / "out", "--config", str(config))
    users = (tmp_path / "out/cluster/clickhouse/users.d/vitrina.xml").read_text()
    assert "<database>shop</database>" in users
    datasource = (tmp_path / "out/single/grafana/provisioning/datasources/vitrina-clickhouse.yaml").read_text()
    assert 'defaultDatabase: "shop"' in datasource
    assert "VITRINA_DATABASE: shop" in (tmp_path / "out/compose.yml").read_text()


def test_a_topology_that_cannot_work_is_refused() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="odd number"):
        replace(TOPOLOGIES["cluster"], keepers=2)
    with pytest.raises(ValueError, match="cluster name"):
        replace(SINGLE, shards=2)
