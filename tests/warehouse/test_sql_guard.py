"""The readers' allow-list on ClickHouse's own syntax tree: what is accepted, what is refused
and why, and that the lists still match the running ClickHouse. In-process, on a real chdb
folder (ReadOnlySql is what `/v1/sql` and `vitrina sql` both run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vitrina.config import SqlSettings
from vitrina.streams.builtin import BUILTIN
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.readonly import QueryRefused, ReadOnlySql
from vitrina.warehouse.schema import migrate
from vitrina.warehouse.sql_ast import MalformedTree, parse_ast
from vitrina.warehouse.sql_guard import DENIED_FUNCTIONS, DENIED_PREFIXES, TABLE_FUNCTIONS, denied_function


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard")


@pytest.fixture(scope="module")
def warehouse(folder: Path) -> Iterator[Warehouse]:
    wh = Warehouse(parse_dsn(f"chdb://{folder / 'ch'}", "vitrina"))
    migrate(wh, BUILTIN)
    wh.command("INSERT INTO vitrina.metrics (metric_name, metric_value) VALUES ('guard', 1), ('guard', 2)")
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def sql(warehouse: Warehouse) -> Iterator[ReadOnlySql]:
    reader = ReadOnlySql(warehouse, SqlSettings(max_rows=1000, timeout_s=10, concurrency=2))
    yield reader
    reader.close()


def refusal(sql: ReadOnlySql, query: str) -> QueryRefused:
    with pytest.raises(QueryRefused) as caught:
        sql.run(query)
    return caught.value


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count() FROM metrics WHERE metric_name = 'guard'",
        "SELECT count() FROM vitrina.metrics WHERE metric_name = 'guard'",
        "select count() from vitrina.metrics where metric_name = 'guard' -- a comment; DROP TABLE x\n",
        "SELECT /* ; DROP TABLE x */ 1",
        "SELECT ';' AS semicolon, $$it's$$ AS heredoc",
        "WITH t AS (SELECT number FROM numbers(10)) SELECT sum(number) FROM t",
        "SELECT 1 UNION ALL SELECT 2",
        "SELECT 1 INTERSECT SELECT 1",
        "(SELECT 1) EXCEPT (SELECT 2)",
        "SELECT number FROM numbers(5) WHERE number IN (SELECT number FROM numbers(3))",
        "SELECT 1 IN one",
        "SELECT * FROM numbers(3) AS a JOIN (SELECT zero FROM system.zeros LIMIT 3) AS b ON a.number = b.zero",
        "SELECT * FROM generateRandom('a Int8, b String', 1, 10) LIMIT 2",
        "SELECT * FROM values('a Int8', 1, 2) AS v, null('b UInt8') AS n",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT arrayMap(x -> x * 2, [1, 2]), sleep(0.01), now(), version(), currentDatabase()",
        "SELECT count() FROM system.tables WHERE database = 'vitrina'",
        "SELECT name FROM system.columns WHERE table = 'metrics' LIMIT 1",
        "SELECT * FROM information_schema.tables LIMIT 1",
        "SELECT * FROM INFORMATION_SCHEMA.COLUMNS LIMIT 1",
        "SELECT * FROM system.numbers LIMIT 3",
        "DESCRIBE TABLE metrics",
        "DESC vitrina.metrics",
        "DESCRIBE (SELECT 1 AS x)",
        "DESCRIBE numbers(3)",
        "SHOW TABLES",
        "SHOW TABLES FROM system LIKE 'parts%'",
        "SHOW FULL TABLES FROM vitrina",
        "SHOW DATABASES",
        "SHOW COLUMNS FROM metrics",
        "SHOW CREATE TABLE vitrina.metrics",
        "SHOW CREATE TABLE metrics",
        "SHOW SETTINGS LIKE 'max_memory%'",
        "SHOW FUNCTIONS LIKE 'count%'",
        "EXPLAIN SELECT count() FROM metrics",
        "EXPLAIN PLAN actions = 1 SELECT count() FROM metrics",
        "EXPLAIN PIPELINE SELECT count() FROM metrics",
        "EXPLAIN AST SELECT 1",
        "EXPLAIN SYNTAX SELECT 1",
        "EXPLAIN QUERY TREE SELECT 1",
        "EXPLAIN ESTIMATE SELECT * FROM metrics",
    ],
)
def test_reads_are_accepted(sql: ReadOnlySql, query: str) -> None:
    result = sql.run(query)
    assert result.meta, query


@pytest.mark.parametrize(
    "query,status,why",
    [
        ("SELECT 'x' INTO OUTFILE '/tmp/vitrina-guard-x'", 403, "INTO OUTFILE is refused"),
        ("SELECT 'x' INTO OUTFILE '/tmp/vitrina-guard-x' TRUNCATE", 403, "INTO OUTFILE is refused"),
        ("SELECT 'x' INTO OUTFILE '/tmp/vitrina-guard-x' APPEND COMPRESSION 'gzip'", 403, "INTO OUTFILE is refused"),
        ("SELECT 'x' FORMAT RawBLOB", 403, "FORMAT is refused"),
        ("SELECT 1 SETTINGS max_threads = 2", 403, "SETTINGS is refused"),
        ("SELECT 1 UNION ALL SELECT 2 SETTINGS max_threads = 2", 403, "SETTINGS is refused"),
        ("SELECT * FROM (SELECT 1 SETTINGS max_threads = 2)", 403, "SETTINGS is refused"),
        ("EXPLAIN SYNTAX SELECT 1 INTO OUTFILE '/tmp/vitrina-guard-x'", 403, "INTO OUTFILE is refused"),
        ("EXPLAIN AST SELECT 1 FORMAT TSV", 403, "FORMAT is refused"),
        ("EXPLAIN TABLE OVERRIDE mysql('a', 'b', 'c', 'd', 'e') PARTITION BY x", 403, "EXPLAIN TABLE OVERRIDE is refused"),
        ("EXPLAIN AST KILL QUERY WHERE 1", 403, "for a SELECT only"),
        ("SHOW TABLES FROM system FORMAT JSON", 403, "FORMAT is refused"),
        ("SHOW DATABASES INTO OUTFILE '/tmp/vitrina-guard-x'", 403, "INTO OUTFILE is refused"),
        ("SHOW PROCESSLIST", 403, "SHOW PROCESSLIST is refused"),
        ("SHOW GRANTS", 403, "SHOW GRANTS is refused"),
        ("SHOW DICTIONARIES", 403, "SHOW DICTIONARIES is refused"),
        ("SHOW CREATE TABLE system.processes", 403, "system.processes is not readable"),
        ("SHOW TABLES FROM default", 403, "database 'default' is not readable"),
        ("DESCRIBE TABLE system.users", 403, "system.users is not readable"),
        ("DESCRIBE file('/etc/passwd')", 403, "table function file() is refused"),
        ("KILL QUERY WHERE query ILIKE '%INSERT INTO vitrina.%'", 403, "KILL QUERY is refused"),
        ("KILL QUERY WHERE 1 SYNC", 403, "KILL QUERY is refused"),
        ("SYSTEM STOP MERGES", 403, "SYSTEM STOP MERGES is refused"),
        ("SYSTEM FLUSH LOGS", 403, "SYSTEM FLUSH LOGS is refused"),
        ("OPTIMIZE TABLE metrics FINAL", 403, "OPTIMIZE TABLE is refused"),
        ("SET max_memory_usage = 0", 403, "SET is refused"),
        ("SET readonly = 0", 403, "SET is refused"),
        ("USE system", 403, "USE is refused"),
        ("INSERT INTO metrics (metric_name, metric_value) VALUES ('x', 1)", 403, "INSERT INTO is refused"),
        ("INSERT INTO FUNCTION file('/tmp/vitrina-guard-x') SELECT 1", 403, "INSERT INTO FUNCTION is refused"),
        ("DROP TABLE metrics", 403, "DROP TABLE is refused"),
        ("TRUNCATE TABLE metrics", 403, "TRUNCATE TABLE is refused"),
        ("ALTER TABLE metrics DELETE WHERE 1", 403, "ALTER TABLE is refused"),
        ("CREATE TABLE x (a Int8) ENGINE = Memory", 403, "CREATE TABLE is refused"),
        ("CHECK TABLE metrics", 403, "CHECK TABLE is refused"),
        ("EXISTS TABLE metrics", 403, "EXISTS TABLE is refused"),
        ("SELECT * FROM file('/etc/passwd')", 403, "table function file() is refused (it reads files"),
        ("SELECT * FROM url('http://127.0.0.1:9/', CSV)", 403, "table function url() is refused (it reads URLs)"),
        ("SELECT * FROM s3('http://127.0.0.1:9/b/k', CSV)", 403, "table function s3() is refused (it reads URLs)"),
        ("SELECT * FROM remote('127.0.0.1:9000', system.one)", 403, "table function remote() is refused (it reaches other servers)"),
        ("SELECT * FROM executable('id', 'TSV', 'x String')", 403, "table function executable() is refused (it runs programs"),
        ("SELECT * FROM merge('system', '.*')", 403, "table function merge() is refused"),
        ("SELECT * FROM view(SELECT 1)", 403, "table function view() is refused"),
        ("SELECT * FROM input('x Int8')", 403, "table function input() is refused"),
        ("SELECT * FROM numbers(1) AS n JOIN url('http://127.0.0.1:9/', CSV) AS u ON 1", 403, "table function url() is refused"),
        ("SELECT * FROM (SELECT * FROM file('/etc/passwd'))", 403, "table function file() is refused"),
        ("SELECT * FROM numbers(1) WHERE number IN (SELECT * FROM file('/etc/passwd'))", 403, "table function file() is refused"),
        ("SELECT file('/etc/passwd')", 403, "function file() is refused (it reads server files)"),
        ("SELECT FILE('/etc/passwd')", 403, "function FILE() is refused"),
        ("SELECT arrayMap(p -> file(p), ['/etc/passwd'])", 403, "function file() is refused"),
        ("SELECT hostName(), fqdn(), uptime()", 403, "function hostName() is refused (it reveals the host)"),
        ("SELECT filesystemAvailable()", 403, "function filesystemAvailable() is refused"),
        ("SELECT getServerSetting('path')", 403, "function getServerSetting() is refused"),
        ("SELECT dictGet('d', 'a', 1)", 403, "function dictGet() is refused"),
        ("SELECT joinGet('vitrina.x', 'a', 1)", 403, "function joinGet() is refused"),
        ("SELECT aiGenerate('hello')", 403, "function aiGenerate() is refused (it calls a remote service)"),
        ("SELECT regionToName(1)", 403, "function regionToName() is refused"),
        ("SELECT logTrace('x')", 403, "function logTrace() is refused"),
        ("SELECT __getScalar('x')", 403, "function __getScalar() is refused"),
        ("SELECT * FROM system.processes", 403, "table system.processes is not readable"),
        ("SELECT * FROM system.query_log", 403, "table system.query_log is not readable"),
        ("SELECT * FROM `system`.`users`", 403, "table system.users is not readable"),
        ("SELECT * FROM default.x", 403, "database 'default' is not readable"),
        ("SELECT 1 FROM metrics WHERE metric_name IN system.users", 403, "table system.users is not readable"),
        ("SELECT 1 FROM metrics WHERE metric_name GLOBAL NOT IN system.users", 403, "table system.users is not readable"),
        ("SELECT 1 AS `a\nb`", 400, "escape sequence"),
        ("SELECT 1; SELECT 2", 400, "Multi-statements are not allowed"),
        ("SELECT $$'$$; SELECT 'x' INTO OUTFILE '/tmp/vitrina-guard-x'", 400, "Multi-statements are not allowed"),
        ("SELECT ';'; DROP TABLE metrics", 400, "Multi-statements are not allowed"),
        ("SELEC 1", 400, "Syntax error"),
        ("", 400, "send one query"),
    ],
)
def test_everything_else_is_refused_saying_why(sql: ReadOnlySql, query: str, status: int, why: str) -> None:
    refused = refusal(sql, query)
    assert refused.status == status, refused.message
    assert why in refused.message, refused.message
    assert not Path("/tmp/vitrina-guard-x").exists()


def test_every_problem_is_named(sql: ReadOnlySql) -> None:
    refused = refusal(sql, "SELECT file('/etc/passwd'), hostName() FROM system.processes INTO OUTFILE '/tmp/vitrina-guard-x' FORMAT CSV")
    assert refused.detail is not None and len(refused.detail) == 5, refused.detail
    assert refused.body()["error"] == "not_allowed"


def test_refused_statements_change_nothing(sql: ReadOnlySql, warehouse: Warehouse) -> None:
    for query in ("DROP TABLE metrics", "TRUNCATE TABLE metrics", "SET readonly = 0", "ALTER TABLE metrics DELETE WHERE 1"):
        refusal(sql, query)
    assert warehouse.query("SELECT count() FROM vitrina.metrics WHERE metric_name = 'guard'").result_rows[0][0] == 2
    assert sql.run("SELECT getSetting('readonly') AS r").body().endswith(b'"data":[{"r":1}],"rows":1,"truncated":false}')


def test_the_session_is_still_read_only_behind_the_guard(warehouse: Warehouse) -> None:
    """readonly=1 is the second wall: a reader session refuses writes even without the guard."""
    client = warehouse.reader(SqlSettings())
    try:
        with pytest.raises(Exception, match="readonly"):
            client.command("INSERT INTO vitrina.metrics (metric_name, metric_value) VALUES ('wall', 1)")
        with pytest.raises(Exception, match="readonly"):
            client.command("SET max_memory_usage = 0")
    finally:
        client.close()


def test_a_failed_query_leaves_nothing_for_the_next(warehouse: Warehouse) -> None:
    """chdb gives the output a failed query had written to the next query on the same session;
    the pool replaces such a session, so a reader never sees another query's rows."""
    reader = ReadOnlySql(warehouse, SqlSettings(concurrency=1, max_memory_mb=64))
    try:
        assert refusal(reader, "SELECT groupArray(number) AS leaked FROM numbers(100000000)").error == "limit_exceeded"
        assert reader.run("SELECT 42 AS answer").body() == (
            b'{"meta":[{"name":"answer","type":"UInt8"}],"data":[{"answer":42}],"rows":1,"truncated":false}'
        )
    finally:
        reader.close()


