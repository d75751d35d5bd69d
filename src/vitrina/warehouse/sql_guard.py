"""The allow-list analysts' SQL must pass before it runs: what a reader may ask, decided on
ClickHouse's own syntax tree of the query (sql_ast.py), never on the text.

Accepted: one SELECT (WITH, UNION, INTERSECT, EXCEPT included), DESCRIBE, a few SHOW statements
and EXPLAIN of a SELECT. Refused: every other statement (INSERT, KILL, SYSTEM, SET, OPTIMIZE,
DDL ...), INTO OUTFILE, FORMAT, SETTINGS, table functions outside TABLE_FUNCTIONS, functions
that reach files, URLs, the network, dictionaries or the host (DENIED_FUNCTIONS), and tables
outside the readable databases (vitrina's, information_schema, and SYSTEM_TABLES of system).
The session's readonly=1 stays behind this as a second wall.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vitrina.warehouse.sql_ast import Node

ACCEPTED = "SELECT, WITH, DESCRIBE, SHOW (tables, databases, columns, indexes, functions, engines, settings, create) and EXPLAIN"

# Table functions a reader may use: they make rows out of their arguments and read nothing.
# (zeros() is one too, but readonly=1 refuses it: system.zeros serves instead.)
TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "primes", "generaterandom", "generate_series", "generateseries", "values", "null"})

# Why the best-known refused table functions are refused (any other is refused too).
_URLS = ("url", "urlcluster", "s3", "s3cluster", "gcs", "oss", "cosn", "azureblobstorage", "hdfs", "iceberg", "deltalake", "hudi")
_SERVERS = ("remote", "remotesecure", "cluster", "clusterallreplicas", "mysql", "postgresql", "mongodb", "redis", "ytsaurus")
_TABLE_FUNCTION_REASONS = {
    **dict.fromkeys(("file", "filecluster", "input", "format", "python"), "it reads files or the request's own data"),
    **dict.fromkeys(_URLS, "it reads URLs"),
    **dict.fromkeys(_SERVERS, "it reaches other servers"),
    **dict.fromkeys(("executable", "eval"), "it runs programs on the server"),
    "filesystem": "it lists server files",
    **dict.fromkeys(("jdbc", "odbc", "sqlite", "dictionary", "merge", "view", "loop"), "it reads around the table check"),
}

_FILES, _HOST, _NAMED = "reads server files", "reveals the host", "reads a table or dictionary by name, around the table check"
_NETWORK, _MODELS, _LOG = "calls a remote service", "loads model files from the server", "writes to the server log"
# Scalar functions a reader may not call, lower-cased (names are compared case-insensitively).
# tests/warehouse/test_sql_guard.py checks every alias and every function of the Dictionary,
# Embedded Dictionary, AI, Introspection and Machine Learning categories of the running
# ClickHouse against this table, so a new version's additions are noticed.
DENIED_FUNCTIONS: dict[str, str] = {
    "file": _FILES,
    **dict.fromkeys(("filesystemavailable", "filesystemcapacity", "filesystemunreserved", "filesystemfree"), _HOST),
    **dict.fromkeys(("hostname", "fqdn", "fullhostname", "getoskernelversion", "uptime", "buildid", "serveruuid"), _HOST),
    **dict.fromkeys(("getserverport", "tcpport", "getmacro", "displayname", "getserversetting", "getmergetreesetting"), _HOST),
    **dict.fromkeys(("getclienthttpheader", "currentrequesturl", "showcertificate", "zookeepersessionuptime"), _HOST),
    **dict.fromkeys(("joinget", "joingetornull", "hascolumnintable"), _NAMED),
    **dict.fromkeys(("catboostevaluate", "modelevaluate"), _MODELS),
    "logtrace": _LOG,
}
# Whole families, by prefix: dictionaries (dictGet*, dictHas ...), embedded region
# dictionaries, remote AI services, internal functions and introspection.
DENIED_PREFIXES: dict[str, str] = {
    "dict": _NAMED,
    "region": "reads the server's embedded geo dictionaries",
    "ai": _NETWORK,
    "__": "is internal to ClickHouse",
    "naivebayes": _MODELS,
    "addressto": "reads the server's binary (introspection)",
    "demangle": "reads the server's binary (introspection)",
}
# Names a prefix catches by accident, which stay allowed.
_PREFIX_EXCEPTIONS = frozenset({"naivebayesngrams"})  # splits a string into n-grams

_IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin"}
    | {f"{n}ignoreset" for n in ("in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin")}
)

# system tables a reader may read: the catalogue and the engine's own descriptions. Others
# show other sessions' queries, paths, the host, logs or credentials.
SYSTEM_TABLES = frozenset(
    {
        *("one", "numbers", "numbers_mt", "zeros", "zeros_mt"),
        *("databases", "tables", "columns", "parts", "parts_columns", "data_skipping_indices", "merges", "mutations"),
        *("functions", "table_functions", "table_engines", "formats", "data_type_families", "aggregate_function_combinators"),
        *("time_zones", "settings"),
    }
)
INFORMATION_SCHEMA = ("information_schema", "INFORMATION_SCHEMA")

EXPLAIN_KINDS = frozenset(
    {"EXPLAIN", "EXPLAIN PLAN", "EXPLAIN AST", "EXPLAIN SYNTAX", "EXPLAIN QUERY TREE", "EXPLAIN PIPELINE", "EXPLAIN ESTIMATE"}
)
# SHOW statements as ClickHouse's tree names them; ShowTables covers several, told apart by
# their first words (SHOW_TABLES_KINDS).
SHOW_NODES = frozenset(
    {"ShowTables", "ShowColumns", "ShowIndexes", "ShowFunctions", "ShowEngineQuery"}
    | {"ShowCreateTableQuery", "ShowCreateViewQuery", "ShowCreateDatabaseQuery"}
)
SHOW_TABLES_KINDS = frozenset({"TABLES", "DATABASES", "SETTINGS"})
_SHOW_MODIFIERS = frozenset({"FULL", "TEMPORARY", "CHANGED", "EXTENDED"})

_OUTPUT_CLAUSES = {
    "Literal": "INTO OUTFILE is refused: a reader cannot write files",
    "Identifier": "FORMAT is refused: the answer's format is the API's (JSON)",
    "Set": "SETTINGS is refused: a reader's limits are the server's ([sql] in the settings file)",
}


@dataclass(frozen=True)
class Refusal:
    """Why a query may not run: each problem found, and whether it is the query's shape (400)
    or what it asks for (403)."""

    problems: tuple[str, ...]
    status: int = 403


class SqlGuard:
    def __init__(self, database: str) -> None:
        self.database = database
        self.readable = (database, *INFORMATION_SCHEMA, "system")

    def check_text(self, canonical: str) -> Refusal | None:
        """What must hold before the syntax tree of `canonical` (ClickHouse's formatting of the
        query) can be read at all."""
        if _escaped_identifier(canonical):
            return Refusal(("a quoted name with an escape sequence (a line break, a quote, a backslash) is not accepted",), 400)
        return None

    def check(self, canonical: str, tree: Node) -> Refusal | None:
        """None when `tree`, the syntax tree of `canonical`, may run."""
        problems = list(self._statement(canonical, tree))
        if not problems:
            problems = [p for node, parent in tree.walk() for p in self._node(node, parent)]
        return Refusal(tuple(dict.fromkeys(problems))) if problems else None

    def _statement(self, canonical: str, root: Node) -> Iterable[str]:
        if root.kind == "SelectWithUnionQuery":
            return []  # its output clauses are checked with every node (_node)
        if root.kind == "Explain":
            return self._explain(root)
        if root.kind == "DescribeQuery":
            return [_OUTPUT_CLAUSES.get(c.kind, f"{c.kind} in DESCRIBE is refused") for c in root.children if c.kind != "TableExpression"]
        if root.kind in SHOW_NODES:
            return self._show(canonical, root)
        return [f"{_statement_name(canonical)} is refused: a reader may only read ({ACCEPTED})"]

    def _explain(self, root: Node) -> list[str]:
        kind = root.text
        if kind not in EXPLAIN_KINDS:
            return [f"{kind} is refused: a reader may use {', '.join(sorted(EXPLAIN_KINDS))}"]
        queries = [c for c in root.children if c.kind not in ("Set", "Literal", "Identifier")]
        problems = [_OUTPUT_CLAUSES[c.kind] for c in root.children if c.kind in ("Literal", "Identifier")]
        if len(queries) != 1 or queries[0].kind != "SelectWithUnionQuery":
            problems.append(f"{kind} is accepted for a SELECT only")
        return problems

    def _show(self, canonical: str, root: Node) -> list[str]:
        first, *rest = canonical.split("\n")
        # A SHOW statement is one line in ClickHouse's formatting; the lines after it are
        # output clauses (INTO OUTFILE, FORMAT, SETTINGS).
        problems = [_clause_problem(line) for line in rest]
        words = [w for w in first.split(" ")[1:] if w not in _SHOW_MODIFIERS]
        if root.kind == "ShowTables" and (not words or words[0] not in SHOW_TABLES_KINDS):
            problems.append(f"{_statement_name(canonical)} is refused: a reader may use SHOW {', '.join(sorted(SHOW_TABLES_KINDS))}, ...")
        if problems:
            return problems
        names = [c.name for c in root.children if c.kind == "Identifier"]
        if root.kind == "ShowTables" or root.kind == "ShowCreateDatabaseQuery":
            return [p for p in (self._database_problem(n) for n in names) if p]
        problem = self._table_problem(".".join(names)) if names else None
        return [problem] if problem else []

    def _node(self, node: Node, parent: Node | None) -> list[str]:
        if node.kind == "SelectWithUnionQuery":
            return [_OUTPUT_CLAUSES.get(c.kind, f"{c.kind} is refused") for c in node.children[1:]]
        if node.kind == "Set" and (parent is None or parent.kind != "Explain"):
            return [_OUTPUT_CLAUSES["Set"]]
        if node.kind == "TableIdentifier":
            problem = self._table_problem(node.name)
            return [problem] if problem else []
        if node.kind == "Function":
            return self._function(node, parent)
        return []

    def _function(self, node: Node, parent: Node | None) -> list[str]:
        name = node.name.lower()
        if parent is not None and parent.kind == "TableExpression":
            if name in TABLE_FUNCTIONS:
                return []
            why = _TABLE_FUNCTION_REASONS.get(name, "not on the readers' list")
            return [f"table function {node.name}() is refused ({why}); a reader may use {_listed(TABLE_FUNCTIONS)}"]
        reason = denied_function(name)
        if reason:
            return [f"function {node.name}() is refused (it {reason})"]
        if name in _IN_FUNCTIONS:
            return self._in_table(node)
        return []

    def _in_table(self, node: Node) -> list[str]:
        # `x IN name`: a bare name on the right of IN is a table (or a WITH name).
        args = node.children[0].children if node.children and node.children[0].kind == "ExpressionList" else []
        if len(args) == 2 and args[1].kind == "Identifier":
            problem = self._table_problem(args[1].name)
            return [problem] if problem else []
        return []

    def _table_problem(self, name: str) -> str | None:
        parts = name.split(".")
        if len(parts) == 1:
            return None  # the session's database (vitrina's) or a WITH name
        if len(parts) > 2:
            return f"table name {name!r} is ambiguous (a dot inside a quoted name)"
        database, table = parts
        if database == "system" and table not in SYSTEM_TABLES:
            return f"table system.{table} is not readable: a reader may read {_listed(SYSTEM_TABLES, 'system.')}"
        return self._database_problem(database)

    def _database_problem(self, database: str) -> str | None:
        if database in self.readable:
            return None
        return f"database {database!r} is not readable: a reader may read {self.database}, information_schema and some system tables"


def _clause_problem(line: str) -> str:
    """The problem of an output clause, from its line in ClickHouse's formatting."""
    for start, kind in (("INTO OUTFILE", "Literal"), ("FORMAT", "Identifier"), ("SETTINGS", "Set")):
        if line.startswith(start):
            return _OUTPUT_CLAUSES[kind]
    return f"{line.split(' ')[0]} is refused after SHOW"


