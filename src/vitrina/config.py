"""Settings: defaults, overridden by a TOML file (`--config`), overridden by CLI flags.

The file may also declare extra streams under `[streams.NAME]` (see docs/STREAMS.md) and
retention per stream under `[retention]` (days).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import Stream, parse_stream
from vitrina.streams.fields import DeclarationError


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class WriterSettings:
    flush_rows: int = 100_000  # insert as soon as this many rows wait
    linger_ms: float = 0.0  # ... or once the oldest waiting row is this old (0: as soon as the writer is free)
    max_pending_rows: int = 1_000_000  # beyond this, intake answers 503
    fsync: bool = False  # fsync parts on insert (survives power loss, not only a crash)


@dataclass(frozen=True)
class LimitSettings:
    max_body_bytes: int = 10 * 1024 * 1024  # after gzip decoding too
    retry_after_s: int = 1


@dataclass(frozen=True)
class SqlSettings:
    max_rows: int = 100_000
    timeout_s: float = 30.0


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
    retention: dict[str, int] = field(default_factory=dict)
    extra_streams: tuple[Stream, ...] = ()

    @property
    def warehouse_dsn(self) -> str:
        return self.dsn or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def streams(self) -> dict[str, Stream]:
        return {s.name: s for s in (*BUILTIN, *self.extra_streams)}

    def with_overrides(self, **kw: Any) -> Settings:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


def _section(cls: Any, data: dict[str, Any], name: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"[{name}]: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    return cls(**data)


def load_settings(path: Path | None) -> Settings:
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    kw: dict[str, Any] = {}
    for key in ("host", "port", "dsn", "database"):
        if key in top:
            kw[key] = top.pop(key)
    if "data_dir" in top:
        kw["data_dir"] = Path(top.pop("data_dir"))
    if top:
        raise ConfigError(f"unknown top-level settings {sorted(top)}")
    try:
        kw["writer"] = _section(WriterSettings, data.get("writer", {}), "writer")
        kw["limits"] = _section(LimitSettings, data.get("limits", {}), "limits")
        kw["sql"] = _section(SqlSettings, data.get("sql", {}), "sql")
    except TypeError as exc:
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
    unknown_sections = set(data) - {"host", "port", "dsn", "database", "data_dir", "writer", "limits", "sql", "retention", "streams"}
    if unknown_sections:
        raise ConfigError(f"unknown sections {sorted(unknown_sections)}")
    return Settings(**kw)
