"""Prometheus (a scrape job per vitrina role with every process of it as a target, ClickHouse and
Keeper, the rules `vitrina alerts export-prometheus` writes) and Alertmanager wired to it."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vitrina.alerts.prometheus import export as export_rules
from vitrina.alerts.rules import Rule
from vitrina.deploy.formats import yaml_text
from vitrina.deploy.topology import Topology

PROMETHEUS_DIR = "/etc/prometheus"  # the topology's prometheus/ folder is mounted here
ALERTMANAGER_DIR = "/etc/alertmanager"
RULES_FILE = "rules/vitrina.rules.yml"  # relative to prometheus.yml: promtool and Prometheus resolve it so


def _job(name: str, targets: Sequence[str]) -> dict[str, Any]:
    return {"job_name": name, "static_configs": [{"targets": list(targets)}]}


def scrape_jobs(t: Topology) -> list[dict[str, Any]]:
    jobs = [_job(f"vitrina-{role.name}", [f"{p.service}:{p.port}" for p in t.processes if p.role == role.name]) for role in t.roles]
    jobs.append(_job("clickhouse", [f"{n.host}:{t.ports.clickhouse_metrics}" for n in t.clickhouse_nodes]))
    if t.keeper_nodes:
        jobs.append(_job("keeper", [f"{k.host}:{t.ports.clickhouse_metrics}" for k in t.keeper_nodes]))
    jobs.append(_job("prometheus", [f"localhost:{t.ports.prometheus}"]))
    jobs.append(_job("alertmanager", [f"alertmanager:{t.ports.alertmanager}"]))
    return jobs


def prometheus_yml(t: Topology) -> str:
    config = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s", "external_labels": {"deployment": t.name}},
        "rule_files": [RULES_FILE],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"alertmanager:{t.ports.alertmanager}"]}]}]},
        "scrape_configs": scrape_jobs(t),
    }
    return yaml_text(config)


def alertmanager_yml() -> str:
    config = {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [{"name": "default"}],
    }
    note = (
        "The default receiver only keeps alerts in Alertmanager's UI and API. Add a receiver with a\n"
        "compose override that mounts your own file (docs/DEPLOYMENT.md); keep its tokens in *_file\n"
        "fields pointing at mounted secrets."
    )
    return yaml_text(config, note)


def rules_files(rules: Sequence[Rule]) -> dict[str, str]:
    """The rules file and its promtool test file, exactly as `vitrina alerts export-prometheus` writes them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(RULES_FILE).name
        test = export_rules(rules, path)
        return {RULES_FILE: path.read_text(), f"{Path(RULES_FILE).parent}/{test.name}": test.read_text()}


def files(t: Topology, rules: Sequence[Rule]) -> dict[str, str]:
    out = {"prometheus/prometheus.yml": prometheus_yml(t), "alertmanager/alertmanager.yml": alertmanager_yml()}
    out.update({f"prometheus/{rel}": text for rel, text in rules_files(rules).items()})
    return out
