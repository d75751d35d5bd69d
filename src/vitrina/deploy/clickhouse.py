"""ClickHouse server and Keeper configuration. Passwords and the cluster secret are read by
ClickHouse from the environment (`from_env`), so no file holds one.

Layout beside the compose file, under the topology's folder:
  clickhouse/config.d/vitrina.xml        every node: Prometheus endpoint, a backup disk; on a cluster also
                                         remote_servers, the Keeper client, distributed DDL,
                                         interserver credentials
  clickhouse/NODE/config.d/node.xml      one node's macros {cluster}/{shard}/{replica} and the
                                         host name its replicas fetch parts from (cluster only)
  clickhouse/users.d/vitrina.xml         the `vitrina` user; `default` only from localhost
  clickhouse/users.d/grafana.xml         the read-only `grafana` user (`vitrina grafana export`)
  keeper/NODE.xml                        one Keeper node's server id and the raft members
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vitrina.deploy.formats import child, element, xml_text
from vitrina.deploy.topology import (
    CLICKHOUSE_PASSWORD,
    CLUSTER_SECRET,
    INTERSERVER_PASSWORD,
    VITRINA_USER,
    ClickHouseNode,
    KeeperNode,
    Topology,
)

SERVER_CONFIG_DIR = "/etc/clickhouse-server/config.d"
SERVER_USERS_DIR = "/etc/clickhouse-server/users.d"
KEEPER_CONFIG = "/etc/clickhouse-keeper/keeper_config.xml"  # the keeper image's entrypoint reads this file
KEEPER_DATA = "/var/lib/clickhouse"  # the keeper image's data folder (its entrypoint owns it to uid 101)
BACKUP_DISK = "backups"
BACKUP_PATH = "/var/lib/clickhouse/backups/"
GRAFANA_USERS_FILE = "users.d/grafana.xml"  # where `vitrina grafana export` puts the user, under clickhouse/


def _prometheus(parent: ET.Element, port: int) -> None:
    prom = child(parent, "prometheus")
    for tag, text in (("endpoint", "/metrics"), ("port", port), ("metrics", "true"), ("events", "true"), ("asynchronous_metrics", "true")):
        child(prom, tag, text)


def _remote_servers(parent: ET.Element, t: Topology) -> None:
    assert t.cluster is not None
    cluster = child(child(parent, "remote_servers"), t.cluster)
    # With a secret, a node forwards the initial user to the others instead of logging in as
    # `default`, so Distributed queries run with the caller's rights.
    child(cluster, "secret", from_env=CLUSTER_SECRET.env)
    for shard in range(1, t.shards + 1):
        el = child(cluster, "shard")
        child(el, "internal_replication", "true")  # a Distributed insert writes one replica; replication copies it
        for node in (n for n in t.clickhouse_nodes if n.shard == shard):
            replica = child(el, "replica")
            child(replica, "host", node.host)
            child(replica, "port", t.ports.clickhouse_native)


def _keeper_client(parent: ET.Element, t: Topology) -> None:
    zk = child(parent, "zookeeper")
    for k in t.keeper_nodes:
        node = child(zk, "node")
        child(node, "host", k.host)
        child(node, "port", t.ports.keeper_client)


def _backup_disk(parent: ET.Element) -> None:
    """`BACKUP ... TO Disk('backups', 'NAME.zip')`: inside the data volume, where uid 101 may
    write; copy the files off the host, or back up to S3 instead (docs/DEPLOYMENT.md)."""
    disk = child(child(child(parent, "storage_configuration"), "disks"), BACKUP_DISK)
    child(disk, "type", "local")
    child(disk, "path", BACKUP_PATH)
    backups = child(parent, "backups")
    child(backups, "allowed_disk", BACKUP_DISK)
    child(backups, "allowed_path", BACKUP_PATH)


def server_config(t: Topology) -> str:
    root = element("clickhouse")
    _prometheus(root, t.ports.clickhouse_metrics)
    _backup_disk(root)
    if t.cluster is not None:
        _remote_servers(root, t)
        _keeper_client(root, t)
        child(child(root, "distributed_ddl"), "path", "/clickhouse/task_queue/ddl")
        creds = child(root, "interserver_http_credentials")
        child(creds, "user", "interserver")
        child(creds, "password", from_env=INTERSERVER_PASSWORD.env)
    return xml_text(root, "Every ClickHouse node of this topology.")


def node_config(t: Topology, node: ClickHouseNode) -> str:
    assert t.cluster is not None
    root = element("clickhouse")
    child(root, "display_name", node.host)
    child(root, "interserver_http_host", node.host)  # replicas fetch parts from this name
    macros = child(root, "macros")
    child(macros, "cluster", t.cluster)
    child(macros, "shard", node.shard)
    child(macros, "replica", node.host)
    return xml_text(root, f"Node {node.host}: shard {node.shard}, replica {node.replica}.")


def users_config(t: Topology) -> str:
    root = element("clickhouse")
    users = child(root, "users")
    default = child(users, "default")
    networks = child(default, "networks", replace="replace")  # the image's default user: local tools only
    for ip in ("::1", "127.0.0.1"):
        child(networks, "ip", ip)
    user = child(users, VITRINA_USER)
    child(user, "password", from_env=CLICKHOUSE_PASSWORD.env)
    child(user, "profile", "default")
    child(user, "quota", "default")
    child(child(user, "networks"), "ip", "::/0")
    child(child(user, "allow_databases"), "database", t.database)
    return xml_text(root, "The user vitrina's roles connect as; its password comes from the environment.")


def keeper_config(t: Topology, me: KeeperNode) -> str:
    root = element("clickhouse")
    logger = child(root, "logger")
    child(logger, "level", "information")
    child(logger, "console", "true")
    child(root, "listen_host", "0.0.0.0")
    keeper = child(root, "keeper_server")
    child(keeper, "tcp_port", t.ports.keeper_client)
    child(keeper, "server_id", me.server_id)
    child(keeper, "log_storage_path", f"{KEEPER_DATA}/coordination/log")
    child(keeper, "snapshot_storage_path", f"{KEEPER_DATA}/coordination/snapshots")
    coordination = child(keeper, "coordination_settings")
    for tag, text in (("operation_timeout_ms", 10000), ("session_timeout_ms", 30000), ("raft_logs_level", "warning")):
        child(coordination, tag, text)
    raft = child(keeper, "raft_configuration")
    for k in t.keeper_nodes:
        server = child(raft, "server")
        child(server, "id", k.server_id)
        child(server, "hostname", k.host)
        child(server, "port", t.ports.keeper_raft)
    _prometheus(root, t.ports.clickhouse_metrics)
    return xml_text(root, f"Keeper node {me.host} (server_id {me.server_id}).")


def server_paths(t: Topology, node: ClickHouseNode) -> list[tuple[str, str]]:
    """(file under the topology's folder, path in the container) for one ClickHouse node."""
    out = [
        ("clickhouse/config.d/vitrina.xml", f"{SERVER_CONFIG_DIR}/vitrina.xml"),
        ("clickhouse/users.d/vitrina.xml", f"{SERVER_USERS_DIR}/vitrina.xml"),
        (f"clickhouse/{GRAFANA_USERS_FILE}", f"{SERVER_USERS_DIR}/grafana.xml"),
    ]
    if t.cluster is not None:
        out.insert(1, (f"clickhouse/{node.host}/config.d/node.xml", f"{SERVER_CONFIG_DIR}/node.xml"))
    return out


def keeper_path(k: KeeperNode) -> str:
    return f"keeper/{k.host}.xml"


def files(t: Topology) -> dict[str, str]:
    """Every ClickHouse and Keeper file under the topology's folder (grafana.xml comes from the
    Grafana export)."""
    out = {"clickhouse/config.d/vitrina.xml": server_config(t), "clickhouse/users.d/vitrina.xml": users_config(t)}
    if t.cluster is not None:
        for node in t.clickhouse_nodes:
            out[f"clickhouse/{node.host}/config.d/node.xml"] = node_config(t, node)
        for k in t.keeper_nodes:
            out[keeper_path(k)] = keeper_config(t, k)
    return out