def functions(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return list(warehouse.query("SELECT name, alias_to, categories FROM system.functions").result_rows)


def test_the_denied_functions_cover_their_aliases_and_families(warehouse: Warehouse) -> None:
    """Checked against the running ClickHouse, so a new version's aliases and functions of the
    refused families are noticed here, not by a reader."""
    rows = functions(warehouse)
    names = {str(r[0]).lower() for r in rows}
    assert set(DENIED_FUNCTIONS) - names <= {"filesystemfree", "tcpport", "modelevaluate", "catboostevaluate"}
    for name, alias_to, categories in rows:
        if alias_to and denied_function(str(alias_to)):
            assert denied_function(name), f"{name} is an alias of the refused {alias_to}"
        if {"Dictionary", "Embedded Dictionary", "AI"} & set(str(categories).split(", ")):
            assert denied_function(name), f"{name} ({categories}) reads outside the readers' tables"
    assert all(any(n.startswith(p) for n in names) for p in DENIED_PREFIXES)


def test_the_table_function_list_names_real_table_functions(warehouse: Warehouse) -> None:
    known = {str(r[0]).lower() for r in warehouse.query("SELECT name FROM system.table_functions").result_rows}
    assert known >= TABLE_FUNCTIONS


@pytest.mark.parametrize(
    "dump,why",
    [
        ("", "nothing"),
        ("SelectWithUnionQuery (children 1)\n ExpressionList\nSelectWithUnionQuery", "outside the tree"),
        ("SelectWithUnionQuery (children 2)\n ExpressionList", "claims 2 children and has 1"),
        ("SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n   Literal 1", "outside the tree"),
        ("SelectWithUnionQuery (children 1)\n ExpressionList\n  Literal 1", "claims 0 children and has 1"),
        (" SelectWithUnionQuery", "does not start at its root"),
    ],
)
def test_a_dump_that_is_not_one_tree_is_refused(dump: str, why: str) -> None:
    with pytest.raises(MalformedTree, match=why):
        parse_ast(dump)


def test_a_dump_becomes_its_tree() -> None:
    tree = parse_ast(
        "SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 2)\n"
        "   ExpressionList (children 1)\n    Asterisk\n   TablesInSelectQuery (children 1)\n"
        "    TablesInSelectQueryElement (children 1)\n     TableExpression (children 1)\n"
        "      Function numbers (alias n) (children 1)\n       ExpressionList (children 1)\n        Literal UInt64_3"
    )
    kinds = [(n.kind, n.name) for n, _ in tree.walk() if n.kind in ("Function", "Literal")]
    assert kinds == [("Function", "numbers"), ("Literal", "UInt64_3")]
