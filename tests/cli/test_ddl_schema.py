"""`vitrina ddl schema [--cluster NAME]`: the whole schema for a DBA, every statement ending with
`;`. On one server it is run for real: applied to an empty chdb folder, it is the schema vitrina
itself makes (migrating and running every model afterwards creates or rebuilds nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import clickhouse_connect
import pytest
from typer.testing import CliRunner

from tests.warehouse.clickhouse_parser import Parser
from tests.warehouse.ddl_scenario import recording
from vitrina.cli.main import app
from vitrina.models.db import Db
from vitrina.models.runner import ModelRunner
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import builtin_models
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate


def printed(*args: str) -> list[str]:
    result = CliRunner().invoke(app, ["ddl", "schema", *args])
    assert result.exit_code == 0, result.output
    head, _, body = result.output.partition("\n\n")
    assert head.startswith("-- vitrina schema of database vitrina")
    statements = body.strip().split(";\n\n")
    assert statements[-1].endswith(";")
    statements[-1] = statements[-1].removesuffix(";")
    return statements


def test_the_printed_schema_is_the_one_vitrina_makes(tmp_path: Path) -> None:
    statements = printed()
    folder = tmp_path / "clickhouse"
    folder.mkdir()
    client = clickhouse_connect.get_client(dsn=f"chdb://{folder}")
    for sql in statements:  # a DBA applying the file, statement by statement
        client.command(sql)
    client.close()
    with recording() as sent:
        wh = Warehouse(parse_dsn(f"chdb://{folder}"))
        migrate(wh, BUILTIN)
        runner = ModelRunner(Db.of(wh), builtin_models(), ModelSettings())
        results = runner.run(full=True, now=datetime(2026, 3, 4, tzinfo=UTC))
        runner.close()
        wh.close()
    assert [r.name for r in results if r.status != "ok"] == []
    models = {m.name for m in builtin_models()}
    remade = [sql for sql in sent if sql.startswith(("CREATE", "DROP")) and not any(f"`_stage_{m}`" in sql for m in models)]
    assert remade == []  # every table, view and model table was already there, as vitrina wants it


def test_the_cluster_schema_parses_and_is_made_on_the_cluster(tmp_path: Path) -> None:
    statements = printed("--cluster", "vitrina")
    parser = Parser(tmp_path)
    try:
        for sql in statements:
            assert " ON CLUSTER vitrina" in parser.format(sql).split("\n", 1)[0], sql[:120]
    finally:
        parser.close()
    single = printed()
    views = sum(sql.startswith("CREATE MATERIALIZED VIEW") for sql in single)
    assert len(statements) == 2 * len(single) - 1 - views  # an `_all` twin to every table


@pytest.mark.parametrize("name", ["a.b", "x y", ""])
def test_a_bad_cluster_name_is_refused(name: str) -> None:
    result = CliRunner().invoke(app, ["ddl", "schema", "--cluster", name])
    if name:
        assert result.exit_code == 2 and "remote_servers name" in result.output
    else:
        assert result.exit_code == 0 and "ON CLUSTER" not in result.output  # empty: one server
