"""The compose file of a topology. Config files are mounted read-only from the topology's folder
beside it; secrets are `${VAR:?...}` references, so compose refuses to start without them and no
value is ever written here. Admin UIs without their own login (Prometheus, Alertmanager,
ClickHouse's HTTP port) are published on the loopback address only."""

from __future__ import annotations

from typing import Any

from vitrina.deploy import clickhouse, grafana, monitoring
from vitrina.deploy.topology import (
    CLICKHOUSE_PASSWORD,
    DATA_DIR,
    GRAFANA_ADMIN_PASSWORD,
    GRAFANA_PASSWORD,
    HEALTH_ENV,
    KEYS_DIR,
    VITRINA_USER,
    Process,
    Topology,
)

RESTART = "unless-stopped"


def _mount(t: Topology, rel: str, target: str) -> str:
    return f"./{t.name}/{rel}:{target}:ro"


def _clickhouse_env(t: Topology) -> dict[str, str]:
    env = {"CLICKHOUSE_SKIP_USER_SETUP": "1"}  # users come from users.d, not the image's entrypoint
    env.update({s.env: s.ref() for s in t.secrets if s is not GRAFANA_ADMIN_PASSWORD})
    return env


def clickhouse_services(t: Topology) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, node in enumerate(t.clickhouse_nodes):
        configs = [_mount(t, rel, target) for rel, target in clickhouse.server_paths(t, node)]
        service: dict[str, Any] = {
            "image": t.images.clickhouse,
            "hostname": node.host,
            "restart": RESTART,
            "environment": _clickhouse_env(t),
            "volumes": [*configs, f"{node.host}-data:/var/lib/clickhouse"],
            "ulimits": {"nofile": {"soft": 262144, "hard": 262144}},
            "ports": [f"127.0.0.1:{t.ports.clickhouse_http + i}:{t.ports.clickhouse_http}"],
            "healthcheck": {"test": ["CMD", "clickhouse-client", "--query", "SELECT 1"], "interval": "10s", "timeout": "5s", "retries": 30},
        }
        if t.keeper_nodes:
            service["depends_on"] = {k.host: {"condition": "service_started"} for k in t.keeper_nodes}
        out[node.host] = service
    return out


def keeper_services(t: Topology) -> dict[str, Any]:
    return {
        k.host: {
            "image": t.images.keeper,
            "hostname": k.host,
            "restart": RESTART,
            "volumes": [_mount(t, clickhouse.keeper_path(k), clickhouse.KEEPER_CONFIG), f"{k.host}-data:{clickhouse.KEEPER_DATA}"],
        }
        for k in t.keeper_nodes
    }


def _kafka_env(t: Topology, node_id: int, host: str) -> dict[str, str]:
    n = len(t.kafka_brokers)
    rf = min(3, n)
    return {
        "KAFKA_NODE_ID": str(node_id),
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{t.ports.kafka},CONTROLLER://:{t.ports.kafka_controller}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{t.ports.kafka}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": ",".join(f"{b.node_id}@{b.host}:{t.ports.kafka_controller}" for b in t.kafka_brokers),
        "CLUSTER_ID": t.kafka_cluster_id,
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",  # vitrina creates its topics
        "KAFKA_DEFAULT_REPLICATION_FACTOR": str(rf),
        "KAFKA_MIN_INSYNC_REPLICAS": str(max(1, rf - 1)),
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": str(rf),
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": str(rf),
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": str(max(1, rf - 1)),
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_LOG_RETENTION_HOURS": "168",  # a week of events stays replayable (docs/DEPLOYMENT.md, backups)
    }


def kafka_services(t: Topology) -> dict[str, Any]:
    probe = f"/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:{t.ports.kafka} > /dev/null"
    return {
        b.host: {
            "image": t.images.kafka,
            "hostname": b.host,
            "restart": RESTART,
            "environment": _kafka_env(t, b.node_id, b.host),
            "volumes": [f"{b.host}-data:/var/lib/kafka/data"],
            "healthcheck": {"test": ["CMD-SHELL", probe], "interval": "10s", "timeout": "10s", "retries": 30},
        }
        for b in t.kafka_brokers
    }


