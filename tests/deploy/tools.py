"""The real tools the deployment checks run (docker-compose, hadolint, promtool, amtool), the
committed deploy/ folder, and the compose files as Compose itself resolves them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from vitrina.deploy.topology import SECRETS

DEPLOY = ROOT / "deploy"
# Dummy values for every secret the compose files reference; none of them is ever written to a file.
DUMMY_SECRETS = {s.env: f"dummy-{s.env.lower().replace('_', '-')}" for s in SECRETS}


def tool(name: str, how: str) -> str:
    """The path of a tool the checks need; a missing one fails the test saying how to get it."""
    venv_bin = Path(sys.executable).parent / name
    path = shutil.which(name) or (str(venv_bin) if venv_bin.exists() else None)
    if path is None:
        raise AssertionError(f"{name} not found: {how} (scripts/setup installs it)")
    return path


def docker_compose() -> str:
    return tool("docker-compose", "apt-get install -y docker-compose")


def compose_config(compose_file: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` (1.29 parses and validates without an engine) with only the given
    variables set: no .env file and no secret from the calling shell leaks in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VITRINA_", "COMPOSE_", "DOCKER_"))}
    with tempfile.NamedTemporaryFile("w", suffix=".env") as no_env_file:
        command = [docker_compose(), "--project-directory", str(compose_file.parent), "-f", str(compose_file)]
        return subprocess.run(
            [*command, "--env-file", no_env_file.name, "config"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**base, **(env if env is not None else DUMMY_SECRETS)},
        )


def resolved(compose_file: Path) -> dict[str, Any]:
    """The compose file as Compose resolves it (paths absolute, variables interpolated)."""
    done = compose_config(compose_file)
    assert done.returncode == 0, f"docker-compose config {compose_file.name} failed:\n{done.stderr}"
    data: dict[str, Any] = yaml.safe_load(done.stdout)
    return data


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host file, container path) of a resolved service's bind mounts."""
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("/"):
            out.append((Path(source), target))
    return out


def vitrina_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in config["services"].items() if "build" in s}


def command_port(service: dict[str, Any]) -> int:
    command = service["command"]
    return int(command[command.index("--port") + 1])
