"""The ClickHouse and Keeper XML: well-formed, remote_servers agreeing with every node's macros,
the same three raft members on every Keeper node, passwords only from the environment. Each
check also runs on a damaged copy of deploy/ to show it catches what it is for."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.agreement import all_xml, cluster_problems, keeper_problems, secret_problems
from tests.deploy.tools import DEPLOY, resolved
from vitrina.deploy.topology import CLUSTER, SINGLE


def test_every_xml_file_is_well_formed() -> None:
    files = all_xml(DEPLOY)
    assert len(files) >= 2 + 4 + 3  # users and server config per topology, a node file per replica, a file per Keeper
    for path in files:
        root = ET.parse(path).getroot()  # raises on malformed XML
        assert root.tag == "clickhouse", path


def test_cluster_files_agree_with_each_other_and_the_services() -> None:
    config = resolved(DEPLOY / CLUSTER.compose_file)
    assert cluster_problems(config) == []
    assert keeper_problems(config) == []
    assert secret_problems(config) == []


def test_single_node_files_keep_secrets_in_the_environment() -> None:
    config = resolved(DEPLOY / SINGLE.compose_file)
    assert secret_problems(config) == []
    assert cluster_problems(config) == ["vitrina's services name clusters ['None'], not one"]  # no cluster is configured


def _damaged(tmp_path: Path, rel: str, old: str, new: str) -> dict[str, Any]:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    path = copy / rel
    text = path.read_text()
    assert re.search(old, text), f"{old!r} not in {rel}"
    path.write_text(re.sub(old, new, text, count=1))
    return resolved(copy / CLUSTER.compose_file)


NODE = "cluster/clickhouse/{}/config.d/node.xml"
SERVERS = "cluster/clickhouse/config.d/vitrina.xml"
DAMAGE: list[tuple[str, str, str, Callable[[dict[str, Any]], list[str]], str]] = [
    (NODE.format("clickhouse-s2-r1"), "<shard>2</shard>", "<shard>1</shard>", cluster_problems, "macro shard"),
    (NODE.format("clickhouse-s1-r2"), "<replica>clickhouse-s1-r2<", "<replica>clickhouse-s1-r1<", cluster_problems, "macros"),
    (SERVERS, "<host>clickhouse-s2-r2</host>", "<host>clickhouse-s1-r1</host>", cluster_problems, "remote_servers"),
    (SERVERS, "<host>keeper-3</host>", "<host>keeper-4</host>", cluster_problems, "zookeeper"),
    ("cluster/keeper/keeper-2.xml", "<server_id>2</server_id>", "<server_id>3</server_id>", keeper_problems, "server_id"),
    ("cluster/keeper/keeper-3.xml", "<hostname>keeper-1</hostname>", "<hostname>keeper-9</hostname>", keeper_problems, "raft"),
    ("cluster/clickhouse/users.d/vitrina.xml", "<password from_env=[^>]*>", "<password>x</password>", secret_problems, "value"),
    (SERVERS, 'from_env="VITRINA_CLUSTER_SECRET"', 'from_env="NOT_GIVEN"', secret_problems, "NOT_GIVEN"),
]


@pytest.mark.parametrize(("rel", "old", "new", "check", "word"), DAMAGE, ids=[f"{d[3].__name__}:{d[4]}" for d in DAMAGE])
def test_a_damaged_copy_is_caught(
    tmp_path: Path, rel: str, old: str, new: str, check: Callable[[dict[str, Any]], list[str]], word: str
) -> None:
    problems = check(_damaged(tmp_path, rel, old, new))
    assert problems and any(word in p for p in problems), problems


def test_malformed_xml_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    node = copy / "cluster/clickhouse/clickhouse-s1-r1/config.d/node.xml"
    node.write_text(node.read_text().replace("</macros>", "</macro>"))
    with pytest.raises(ET.ParseError):
        cluster_problems(resolved(copy / CLUSTER.compose_file))