def _vitrina_env(t: Topology, p: Process) -> dict[str, str]:
    dsn = f"http://{VITRINA_USER}:{CLICKHOUSE_PASSWORD.ref()}@{p.clickhouse}:{t.ports.clickhouse_http}"
    env = {
        "VITRINA_DSN": dsn,
        "VITRINA_DATABASE": t.database,
        "VITRINA_DATA_DIR": DATA_DIR,
        "VITRINA_TRANSPORT__KIND": "kafka",
        "VITRINA_TRANSPORT__KAFKA": t.kafka_bootstrap,
    }
    if t.cluster is not None:
        env["VITRINA_WAREHOUSE__CLUSTER"] = t.cluster
    if p.role == "api":
        env["VITRINA_AUTH__ENABLED"] = "true"
        env["VITRINA_AUTH__KEYS_FILE"] = f"{KEYS_DIR}/keys.json"
    env[HEALTH_ENV] = f"http://127.0.0.1:{p.port}/healthz"
    return env


def vitrina_services(t: Topology) -> dict[str, Any]:
    needs = {n.host: {"condition": "service_healthy"} for n in t.clickhouse_nodes}
    needs.update({b.host: {"condition": "service_healthy"} for b in t.kafka_brokers})
    out: dict[str, Any] = {}
    api_index = 0
    for p in t.processes:
        volumes = [f"{p.service}-data:{DATA_DIR}"]
        service: dict[str, Any] = {
            "build": {"context": "..", "dockerfile": "deploy/Dockerfile"},
            "image": t.images.vitrina,
            "restart": RESTART,
            "command": list(p.command),
            "environment": _vitrina_env(t, p),
            "volumes": volumes,
            "depends_on": needs,
            "stop_grace_period": "60s",  # SIGTERM drains: answered requests, committed batches
        }
        if p.role == "api":
            volumes.append(f"vitrina-keys:{KEYS_DIR}")
            service["ports"] = [f"{t.ports.api + api_index}:{p.port}"]
            api_index += 1
        out[p.service] = service
    return out


def grafana_service(t: Topology) -> dict[str, Any]:
    return {
        "image": t.images.grafana,
        "restart": RESTART,
        "environment": {
            "GF_PLUGINS_PREINSTALL_SYNC": t.images.grafana_clickhouse_plugin,
            "GF_SECURITY_ADMIN_PASSWORD": GRAFANA_ADMIN_PASSWORD.ref(),
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            GRAFANA_PASSWORD.env: GRAFANA_PASSWORD.ref(),  # the datasource file reads it
        },
        "volumes": [
            _mount(t, "grafana/provisioning", grafana.PROVISIONING_DIR),
            _mount(t, "grafana/dashboards", grafana.DASHBOARDS_DIR),
            "grafana-data:/var/lib/grafana",
        ],
        "ports": [f"{t.ports.grafana}:{t.ports.grafana}"],
        "depends_on": {t.clickhouse_nodes[0].host: {"condition": "service_healthy"}},
    }


def monitoring_services(t: Topology) -> dict[str, Any]:
    prometheus = {
        "image": t.images.prometheus,
        "restart": RESTART,
        "command": [
            f"--config.file={monitoring.PROMETHEUS_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=15d",
        ],
        "volumes": [_mount(t, "prometheus", monitoring.PROMETHEUS_DIR), "prometheus-data:/prometheus"],
        "ports": [f"127.0.0.1:{t.ports.prometheus}:{t.ports.prometheus}"],
        "depends_on": {"alertmanager": {"condition": "service_started"}},
    }
    alertmanager = {
        "image": t.images.alertmanager,
        "restart": RESTART,
        "command": [f"--config.file={monitoring.ALERTMANAGER_DIR}/alertmanager.yml", "--storage.path=/alertmanager"],
        "volumes": [_mount(t, "alertmanager", monitoring.ALERTMANAGER_DIR), "alertmanager-data:/alertmanager"],
        "ports": [f"127.0.0.1:{t.ports.alertmanager}:{t.ports.alertmanager}"],
    }
    return {"prometheus": prometheus, "alertmanager": alertmanager}


def _named_volumes(services: dict[str, Any]) -> dict[str, dict[str, str]]:
    names = {v.split(":", 1)[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith(".")}
    return {name: {} for name in sorted(names)}


def compose(t: Topology) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for part in (keeper_services(t), clickhouse_services(t), kafka_services(t), vitrina_services(t)):
        services.update(part)
    services["grafana"] = grafana_service(t)
    services.update(monitoring_services(t))
    return {"services": services, "volumes": _named_volumes(services)}