def denied_function(name: str) -> str | None:
    """Why a reader may not call the (scalar or aggregate) function `name`, or None."""
    name = name.lower()
    if name in DENIED_FUNCTIONS:
        return DENIED_FUNCTIONS[name]
    if name in _PREFIX_EXCEPTIONS:
        return None
    return next((reason for prefix, reason in DENIED_PREFIXES.items() if name.startswith(prefix)), None)


def _listed(names: Iterable[str], prefix: str = "") -> str:
    return ", ".join(prefix + n for n in sorted(names))


def _statement_name(canonical: str) -> str:
    """The statement's leading keywords (KILL QUERY, SYSTEM STOP MERGES, INSERT INTO ...)."""
    words = []
    for word in canonical.split("\n")[0].split(" ")[:3]:
        if not word.isalpha() or not word.isupper() or word in ("WHERE", "FROM", "ON", "IF"):
            break
        words.append(word)
    return " ".join(words) or "this statement"


def _escaped_identifier(canonical: str) -> bool:
    """True when ClickHouse's formatting of the query holds a backquoted name with an escape.
    ClickHouse prints a name's line break as an escape in the query but raw in EXPLAIN AST,
    where it would split a row; such names are refused rather than parsed around. A scan of
    ClickHouse's own output, whose quoting is regular: '...' and `...` with backslash escapes."""
    quote = ""
    i = 0
    while i < len(canonical):
        ch = canonical[i]
        if quote and ch == "\\":
            if quote == "`":
                return True
            i += 1
        elif quote and ch == quote:
            quote = ""
        elif not quote and ch in "'`":
            quote = ch
        i += 1
    return False
