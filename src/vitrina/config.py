"""Settings: defaults, overridden by a TOML file (`--config`), overridden by `VITRINA_*`
environment variables (envsettings.py), overridden by CLI flags.

The file may also declare extra streams under `[streams.NAME]` (see docs/STREAMS.md),
retention per stream under `[retention]` (days), SQL models under `[models.NAME]`
(docs/MODELS.md) and dashboards under `[dashboards.NAME]` (docs/DASHBOARDS.md).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from vitrina.alerts.settings import AlertSettings
from vitrina.auth.settings import AuthSettings
from vitrina.core import REJECTED_TABLE
from vitrina.envsettings import EnvError, env_overrides, merged
from vitrina.models.settings import ModelSettings
from vitrina.models.spec import Model, declared_models
from vitrina.reports.settings import ReportSettings
from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import RESOLUTION_SECONDS, Stream, parse_stream
from vitrina.streams.fields import DeclarationError


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class WriterSettings:
    # When a request is answered: "wal" once its rows are appended to the write-ahead log under
    # the data folder (in ClickHouse within wal_interval_ms); "insert" once they are in
    # ClickHouse (read-your-writes, about half the single-event throughput: docs/PERFORMANCE.md).
    ack: str = "wal"
    wal_fsync: bool = False  # fdatasync before answering (power loss too); off: a crash of the process, like `fsync`
    wal_interval_ms: float = 200.0  # ack = wal: insert the log's new rows at least this often ...
    wal_batch_rows: int = 100_000  # ... or as soon as this many rows wait
    commit_linger_ms: float = 0.0  # ack = insert: wait this long for more rows after the first (0: insert as soon as free) ...
    commit_batch_rows: int = 100_000  # ... unless this many rows wait
    max_pending_rows: int = 1_000_000  # rows not yet in ClickHouse; beyond this, intake answers 503
    fsync: bool = False  # fsync parts on insert (survives power loss, not only a crash)

    def __post_init__(self) -> None:
        if self.ack not in ("insert", "wal"):
            raise ConfigError(f"[writer] ack must be insert or wal, not {self.ack!r}")


@dataclass(frozen=True)
class LimitSettings:
    max_body_bytes: int = 10 * 1024 * 1024  # after gzip decoding too
    retry_after_s: int = 1
    # A request body must have arrived whole this many seconds after its headers, or it is
    # answered 408 and its connection closed (a half-sent body would hold it open for ever).
    # 30 s lets the largest body through at about 350 kB/s.
    body_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.body_timeout_s > 0:
            raise ConfigError(f"[limits] body_timeout_s must be a number of seconds > 0, not {self.body_timeout_s!r}")


@dataclass(frozen=True)
class SqlSettings:
    """Analysts' read-only SQL (`/v1/sql`, `vitrina sql`): the limits every query runs under
    (ClickHouse settings of the reader sessions, which a reader cannot change) and how many
    queries run at once (docs/SQL.md)."""

    max_rows: int = 100_000  # rows in an answer; the rest are cut off and the answer says `truncated`
    timeout_s: float = 30.0  # a query stops after this long (408)
    max_memory_mb: int = 1024  # memory one query may use (max_memory_usage); beyond it, 400
    max_result_mb: int = 256  # size of one query's result before it is encoded (max_result_bytes)
    max_threads: int = 2  # threads one query may use (0: ClickHouse's default, one per core)
    concurrency: int = 4  # queries running at once, each on its own reader session
    queue_timeout_s: float = 10.0  # a query beyond `concurrency` waits this long at most, then 503

    def __post_init__(self) -> None:
        for name in ("max_rows", "timeout_s", "max_memory_mb", "max_result_mb", "concurrency", "queue_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"[sql] {name} must be positive, not {getattr(self, name)!r}")
        if self.max_threads < 0:
            raise ConfigError(f"[sql] max_threads must be 0 (ClickHouse's default) or more, not {self.max_threads!r}")


@dataclass(frozen=True)
class TransportSettings:
    """Where intake puts events: straight into ClickHouse (direct) or a durable log that a
    loader group drains (docs/TRANSPORTS.md)."""

    kind: str = "direct"  # direct | kafka | redis
    kafka: str = "127.0.0.1:9092"  # bootstrap servers
    redis: str = "redis://127.0.0.1:6379/0"
    topic_prefix: str = "vitrina."  # topic (or Redis stream key) of stream S: prefix + S ...
    topics: dict[str, str] = field(default_factory=dict)  # ... unless named here: {stream = topic}
    foreign: dict[str, str] = field(default_factory=dict)  # existing topics to load: {topic = stream}
    redis_keys: dict[str, str] = field(default_factory=dict)  # Redis string keys to load: {glob = stream}
    partitions: int = 4  # for topics vitrina creates
    replication_factor: int = -1  # ... and their copies; -1: the broker's default.replication.factor
    group: str = "vitrina-loader"
    consumer: str = ""  # consumer name prefix (Redis); default: the host name
    loader: bool = True  # `vitrina up` also runs the loader (embedded chdb needs it in-process)
    loaders: int = 1  # loader members per process
    batch_rows: int = 250_000  # size bound of a loader's batch (batches end on multiples of it)
    batch_linger_ms: float = 200.0  # time bound of a loader's batch
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 60_000  # Kafka's rebalance timeout: how long a rebalance waits for a member
    assign_wait_s: float = 30.0  # a loader member without partitions this long says so (log, /readyz)
    redis_max_len: int = 5_000_000  # intake answers 503 beyond this many unloaded entries
    claim_idle_ms: int = 30_000  # Redis: claim a silent consumer's pending entries after this

    def __post_init__(self) -> None:
        if self.kind not in ("direct", "kafka", "redis"):
            raise ConfigError(f"[transport] kind must be direct, kafka or redis, not {self.kind!r}")


@dataclass(frozen=True)
class WarehouseSettings:
    """How vitrina's tables are laid out (warehouse/engine.py): on one server, or on the
    ClickHouse cluster of this name in remote_servers (docs/DEPLOYMENT.md, "Cluster")."""

    cluster: str = ""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("vitrina-data")
    dsn: str | None = None  # default: chdb://<data_dir>/clickhouse
    database: str = "vitrina"
    writer: WriterSettings = WriterSettings()
    limits: LimitSettings = LimitSettings()
    sql: SqlSettings = SqlSettings()
    transport: TransportSettings = TransportSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    models: ModelSettings = field(default_factory=ModelSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    retention: dict[str, int] = field(default_factory=dict)
    extra_streams: tuple[Stream, ...] = ()
    extra_models: tuple[Model, ...] = ()  # [models.NAME]: SQL models declared in the file
    dashboards: dict[str, Any] = field(default_factory=dict)  # [dashboards.NAME], checked by serve/dashboards/declared.py

    @property
    def warehouse_dsn(self) -> str:
        return self.dsn or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def keys_path(self) -> Path:
        return Path(self.auth.keys_file) if self.auth.keys_file else self.data_dir / "keys.json"

    @property
    def streams(self) -> dict[str, Stream]:
        return {s.name: s for s in (*BUILTIN, *self.extra_streams)}

    def with_overrides(self, **kw: Any) -> Settings:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


# Settings renamed so that each name means one thing: (section, old name) -> the new names it
# sets. The old names still work, with a warning (once per process and name).
RENAMED: dict[tuple[str, str], tuple[str, ...]] = {
    ("writer", "flush_rows"): ("wal_batch_rows", "commit_batch_rows"),
    ("writer", "linger_ms"): ("commit_linger_ms",),
    ("transport", "linger_ms"): ("batch_linger_ms",),
}
_warned: set[tuple[str, str]] = set()
log = logging.getLogger(__name__)


def _renamed(data: dict[str, Any], name: str) -> dict[str, Any]:
    """`data` with deprecated names replaced by their new ones."""
    out = dict(data)
    for (section, old), new in RENAMED.items():
        if section != name or old not in out:
            continue
        if any(n in out for n in new):
            raise ConfigError(f"[{name}] {old} is the old name of {' and '.join(new)}: give the new name only")
        value = out.pop(old)
        out.update(dict.fromkeys(new, value))
        if (section, old) not in _warned:
            _warned.add((section, old))
            log.warning("[%s] %s is deprecated: use %s", name, old, " and ".join(new))
    return out


def _section(cls: Any, data: dict[str, Any], name: str) -> Any:
    data = _renamed(data, name)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"[{name}]: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    return cls(**data)


def _sections() -> dict[str, type]:
    """The settings sections: every field of Settings whose default is a settings dataclass
    (a new section is one more such field, and the file, the environment and `config show`
    know it)."""
    out: dict[str, type] = {}
    for f in fields(Settings):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            out[f.name] = type(default)
    return out


SECTIONS = _sections()
# Top-level keys and their types (as the environment gives them: text).
TOP_LEVEL: dict[str, Any] = {"host": str, "port": int, "data_dir": str, "dsn": str, "database": str}
# Declarations stay in the file ([streams.NAME], [models.NAME], [dashboards.NAME]); the
# environment may set the settings sections and the retention table.
DECLARATIONS = ("streams", "dashboards")
ENV_SECTIONS: dict[str, Any] = {**SECTIONS, "retention": dict[str, int]}


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, the TOML file at `path` over them, and `VITRINA_*` variables of `environ`
    (default: the process's environment) over the file."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    try:
        env = env_overrides(os.environ if environ is None else environ, TOP_LEVEL, ENV_SECTIONS)
    except EnvError as exc:
        raise ConfigError(str(exc)) from None
    return _settings_of(merged(data, env))


def _settings_of(data: dict[str, Any]) -> Settings:
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    kw: dict[str, Any] = {key: top.pop(key) for key in TOP_LEVEL if key in top}
    if "data_dir" in kw:
        kw["data_dir"] = Path(kw["data_dir"])
    if top:
        raise ConfigError(f"unknown top-level settings {sorted(top)}")
    # [models] holds the scheduler's settings and, as tables, the models declared in the file.
    models = dict(data.get("models", {}))
    declared = {name: models.pop(name) for name in list(models) if isinstance(models[name], dict)}
    try:
        for name, cls in SECTIONS.items():
            kw[name] = _section(cls, models if name == "models" else data.get(name, {}), name)
        kw["extra_models"] = declared_models(declared)
    except (TypeError, ValueError) as exc:  # ValueError: a section's own checks (models, alerts, reports)
        raise ConfigError(str(exc)) from None
    kw["retention"] = {str(k): int(v) for k, v in data.get("retention", {}).items()}
    builtin = {s.name for s in BUILTIN}
    extra = []
    for name, spec in data.get("streams", {}).items():
        if name in builtin:
            raise ConfigError(f"[streams.{name}]: {name} is a built-in stream")
        try:
            extra.append(parse_stream(name, spec))
        except DeclarationError as exc:
            raise ConfigError(str(exc)) from None
    kw["extra_streams"] = tuple(extra)
    kw["dashboards"] = dict(data.get("dashboards", {}))
    unknown_sections = set(data) - {*TOP_LEVEL, *ENV_SECTIONS, *DECLARATIONS}
    if unknown_sections:
        raise ConfigError(f"unknown sections {sorted(unknown_sections)}")
    settings = Settings(**kw)
    _check_model_tables(settings)
    return settings


def _stream_tables(streams: Iterable[Stream]) -> set[str]:
    """The tables and views the streams' declarations make in the warehouse."""
    out = {REJECTED_TABLE}
    for s in streams:
        out.add(s.table)
        for rollup in s.rollups:
            for res in RESOLUTION_SECONDS:
                table = rollup.table(s.name, res)
                out |= {table, f"{table}_mv"}  # the view that fills it (warehouse/ddl.py)
    return out


def _check_model_tables(settings: Settings) -> None:
    """A model replaces its table's partitions and drops it when its columns change: a model
    named like a stream's table would destroy the stream's data."""
    tables = _stream_tables(settings.streams.values())
    for m in settings.extra_models:
        if m.name in tables or m.name.startswith("kafka_"):
            raise ConfigError(f"[models.{m.name}]: {m.name} is a table of the streams (or the Kafka engine's); name the model otherwise")


