"""Analysts' SQL: one query that can only read, run on a pool of reader sessions.

Each query is (1) put in ClickHouse's own canonical form by `formatQuery`, the query passed as
a bound parameter, which also refuses a second statement; (2) read as ClickHouse's syntax tree
(`EXPLAIN AST` of that canonical text) and checked against the readers' allow-list
(sql_guard.py); (3) run as that same canonical text, so what runs is what was checked. The
sessions' own settings (readonly=1 set last, limits: client.reader_settings) are the second
wall. The answer is ClickHouse's own JSON of every value, so any type a query returns can be
answered.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgspec
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from vitrina.config import SqlSettings
from vitrina.warehouse.client import Warehouse, drain
from vitrina.warehouse.sql_ast import MalformedTree, Node, parse_ast, unescape_tsv
from vitrina.warehouse.sql_guard import Refusal, SqlGuard

log = logging.getLogger(__name__)

RESULT_FORMAT = "JSONCompactEachRowWithNamesAndTypes"
SYNTAX_ERROR, READONLY, TIMEOUT_EXCEEDED = 62, 164, 159
MEMORY_LIMIT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES = 241, 396
_WRAPPER = " In scope SELECT formatQuery("  # how ClickHouse names our own parse call in its errors


class QueryRefused(Exception):
    def __init__(self, status: int, error: str, message: str, detail: list[str] | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.detail = detail
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


class _Failed(QueryRefused):
    """A refusal ClickHouse gave (not the guard): the session it ran on is replaced."""


@dataclass
class QueryResult:
    meta: list[dict[str, str]]
    data: list[dict[str, msgspec.Raw]]  # each value as ClickHouse wrote it in JSON
    rows: int
    truncated: bool

    def body(self) -> bytes:
        """The answer of /v1/sql (and of `vitrina sql --format json`)."""
        return msgspec.json.encode({"meta": self.meta, "data": self.data, "rows": self.rows, "truncated": self.truncated})


_names = msgspec.json.Decoder(list[str])
_row = msgspec.json.Decoder(list[msgspec.Raw])


def decode_result(raw: bytes, max_rows: int) -> QueryResult:
    """Rows of JSONCompactEachRowWithNamesAndTypes: a line of names, one of types, one per row.
    The values stay ClickHouse's JSON text (msgspec.Raw): nothing is converted twice."""
    lines = raw.split(b"\n")
    if len(lines) < 2:
        return QueryResult([], [], 0, False)
    try:
        names, types = _names.decode(lines[0]), _names.decode(lines[1])
    except msgspec.DecodeError as exc:
        raise _Failed(400, "query_failed", f"ClickHouse's answer could not be read as JSON ({exc})") from None
    rows = [line for line in lines[2 : max_rows + 3] if line]
    truncated = len(rows) > max_rows
    try:
        data = [dict(zip(names, _row.decode(line), strict=False)) for line in rows[:max_rows]]
    except msgspec.DecodeError as exc:
        log.error("ClickHouse's JSON answer could not be read: %s", exc)
        raise _Failed(400, "query_failed", f"ClickHouse's answer could not be read as JSON ({exc})") from None
    meta = [{"name": n, "type": t} for n, t in zip(names, types, strict=False)]
    return QueryResult(meta, data, len(data), truncated)


def explain_ast_result(raw: bytes, max_rows: int) -> QueryResult:
    """EXPLAIN AST's rows, as TabSeparated text: a FORMAT after it would be read as the
    explained query's own (and shown in the tree), so it runs without one."""
    rows = [unescape_tsv(line) for line in raw.decode("utf-8", "replace").split("\n") if line]
    data = [{"explain": msgspec.Raw(msgspec.json.encode(row))} for row in rows[:max_rows]]
    return QueryResult([{"name": "explain", "type": "String"}], data, len(data), len(rows) > max_rows)


def _message(exc: ClickHouseError) -> str:
    """ClickHouse's whole message, without the scope of our own formatQuery call (the position
    it names is in the query as sent)."""
    text = str(exc).strip()
    at = text.rfind(_WRAPPER)
    if at >= 0:
        tail = text.rfind(" (")
        text = text[:at].rstrip(" :.") + (text[tail:] if tail > at else "")
    return text


def _code(exc: ClickHouseError) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


