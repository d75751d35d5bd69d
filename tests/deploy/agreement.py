"""Checks that the ClickHouse and Keeper files each node mounts (as Compose resolves the mounts)
agree with each other and with the compose services: each returns the problems it found, so a
test can show both that the committed files have none and that a damaged copy is caught."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.deploy.tools import bind_mounts

SERVER_IMAGE = "clickhouse/clickhouse-server:"
KEEPER_IMAGE = "clickhouse/clickhouse-keeper:"


def node_configs(service: dict[str, Any]) -> list[ET.Element]:
    """The parsed XML files a ClickHouse or Keeper service mounts (a malformed one raises)."""
    return [ET.parse(source).getroot() for source, _ in bind_mounts(service) if source.suffix == ".xml"]


def _one(roots: list[ET.Element], path: str, where: str, problems: list[str]) -> ET.Element | None:
    found = [el for root in roots for el in root.findall(path)]
    if len(found) != 1:
        problems.append(f"{where}: {len(found)} <{path}> sections in its mounted files, not 1")
        return None
    return found[0]


def _services(config: dict[str, Any], image: str) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in config["services"].items() if s["image"].startswith(image)}


def _cluster_name(config: dict[str, Any], problems: list[str]) -> str | None:
    names = {s["environment"].get("VITRINA_WAREHOUSE__CLUSTER") for s in config["services"].values() if "build" in s}
    if len(names) != 1 or None in names:
        problems.append(f"vitrina's services name clusters {sorted(map(str, names))}, not one")
        return None
    return names.pop()


def _remote_hosts(cluster: ET.Element) -> list[list[str]]:
    return [[r.findtext("host", "") for r in shard.findall("replica")] for shard in cluster.findall("shard")]


def _check_node(name: str, service: dict[str, Any], shards: list[list[str]], cluster: str, problems: list[str]) -> None:
    roots = node_configs(service)
    macros = _one(roots, "macros", name, problems)
    if macros is None:
        return
    host, shard, replica = service.get("hostname"), macros.findtext("shard", ""), macros.findtext("replica")
    if replica != host or macros.findtext("cluster") != cluster:
        problems.append(f"{name}: macros replica={replica} cluster={macros.findtext('cluster')}, hostname {host}, cluster {cluster}")
    interserver = [el.text for root in roots for el in root.findall("interserver_http_host")]
    if interserver != [host]:
        problems.append(f"{name}: interserver_http_host {interserver}, not its hostname {host}")
    where = [i + 1 for i, hosts in enumerate(shards) for h in hosts if h == host]
    if where != ([int(shard)] if shard.isdigit() else []):
        problems.append(f"{name}: macro shard {shard!r}, but remote_servers lists {host} in shards {where}")


def _check_keeper_client(name: str, roots: list[ET.Element], keepers: dict[str, int], problems: list[str]) -> None:
    zk = _one(roots, "zookeeper", name, problems)
    if zk is None:
        return
    listed = {(n.findtext("host", ""), int(n.findtext("port", "0"))) for n in zk.findall("node")}
    if listed != set(keepers.items()):
        problems.append(f"{name}: zookeeper lists {sorted(listed)}, Keeper runs {sorted(keepers.items())}")


def cluster_problems(config: dict[str, Any]) -> list[str]:
    """remote_servers agrees with every node's macros: each node appears exactly once, in the
    shard its macros claim; every listed host is a ClickHouse service; all nodes share one
    remote_servers and reach the Keeper nodes that run."""
    problems: list[str] = []
    servers = _services(config, SERVER_IMAGE)
    cluster = _cluster_name(config, problems)
    keepers = keeper_client_ports(config)
    layouts = {}
    for name, service in servers.items():
        roots = node_configs(service)
        section = _one(roots, f"remote_servers/{cluster}", name, problems) if cluster else None
        if section is None or cluster is None:
            continue
        shards = _remote_hosts(section)
        layouts[name] = shards
        _check_node(name, service, shards, cluster, problems)
        _check_keeper_client(name, roots, keepers, problems)
        if section.find("secret") is None:
            problems.append(f"{name}: remote_servers/{cluster} has no <secret>")
    if len({repr(v) for v in layouts.values()}) > 1:
        problems.append(f"the nodes disagree on remote_servers: {layouts}")
    for shards in list(layouts.values())[:1]:
        listed = [h for hosts in shards for h in hosts]
        hostnames = sorted(s.get("hostname", "") for s in servers.values())
        if sorted(listed) != hostnames:
            problems.append(f"remote_servers lists {sorted(listed)}, the ClickHouse services are {hostnames}")
    return problems


def keeper_client_ports(config: dict[str, Any]) -> dict[str, int]:
    """{Keeper host name: the client port its own config opens}."""
    out: dict[str, int] = {}
    for service in _services(config, KEEPER_IMAGE).values():
        ports = [el.text for root in node_configs(service) for el in root.findall("keeper_server/tcp_port")]
        out[service.get("hostname", "")] = int(ports[0]) if len(ports) == 1 and ports[0] else -1
    return out


def keeper_problems(config: dict[str, Any]) -> list[str]:
    """Every Keeper node lists the same raft members, those are exactly the Keeper services, and
    each node's server_id is the member with its own host name."""
    problems: list[str] = []
    keepers = _services(config, KEEPER_IMAGE)
    hostnames = {s.get("hostname") for s in keepers.values()}
    members = {}
    for name, service in keepers.items():
        server = _one(node_configs(service), "keeper_server", name, problems)
        if server is None:
            continue
        raft = [(s.findtext("id"), s.findtext("hostname"), s.findtext("port")) for s in server.findall("raft_configuration/server")]
        members[name] = raft
        mine = [h for i, h, _ in raft if i == server.findtext("server_id")]
        if mine != [service.get("hostname")]:
            problems.append(f"{name}: server_id {server.findtext('server_id')} is {mine} in the raft list, not its hostname")
        if {h for _, h, _ in raft} != hostnames or len(raft) != len(hostnames):
            problems.append(f"{name}: raft members {raft}, Keeper services {sorted(map(str, hostnames))}")
    if len({repr(m) for m in members.values()}) > 1:
        problems.append(f"the Keeper nodes disagree on the raft members: {members}")
    if len(hostnames) % 2 == 0:
        problems.append(f"{len(hostnames)} Keeper nodes: a majority needs an odd number")
    return problems


def secret_problems(config: dict[str, Any]) -> list[str]:
    """Every password or secret in a ClickHouse file comes from an environment variable the
    service is given, and no file holds a value."""
    problems: list[str] = []
    for name, service in {**_services(config, SERVER_IMAGE), **_services(config, KEEPER_IMAGE)}.items():
        for root in node_configs(service):
            for el in [*root.iter("password"), *root.iter("secret")]:
                var = el.get("from_env")
                if (el.text or "").strip() or var is None:
                    problems.append(f"{name}: <{el.tag}> holds a value instead of from_env")
                elif var not in service.get("environment", {}):
                    problems.append(f"{name}: <{el.tag} from_env={var!r}> but the service has no {var}")
    return problems


def all_xml(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.xml"))
