"""The SQL endpoint runs one read-only query and refuses anything that writes or changes settings."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import VitrinaProcess


def test_select_returns_meta_data_rows(vitrina: VitrinaProcess) -> None:
    resp = httpx.get(f"{vitrina.url}/v1/sql", params={"query": "SELECT number AS n, toString(number) AS s FROM numbers(3)"})
    assert resp.status_code == 200
    assert resp.json() == {
        "meta": [{"name": "n", "type": "UInt64"}, {"name": "s", "type": "String"}],
        "data": [{"n": 0, "s": "0"}, {"n": 1, "s": "1"}, {"n": 2, "s": "2"}],
        "rows": 3,
        "truncated": False,
    }
    as_json = httpx.post(f"{vitrina.url}/v1/sql", json={"query": "SELECT 1 AS one"})
    assert as_json.json()["data"] == [{"one": 1}]


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO vitrina.metrics (metric_name, metric_value) VALUES ('x', 1)",
        "DROP TABLE vitrina.metrics",
        "TRUNCATE TABLE vitrina.rejected",
        "ALTER TABLE vitrina.metrics DELETE WHERE 1",
        "CREATE TABLE vitrina.x (a Int8) ENGINE = Memory",
        "SET readonly = 0",
        "SET max_result_rows = 0",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1 SETTINGS max_execution_time = 100000",
        "OPTIMIZE TABLE vitrina.metrics FINAL",
    ],
)
def test_writes_ddl_and_settings_are_403(vitrina: VitrinaProcess, query: str) -> None:
    resp = httpx.post(f"{vitrina.url}/v1/sql", content=query.encode())
    assert resp.status_code == 403, resp.text
    assert "read" in resp.json()["message"].lower()
    assert vitrina.scalar("SELECT count() FROM system.tables WHERE database = 'vitrina' AND name = 'metrics'") == 1


def test_multiple_statements_and_bad_sql_are_400(vitrina: VitrinaProcess) -> None:
    assert httpx.post(f"{vitrina.url}/v1/sql", content=b"SELECT 1; DROP TABLE vitrina.metrics").status_code == 400
    bad = httpx.post(f"{vitrina.url}/v1/sql", content=b"SELEC 1")
    assert bad.status_code == 400 and "Syntax" in bad.json()["message"]
    assert httpx.post(f"{vitrina.url}/v1/sql", content=b"   ").status_code == 400
    assert httpx.get(f"{vitrina.url}/v1/sql").status_code == 422  # the query parameter is missing


def test_row_cap_truncates(make_vitrina: object) -> None:
    v = make_vitrina("[sql]\nmax_rows = 10\n")  # type: ignore[operator]
    body = httpx.get(f"{v.url}/v1/sql", params={"query": "SELECT number FROM numbers(100000)"}).json()
    assert body["rows"] == 10 and body["truncated"] is True


def test_time_limit(make_vitrina: object) -> None:
    v = make_vitrina("[sql]\ntimeout_s = 0.5\n")  # type: ignore[operator]
    resp = httpx.get(f"{v.url}/v1/sql", params={"query": "SELECT count() FROM numbers(100000000000)"}, timeout=30)
    assert resp.status_code == 408 and "time limit" in resp.json()["message"]
