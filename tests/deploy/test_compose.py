"""The compose files pass a real Compose parser (Debian's docker-compose 1.29 `config`, which
validates against the Compose schema without an engine), refuse to start without their secrets,
pin every image, mount only files that exist, and start vitrina's roles with options the
`vitrina` command accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from tests.deploy.tools import DEPLOY, DUMMY_SECRETS, bind_mounts, compose_config, resolved, vitrina_services
from vitrina.deploy.topology import CLUSTER, SINGLE, TOPOLOGIES

COMPOSE_FILES = [DEPLOY / t.compose_file for t in TOPOLOGIES.values()]


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_parser_accepts_the_file(compose_file: Path) -> None:
    config = resolved(compose_file)
    topology = next(t for t in TOPOLOGIES.values() if t.compose_file == compose_file.name)
    expected = {n.host for n in topology.clickhouse_nodes} | {k.host for k in topology.keeper_nodes}
    expected |= {b.host for b in topology.kafka_brokers} | {p.service for p in topology.processes}
    expected |= {"grafana", "prometheus", "alertmanager"}
    assert set(config["services"]) == expected


def test_the_cluster_has_the_upload_monitors_shape() -> None:
    services = resolved(DEPLOY / CLUSTER.compose_file)["services"]
    clickhouse = [s for s in services.values() if s["image"].startswith("clickhouse/clickhouse-server:")]
    keepers = [s for s in services.values() if s["image"].startswith("clickhouse/clickhouse-keeper:")]
    assert len(clickhouse) == 4 and len(keepers) == 3
    api = [s for s in vitrina_services({"services": services}).values() if s["command"][0] == "api"]
    assert len(api) == 2 and all(s["environment"]["VITRINA_WAREHOUSE__CLUSTER"] == CLUSTER.cluster for s in api)
    single = resolved(DEPLOY / SINGLE.compose_file)["services"]
    assert [n for n, s in single.items() if s["image"].startswith("clickhouse/")] == ["clickhouse"]
    assert "kafka" in single and single["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_refuses_to_start_without_each_secret(compose_file: Path) -> None:
    text = compose_file.read_text()
    used = [name for name in DUMMY_SECRETS if "${" + name + ":?" in text]
    assert used, "the compose file references no secret"
    for name in used:
        done = compose_config(compose_file, {k: v for k, v in DUMMY_SECRETS.items() if k != name})
        assert done.returncode != 0 and name in done.stderr, f"compose started without {name}: {done.stderr}"
    empty = compose_config(compose_file, {**DUMMY_SECRETS, used[0]: ""})
    assert empty.returncode != 0, "an empty secret must be refused too"


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_image_is_pinned_and_every_mounted_file_exists(compose_file: Path) -> None:
    for name, service in resolved(compose_file)["services"].items():
        repo, _, tag = service["image"].rpartition(":")
        assert repo and tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: image {service['image']} is not pinned"
        for source, target in bind_mounts(service):
            assert source.exists(), f"{name} mounts {source} at {target}, which the render did not write"
            assert source.resolve().is_relative_to(compose_file.parent.resolve()), f"{name} mounts {source} from outside deploy/"
            assert service["volumes"][[v.split(":")[0] for v in service["volumes"]].index(str(source))].endswith(":ro")


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_admin_ports_are_published_on_loopback_only(compose_file: Path) -> None:
    """Prometheus, Alertmanager and ClickHouse have no login of their own here."""
    services = resolved(compose_file)["services"]
    for name, service in services.items():
        if name in ("prometheus", "alertmanager") or service["image"].startswith("clickhouse/"):
            for port in service.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    for name in ("kafka", "kafka-1"):
        assert not services.get(name, {}).get("ports"), "Kafka has no authentication here: it stays inside the compose network"


def test_role_commands_parse_with_the_vitrina_command() -> None:
    """Each role's command line in the compose files is one `vitrina` accepts (options included).
    The roles `api` and `schedule` are built in a parallel branch: until it is merged there is
    nothing to check against, and the test says so."""
    from vitrina.cli.main import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    if "api" not in commands:
        pytest.skip("`vitrina api` is not registered yet (the roles branch); the compose files assume it")
    for compose_file in COMPOSE_FILES:
        for name, service in vitrina_services(resolved(compose_file)).items():
            role, *args = service["command"]
            command = commands.get(role)
            assert command is not None, f"{compose_file.name} {name}: no command `vitrina {role}`"
            command.make_context(role, list(args))  # raises on an unknown option or a bad value
