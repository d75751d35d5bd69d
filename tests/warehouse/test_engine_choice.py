"""`[warehouse] cluster` chooses the engine policy; the embedded engine has no cluster; a
stream's `shard_key` is read from its TOML declaration."""

from __future__ import annotations

from pathlib import Path

import pytest

from vitrina.config import ConfigError, load_settings
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.cluster import ClusterPolicy
from vitrina.warehouse.engine import EnginePolicy


def _settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vitrina.toml"
    path.write_text(text)
    return path


def test_the_cluster_setting_chooses_the_cluster_policy(tmp_path: Path) -> None:
    settings = load_settings(_settings(tmp_path, 'dsn = "http://u:p@ch:8123"\n[warehouse]\ncluster = "vitrina"\n'))
    assert settings.warehouse.cluster == "vitrina"
    policy = parse_dsn(settings.warehouse_dsn, settings.database, settings.warehouse.cluster).policy
    assert isinstance(policy, ClusterPolicy) and policy.cluster == "vitrina"
    assert policy.write("uploads") == "uploads_all" and policy.insert_settings("uploads")["distributed_foreground_insert"] == 1
    assert policy.write("_vitrina_check_uploads") == "_vitrina_check_uploads" and policy.insert_settings("_stage_x") == {}
    assert type(parse_dsn("http://u:p@ch:8123", "vitrina", "").policy) is EnginePolicy


def test_the_embedded_engine_has_no_cluster(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a ClickHouse server"):
        parse_dsn(f"chdb://{tmp_path}", "vitrina", "vitrina")
    wh = Warehouse(parse_dsn(f"chdb://{tmp_path / 'clickhouse'}"))
    try:
        assert type(wh.policy) is EnginePolicy
        assert wh.policy.read("uploads") == "uploads" and wh.policy.write("uploads") == "uploads"
        assert wh.policy.insert_settings("uploads") == {}
    finally:
        wh.close()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[warehouse]\nclustr = "vitrina"\n', "unknown settings"),
        ('[streams.visits]\nshard_key = 5\n[streams.visits.fields]\nuser = {type = "uint"}\n', "shard_key must be"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_settings(_settings(tmp_path, text))


def test_a_cluster_name_must_be_a_remote_servers_name() -> None:
    with pytest.raises(ValueError, match="remote_servers name"):
        ClusterPolicy("vitrina", "my.cluster")


def test_a_declared_shard_key_is_kept(tmp_path: Path) -> None:
    text = '[streams.visits]\nshard_key = " intHash64(user) "\n[streams.visits.fields]\nuser = {type = "uint"}\n'
    (visits,) = load_settings(_settings(tmp_path, text)).extra_streams
    assert visits.sharding_key == "intHash64(user)"
