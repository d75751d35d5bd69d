"""Prometheus and Alertmanager configs pass their own tools (Debian's promtool and amtool), the
rules are the exported ones with their shipped promtool tests passing, and Prometheus scrapes
every vitrina process of the compose file, and ClickHouse and Keeper, on the ports they serve."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.agreement import node_configs
from tests.deploy.tools import DEPLOY, command_port, resolved, tool, vitrina_services
from vitrina.deploy.topology import TOPOLOGIES, Topology

PARAMS = [pytest.param(t, id=t.name) for t in TOPOLOGIES.values()]


def promtool() -> str:
    return tool("promtool", "apt-get install -y prometheus")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("topology", PARAMS)
def test_promtool_accepts_the_config_and_its_rules(topology: Topology) -> None:
    folder = DEPLOY / topology.name / "prometheus"
    check = run(promtool(), "check", "config", str(folder / "prometheus.yml"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "1 rule files found" in check.stdout and "7 rules found" in check.stdout, check.stdout  # the rules file was loaded
    rules = run(promtool(), "check", "rules", str(folder / "rules/vitrina.rules.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    test = run(promtool(), "test", "rules", "vitrina.rules.test.yml", cwd=folder / "rules")
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr


@pytest.mark.parametrize("topology", PARAMS)
def test_amtool_accepts_the_alertmanager_config(topology: Topology) -> None:
    amtool = tool("amtool", "apt-get install -y prometheus-alertmanager")
    done = run(amtool, "check-config", str(DEPLOY / topology.name / "alertmanager/alertmanager.yml"))
    assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check can fail: a scrape job without a name is refused."""
    shutil.copytree(DEPLOY / "single/prometheus", tmp_path / "prometheus")
    path = tmp_path / "prometheus/prometheus.yml"
    path.write_text(path.read_text().replace("job_name: vitrina-api", "job_nam: vitrina-api"))
    done = run(promtool(), "check", "config", str(path))
    assert done.returncode != 0 and "job_nam" in done.stdout + done.stderr


def scrape_problems(config: dict[str, Any], prometheus: dict[str, Any]) -> list[str]:
    """Each vitrina role's job lists exactly that role's services on their --port; ClickHouse,
    Keeper and Alertmanager are reached at the ports their services serve."""
    jobs = {j["job_name"]: sorted(t for sc in j["static_configs"] for t in sc["targets"]) for j in prometheus["scrape_configs"]}
    want: dict[str, list[str]] = {}
    for name, service in vitrina_services(config).items():
        want.setdefault(f"vitrina-{service['command'][0]}", []).append(f"{name}:{command_port(service)}")
    services = config["services"]
    for job, image in (("clickhouse", "clickhouse/clickhouse-server:"), ("keeper", "clickhouse/clickhouse-keeper:")):
        hosts = [s["hostname"] for s in services.values() if s["image"].startswith(image)]
        if hosts:
            want[job] = [f"{h}:{_metrics_port(services, h)}" for h in hosts]
    problems = [f"job {job}: targets {jobs.get(job)}, compose runs {sorted(t)}" for job, t in want.items() if jobs.get(job) != sorted(t)]
    alerting = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    if alerting != ["alertmanager:9093"] or "alertmanager" not in services:
        problems.append(f"alerts go to {alerting}")
    return problems


def _metrics_port(services: dict[str, Any], host: str) -> str:
    """The port of the <prometheus> section of the node's own mounted config."""
    service = next(s for s in services.values() if s.get("hostname") == host)
    ports = [el.text for root in node_configs(service) for el in root.findall("prometheus/port")]
    return ports[0] if len(ports) == 1 and ports[0] else "none"


@pytest.mark.parametrize("topology", PARAMS)
def test_prometheus_scrapes_every_process_of_the_compose_file(topology: Topology) -> None:
    config = resolved(DEPLOY / topology.compose_file)
    prometheus = yaml.safe_load((DEPLOY / topology.name / "prometheus/prometheus.yml").read_text())
    assert scrape_problems(config, prometheus) == []
    assert len(vitrina_services(config)) == len(topology.processes)


def test_a_missing_target_is_caught() -> None:
    config = resolved(DEPLOY / "compose.cluster.yml")
    prometheus = yaml.safe_load((DEPLOY / "cluster/prometheus/prometheus.yml").read_text())
    loaders = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "vitrina-load")
    loaders["static_configs"][0]["targets"].pop()
    assert any("vitrina-load" in p for p in scrape_problems(config, prometheus))
