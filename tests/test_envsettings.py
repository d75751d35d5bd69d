"""Settings from VITRINA_* variables over the TOML file, and secrets masked in what
`vitrina config show` prints."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import pytest

from tests.conftest import cli
from vitrina.config import ConfigError, load_settings
from vitrina.envsettings import MASK, masked


def test_every_kind_of_setting_comes_from_the_environment_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "v.toml"
    config.write_text('dsn = "chdb:///from/file"\n[transport]\nkind = "redis"\npartitions = 8\n[sql]\nmax_rows = 7\n')
    env = {
        "VITRINA_DSN": "http://vitrina:pw@ch:8123",
        "VITRINA_DATABASE": "shop",
        "VITRINA_DATA_DIR": "/var/lib/vitrina",
        "VITRINA_PORT": "9000",
        "VITRINA_TRANSPORT__KIND": "kafka",
        "VITRINA_TRANSPORT__KAFKA": "kafka:9092",
        "VITRINA_WAREHOUSE__CLUSTER": "vitrina",
        "VITRINA_AUTH__ENABLED": "true",
        "VITRINA_AUTH__KEYS_FILE": "/etc/vitrina/keys/keys.json",
        "VITRINA_WRITER__WAL_INTERVAL_MS": "50",
        "VITRINA_ALERTS__WEBHOOKS": '["https://hooks.example/a", "https://hooks.example/b"]',
        "VITRINA_ALERTS__QUOTES_MID_THRESHOLD": "2.5",
        "VITRINA_RETENTION__METRICS": "30",
    }
    s = load_settings(config, env)
    assert (s.dsn, s.database, s.data_dir, s.port) == ("http://vitrina:pw@ch:8123", "shop", Path("/var/lib/vitrina"), 9000)
    assert (s.transport.kind, s.transport.kafka, s.transport.partitions) == ("kafka", "kafka:9092", 8)  # the file's other keys stay
    assert s.sql.max_rows == 7
    assert s.warehouse.cluster == "vitrina"
    assert s.auth.enabled is True and s.auth.keys_file == "/etc/vitrina/keys/keys.json"
    assert s.writer.wal_interval_ms == 50.0
    assert s.alerts.webhooks == ("https://hooks.example/a", "https://hooks.example/b")
    assert s.alerts.quotes_mid_threshold == 2.5
    assert s.retention == {"metrics": 30}
    assert load_settings(None, {"VITRINA_AUTH__ENABLED": "false"}).auth.enabled is False


def test_variables_that_are_not_settings_are_ignored_and_a_misspelt_one_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "VITRINA_GRAFANA_PASSWORD": "x",
        "VITRINA_API_KEY": "k",
        "VITRINA_CLICKHOUSE_PASSWORD": "y",
        "VITRINA_TRANSPORT__KINDD": "kafka",
        "VITRINA_NOSECTION__X": "1",
        "OTHER": "1",
    }
    with caplog.at_level(logging.WARNING):
        first = load_settings(None, env)
        load_settings(None, env)
    assert first.transport.kind == "direct"
    warned = [r.getMessage() for r in caplog.records]
    assert sum("VITRINA_TRANSPORT__KINDD" in m for m in warned) == 1, warned
    assert sum("VITRINA_NOSECTION__X" in m for m in warned) == 1, warned
    assert not any("GRAFANA" in m or "API_KEY" in m or "CLICKHOUSE" in m for m in warned), warned


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("VITRINA_AUTH__ENABLED", "maybe", "true or false"),
        ("VITRINA_PORT", "eighty", "a number"),
        ("VITRINA_TRANSPORT__KIND", "carrier-pigeon", "kind must be"),
        ("VITRINA_ALERTS__WEBHOOKS", "[unclosed", "TOML value"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, {name: value})
    assert says in str(err.value)
    if "kind must be" not in says:
        assert name in str(err.value)


def test_secrets_are_masked() -> None:
    data = {
        "dsn": "http://vitrina:s3cr3t@clickhouse:8123/db",
        "redis": "redis://:hunter2@redis:6379/0",
        "alerts": {"webhooks": ["https://hooks.slack.com/services/T0/B0/XyZsecret", "https://u:p@hook.example/x?token=abc"]},
        "reports": {"destination": "s3://bucket/reports?aws_secret_access_key=AKIAXX&region=eu"},
        "auth": {"keys_file": "/etc/vitrina/keys.json", "api_key": "k-123"},
        "s3": {"secret_access_key": "abc", "access_key_id": "AKIA", "password": "p", "token": "t"},
        "plain": "https://example.com/path",
    }
    out = masked(data)
    text = json.dumps(out)
    for secret in ("s3cr3t", "hunter2", "XyZsecret", "abc", "AKIAXX", "k-123", "AKIA", '"p"', '"t"'):
        assert secret not in text, (secret, out)
    assert out["dsn"] == f"http://vitrina:{MASK}@clickhouse:8123/db"
    assert out["auth"]["keys_file"] == "/etc/vitrina/keys.json"  # where the keys are is no secret
    assert out["plain"] == "https://example.com/path"
    assert out["alerts"]["webhooks"][0].startswith("https://hooks.slack.com/")


def test_config_show_prints_the_effective_settings_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"VITRINA_DSN": "http://vitrina:topsecret@ch:8123", "VITRINA_TRANSPORT__KIND": "kafka", "VITRINA_AUTH__ENABLED": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)  # cli() runs vitrina with the test's environment
    as_json = cli("config", "show", "--format", "json")
    as_toml = cli("config", "show")
    assert as_json.returncode == 0, as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["dsn"] == f"http://vitrina:{MASK}@ch:8123"
    assert shown["transport"]["kind"] == "kafka" and shown["auth"]["enabled"] is True
    assert "topsecret" not in as_toml.stdout and "topsecret" not in as_json.stdout
    assert tomllib.loads(as_toml.stdout)["transport"]["kind"] == "kafka"
