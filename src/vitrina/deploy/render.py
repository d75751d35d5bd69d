"""Every file of a deployment, as {path relative to the output folder: text}, and writing them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from vitrina.alerts.rules import Rule
from vitrina.deploy import clickhouse, dockerfile, grafana, monitoring
from vitrina.deploy.compose import compose
from vitrina.deploy.formats import HEADER, yaml_text
from vitrina.deploy.topology import SECRETS, Topology


def env_example() -> str:
    lines = [f"# {HEADER}", "# Copy to deploy/.env (git ignores it) and set every value; compose refuses to start without them.", ""]
    for s in SECRETS:
        lines.append(f"# {s.purpose}" + (" (cluster only)" if s.cluster_only else ""))
        lines.append(f"{s.env}=")
    return "\n".join(lines) + "\n"


def common_files(t: Topology) -> dict[str, str]:
    """The files both topologies share: the image and the secrets' template."""
    return {
        "Dockerfile": dockerfile.dockerfile(t),
        "Dockerfile.dockerignore": dockerfile.dockerignore(),
        "env.example": env_example(),
        ".gitignore": f"# {HEADER}\n.env\n",
    }


def topology_files(t: Topology, rules: Sequence[Rule]) -> dict[str, str]:
    """The compose file and, under the topology's folder, everything it mounts."""
    mounted: dict[str, str] = {}
    mounted.update(clickhouse.files(t))
    mounted.update(grafana.files(t))
    mounted.update(monitoring.files(t, rules))
    out = {t.compose_file: yaml_text(compose(t), f"{t.name}: docker compose -f deploy/{t.compose_file} up -d (docs/DEPLOYMENT.md)")}
    out.update({f"{t.name}/{rel}": text for rel, text in sorted(mounted.items())})
    return out


def render(t: Topology, rules: Sequence[Rule], database: str | None = None) -> dict[str, str]:
    if database is not None:
        t = replace(t, database=database)
    return {**common_files(t), **topology_files(t, rules)}