class ReadOnlySql:
    """Up to `[sql] concurrency` queries at once, each on a reader session of its own (a chdb
    connection handle is not thread-safe, and settings are per handle)."""

    def __init__(self, wh: Warehouse, limits: SqlSettings) -> None:
        self.limits = limits
        self._wh = wh
        self.guard = SqlGuard(wh.database)
        self._clients = [wh.reader(limits) for _ in range(limits.concurrency)]
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        for client in self._clients:
            self._idle.put(client)
        self._executor = ThreadPoolExecutor(limits.concurrency, thread_name_prefix="sql")
        self._slots: asyncio.Semaphore | None = None

    def run(self, sql: str) -> QueryResult:
        """Check and run one query; raises QueryRefused with the answer's status otherwise."""
        text = sql.strip()
        if not text:
            raise QueryRefused(400, "empty_query", "send one query")
        try:
            client = self._idle.get(timeout=self.limits.queue_timeout_s)
        except queue.Empty:
            raise self._busy() from None
        try:
            canonical = self._canonical(client, text)
            self._refuse(self.guard.check_text(canonical))
            tree = self._tree(client, canonical)
            self._refuse(self.guard.check(canonical, tree))
            if tree.kind == "Explain" and tree.text == "EXPLAIN AST":
                return explain_ast_result(self._execute(client, canonical, None), self.limits.max_rows)
            return decode_result(self._execute(client, canonical, RESULT_FORMAT), self.limits.max_rows)
        except _Failed:
            client = self._renew(client)
            raise
        finally:
            self._idle.put(client)

    def _renew(self, client: Client) -> Client:
        """A fresh session in place of one whose query failed: chdb hands the part of a failed
        query's output it had written to the next query on the same handle, which would give
        one reader's rows to the next."""
        try:
            fresh = self._wh.reader(self.limits)
        except ClickHouseError:
            log.warning("a new reader session could not be opened; the old one is kept", exc_info=True)
            drain(client)
            return client
        self._clients[self._clients.index(client)] = fresh
        client.close()
        return fresh

    async def run_async(self, sql: str) -> QueryResult:
        """run() on the pool's own threads; a query beyond `concurrency` waits without holding a
        thread, for `queue_timeout_s` at most."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.concurrency)
        slots = self._slots
        try:
            await asyncio.wait_for(slots.acquire(), self.limits.queue_timeout_s)
        except TimeoutError:
            raise self._busy() from None
        loop = asyncio.get_running_loop()
        job = self._executor.submit(self.run, sql)
        # The slot is free when the query ends, even if the client went away before.
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(slots.release))
        return await asyncio.shield(asyncio.wrap_future(job))

    def _busy(self) -> QueryRefused:
        n, wait = self.limits.concurrency, self.limits.queue_timeout_s
        return QueryRefused(
            503, "busy", f"{n} queries are running ([sql] concurrency) and none ended within {wait:g} s; try again", retry_after=1
        )

    def _canonical(self, client: Client, text: str) -> str:
        try:
            raw = client.raw_query("SELECT formatQuery({q:String})", parameters={"q": text}, fmt="RawBLOB")
        except ClickHouseError as exc:
            raise _Failed(400, "syntax_error", _message(exc)) from None
        return raw.decode("utf-8", "replace").strip()

    def _tree(self, client: Client, canonical: str) -> Node:
        try:
            return parse_ast(client.raw_query(f"EXPLAIN AST {canonical}").decode("utf-8", "replace"))
        except ClickHouseError as exc:
            raise self._failure(exc) from None
        except MalformedTree as exc:
            raise QueryRefused(400, "not_accepted", f"the query's syntax tree could not be checked ({exc})") from None

    @staticmethod
    def _refuse(refusal: Refusal | None) -> None:
        if refusal is not None:
            error = "not_allowed" if refusal.status == 403 else "not_accepted"
            raise QueryRefused(refusal.status, error, "; ".join(refusal.problems), detail=list(refusal.problems))

    def _execute(self, client: Client, canonical: str, fmt: str | None) -> bytes:
        try:
            return bytes(client.raw_query(canonical, fmt=fmt))
        except ClickHouseError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: ClickHouseError) -> _Failed:
        code, message = _code(exc), _message(exc)
        if code == READONLY:
            return _Failed(403, "not_allowed", f"read-only: {message}")
        if code == TIMEOUT_EXCEEDED:
            return _Failed(408, "timeout", f"time limit of {self.limits.timeout_s:g} s ([sql] timeout_s): {message}")
        if code == MEMORY_LIMIT_EXCEEDED:
            limit = f"memory limit of {self.limits.max_memory_mb} MiB ([sql] max_memory_mb)"
            return _Failed(400, "limit_exceeded", f"{limit}: {message}")
        if code == TOO_MANY_ROWS_OR_BYTES:
            limit = f"result limit of {self.limits.max_result_mb} MiB ([sql] max_result_mb; add a LIMIT)"
            return _Failed(400, "limit_exceeded", f"{limit}: {message}")
        return _Failed(400, "query_failed", message)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for client in self._clients:
            client.close()


def retry_after(exc: QueryRefused) -> dict[str, str]:
    """The answer's headers for a refusal (Retry-After on 503)."""
    return {"retry-after": str(math.ceil(exc.retry_after))} if exc.retry_after else {}
