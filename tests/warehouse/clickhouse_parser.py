"""ClickHouse's own parser, from chdb (no server, no Keeper: nothing is executed): a statement
in ClickHouse's canonical form (`formatQuery`), its syntax tree (`EXPLAIN AST`), and the
tables a query reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from vitrina.warehouse.sql_ast import Node, parse_ast

# A name a WITH clause gives a subquery; a query may read it without a database.
_CTE = re.compile(r"(?:\bWITH|,)\s+(\w+)\s+AS\s*\(", re.IGNORECASE)


class Parser:
    def __init__(self, folder: Path) -> None:
        self.client: Client = clickhouse_connect.get_client(dsn=f"chdb://{folder}")

    def format(self, sql: str) -> str:
        """The statement as ClickHouse prints it after parsing it (raises on a syntax error)."""
        return str(self.client.query("SELECT formatQuery({q:String})", parameters={"q": sql}).result_rows[0][0])

    def ast(self, sql: str, parameters: dict[str, Any] | None = None) -> Node:
        dump = self.client.raw_query(f"EXPLAIN AST {sql}", parameters=parameters or {}).decode()
        return parse_ast(dump)

    def tables_read(self, sql: str, parameters: dict[str, Any] | None = None) -> list[str]:
        """Every table the query names (`db.table`, or a bare name it defines with WITH)."""
        names = [n.name for n, _ in self.ast(sql, parameters).walk() if n.kind == "TableIdentifier"]
        ctes = set(_CTE.findall(sql))
        unknown = [n for n in names if "." not in n and n not in ctes]
        assert not unknown, f"tables named without a database: {unknown}"
        return [n for n in names if "." in n]

    def close(self) -> None:
        self.client.close()
