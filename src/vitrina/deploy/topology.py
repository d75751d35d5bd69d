"""The one description every deployment file is rendered from: which services run, on which
host names and ports, from which pinned images. Nothing in the rendered files is typed twice:
remote_servers, macros, Keeper's raft list, the Prometheus targets and the compose services
all come from the same `Topology`."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

from vitrina import __version__
from vitrina.serve.dashboards.grafana import PASSWORD_ENV as GRAFANA_PASSWORD_ENV


@dataclass(frozen=True)
class Images:
    """Every image pinned to a release; the python base is the interpreter the tests run on."""

    python: str = "python:3.11.14-slim-bookworm"
    clickhouse: str = "clickhouse/clickhouse-server:26.3.17.4"
    keeper: str = "clickhouse/clickhouse-keeper:26.3.17.4"
    kafka: str = "apache/kafka:4.1.1"
    grafana: str = "grafana/grafana:12.3.1"
    grafana_clickhouse_plugin: str = "grafana-clickhouse-datasource@4.20.0"
    prometheus: str = "prom/prometheus:v3.5.0"
    alertmanager: str = "prom/alertmanager:v0.28.0"
    vitrina: str = f"vitrina:{__version__}"


@dataclass(frozen=True)
class Ports:
    api: int = 8000  # `vitrina api`: intake, read API, dashboard, /healthz, /readyz, /metrics
    load: int = 9101  # `vitrina load`: /healthz, /readyz, /metrics
    schedule: int = 9102  # `vitrina schedule`: /healthz, /readyz, /metrics
    clickhouse_http: int = 8123
    clickhouse_native: int = 9000
    clickhouse_interserver: int = 9009
    clickhouse_metrics: int = 9363  # ClickHouse's and Keeper's own Prometheus endpoint
    keeper_client: int = 9181
    keeper_raft: int = 9234
    kafka: int = 9092
    kafka_controller: int = 9093
    grafana: int = 3000
    prometheus: int = 9090
    alertmanager: int = 9093


@dataclass(frozen=True)
class Secret:
    env: str
    purpose: str
    cluster_only: bool = False

    def ref(self) -> str:
        """A compose reference that refuses to start without the variable (no default value)."""
        return "${" + self.env + ":?set " + self.env + " in deploy/.env (see deploy/env.example)}"


CLICKHOUSE_PASSWORD = Secret("VITRINA_CLICKHOUSE_PASSWORD", "ClickHouse user `vitrina`, in the roles' DSN: letters and digits only (a URL)")
GRAFANA_PASSWORD = Secret(GRAFANA_PASSWORD_ENV, "ClickHouse user `grafana` (read-only), for Grafana's datasource")
GRAFANA_ADMIN_PASSWORD = Secret("VITRINA_GRAFANA_ADMIN_PASSWORD", "Grafana's `admin` login")
CLUSTER_SECRET = Secret("VITRINA_CLUSTER_SECRET", "the ClickHouse cluster's shared secret: Distributed queries between nodes", True)
INTERSERVER_PASSWORD = Secret("VITRINA_INTERSERVER_PASSWORD", "replicas fetching parts from each other (interserver HTTP)", True)
SECRETS = (CLICKHOUSE_PASSWORD, GRAFANA_PASSWORD, GRAFANA_ADMIN_PASSWORD, CLUSTER_SECRET, INTERSERVER_PASSWORD)

VITRINA_USER = "vitrina"  # the ClickHouse user every role connects as
DATA_DIR = "/var/lib/vitrina"  # the vitrina image's home and each role's data folder
KEYS_DIR = "/etc/vitrina/keys"  # API keys, shared by the api services (`vitrina keys add` writes there)
HEALTH_ENV = "HEALTHCHECK_URL"  # read by the image's HEALTHCHECK; not a VITRINA_ setting


@dataclass(frozen=True)
class ClickHouseNode:
    host: str
    shard: int  # 1-based, the position of its shard in remote_servers
    replica: int  # 1-based within the shard


@dataclass(frozen=True)
class KeeperNode:
    server_id: int
    host: str


@dataclass(frozen=True)
class Broker:
    node_id: int
    host: str


@dataclass(frozen=True)
class Role:
    name: str  # the `vitrina` subcommand
    count: int  # services of this role
    port: int
    args: tuple[str, ...] = ()  # role options beyond --host/--port


@dataclass(frozen=True)
class Process:
    """One vitrina service of the compose file."""

    role: str
    service: str
    port: int
    command: tuple[str, ...]
    clickhouse: str  # the ClickHouse node its DSN points at


@dataclass(frozen=True)
class Topology:
    name: str  # also the folder of its config files beside the compose file
    compose_file: str
    shards: int
    replicas: int
    keepers: int
    brokers: int
    api: int
    api_workers: int
    loaders: int
    schedulers: int
    cluster: str | None  # `[warehouse] cluster`; None: one server, no Keeper
    database: str = "vitrina"
    images: Images = field(default_factory=Images)
    ports: Ports = field(default_factory=Ports)

    def __post_init__(self) -> None:
        if self.cluster is None and (self.shards, self.replicas, self.keepers) != (1, 1, 0):
            raise ValueError("a topology with shards, replicas or Keeper needs a cluster name")
        if self.cluster is not None and self.keepers % 2 == 0:
            raise ValueError("Keeper needs an odd number of nodes for a majority")

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(s for s in SECRETS if self.cluster or not s.cluster_only)

    @property
    def clickhouse_nodes(self) -> tuple[ClickHouseNode, ...]:
        if self.cluster is None:
            return (ClickHouseNode("clickhouse", 1, 1),)
        return tuple(ClickHouseNode(f"clickhouse-s{s}-r{r}", s, r) for s in range(1, self.shards + 1) for r in range(1, self.replicas + 1))

    @property
    def keeper_nodes(self) -> tuple[KeeperNode, ...]:
        return tuple(KeeperNode(i, f"keeper-{i}") for i in range(1, self.keepers + 1))

    @property
    def kafka_brokers(self) -> tuple[Broker, ...]:
        if self.brokers == 1:
            return (Broker(1, "kafka"),)
        return tuple(Broker(i, f"kafka-{i}") for i in range(1, self.brokers + 1))

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{b.host}:{self.ports.kafka}" for b in self.kafka_brokers)

    @property
    def kafka_cluster_id(self) -> str:
        """KRaft's cluster id (16 bytes, base64url): fixed per topology so a re-render keeps it."""
        raw = uuid.uuid5(uuid.NAMESPACE_URL, f"vitrina-deploy:{self.name}").bytes
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @property
    def roles(self) -> tuple[Role, ...]:
        return (
            Role("api", self.api, self.ports.api, ("--workers", str(self.api_workers))),
            Role("load", self.loaders, self.ports.load),
            Role("schedule", self.schedulers, self.ports.schedule),
        )

    @property
    def processes(self) -> tuple[Process, ...]:
        """Every vitrina service; their DSNs go round the ClickHouse nodes, shards first, so no
        node serves them all."""
        nodes = sorted(self.clickhouse_nodes, key=lambda n: (n.replica, n.shard))
        out: list[Process] = []
        for role in self.roles:
            for i in range(1, role.count + 1):
                command = (role.name, "--host", "0.0.0.0", "--port", str(role.port), *role.args)
                out.append(Process(role.name, f"{role.name}-{i}", role.port, command, nodes[len(out) % len(nodes)].host))
        return tuple(out)


SINGLE = Topology(
    name="single",
    compose_file="compose.yml",
    shards=1,
    replicas=1,
    keepers=0,
    brokers=1,
    api=2,
    api_workers=2,
    loaders=1,
    schedulers=1,
    cluster=None,
)

# The upload monitor's layout: 2 shards x 2 replicas, 3 Keeper nodes; Kafka with 3 brokers so a
# broker may fail; a standby scheduler.
CLUSTER = Topology(
    name="cluster",
    compose_file="compose.cluster.yml",
    shards=2,
    replicas=2,
    keepers=3,
    brokers=3,
    api=2,
    api_workers=2,
    loaders=2,
    schedulers=2,
    cluster="vitrina",
)

TOPOLOGIES = {t.name: t for t in (SINGLE, CLUSTER)}
