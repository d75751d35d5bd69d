"""A model is one SQL file in `sql/`: a SELECT and a header of `-- key: value` lines.

    -- name: site_sessions              (the file's stem; the table it fills)
    -- description: one line
    -- depends: site_user_daily, ...    (models read before this one; optional)
    -- cadence: 60s                     (how often the scheduler runs it)
    -- time: session_start              (output column; partitions are its days)
    -- order_by: user_id, session_start
    -- context: 1d                      (input read before the window, e.g. for sessions; optional)

The SELECT uses $db, $start, $end, $ctx_start (DateTime64), $start_day, $ctx_start_day (Date),
$start_ns, $ctx_start_ns, $end_ns (UInt64 ns), $our_hosts (Array(String)) and
$item_failure_rate (the upload monitor's per-item failure rate, over rows with `created`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from vitrina.streams import durations

_HEADER = re.compile(r"^--\s*([a-z_]+):\s*(.*?)\s*$")
_KEYS = {"name", "description", "depends", "cadence", "time", "order_by", "context"}
_CONFIG_KEYS = {"sql", "description", "depends", "cadence", "time", "order_by", "context"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a table name


class ModelError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """'90s', '1.5m', '1h', '1w' → seconds (the one grammar: streams/durations.py)."""
    try:
        return durations.parse_duration(text)
    except durations.DurationError as exc:
        raise ModelError(str(exc)) from None


@dataclass(frozen=True)
class Model:
    name: str
    sql: str
    time: str
    order_by: str
    cadence_s: float = 60.0
    context_s: float = 0.0
    depends: tuple[str, ...] = ()
    description: str = ""


def parse_model(stem: str, text: str) -> Model:
    head: dict[str, str] = {}
    for line in text.splitlines():
        m = _HEADER.match(line)
        if not m:
            break
        if m.group(1) not in _KEYS:
            raise ModelError(f"model {stem}: unknown header {m.group(1)!r}; known: {sorted(_KEYS)}")
        head[m.group(1)] = m.group(2)
    if head.get("name", stem) != stem:
        raise ModelError(f"model {stem}: header name {head['name']!r} differs from the file name")
    for key in ("time", "order_by"):
        if key not in head:
            raise ModelError(f"model {stem}: missing header `-- {key}:`")
    return Model(
        name=stem,
        sql=text,
        time=head["time"],
        order_by=head["order_by"],
        cadence_s=parse_duration(head.get("cadence", "60s")),
        context_s=parse_duration(head["context"]) if "context" in head else 0.0,
        depends=tuple(d.strip() for d in head.get("depends", "").split(",") if d.strip()),
        description=head.get("description", ""),
    )


def builtin_models() -> list[Model]:
    files = resources.files("vitrina.models").joinpath("sql")
    return [
        parse_model(f.name.removesuffix(".sql"), f.read_text())
        for f in sorted(files.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".sql")
    ]


def _config_model(name: str, spec: Mapping[str, Any]) -> Model:
    where = f"[models.{name}]"
    if not _NAME.match(name):
        raise ModelError(f"{where}: a model's name is its table's: it must match {_NAME.pattern}")
    unknown = set(spec) - _CONFIG_KEYS
    if unknown:
        raise ModelError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}")
    for key in ("sql", "time", "order_by"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise ModelError(f"{where}: `{key}` is required (a string), as in a model file's header")
    depends = spec.get("depends", ())
    if isinstance(depends, str):
        depends = [d.strip() for d in depends.split(",") if d.strip()]
    try:
        cadence = parse_duration(str(spec.get("cadence", "60s")))
        context = parse_duration(str(spec["context"])) if "context" in spec else 0.0
    except ModelError as exc:
        raise ModelError(f"{where}: {exc}") from None
    return Model(
        name=name,
        sql=str(spec["sql"]),
        time=str(spec["time"]),
        order_by=str(spec["order_by"]),
        cadence_s=cadence,
        context_s=context,
        depends=tuple(str(d) for d in depends),
        description=str(spec.get("description", "")),
    )


def declared_models(specs: Mapping[str, Any]) -> tuple[Model, ...]:
    """The models of `[models.NAME]` tables in the config file (the keys of a model file's
    header, and `sql`), checked together with the shipped ones: names, dependencies, cycles."""
    shipped = builtin_models()
    taken = {m.name for m in shipped}
    out = []
    for name, spec in specs.items():
        if name in taken:
            raise ModelError(f"[models.{name}]: {name} is a shipped model")
        out.append(_config_model(name, spec))
    try:
        ordered([*shipped, *out])  # an unknown dependency or a cycle
    except ModelError as exc:
        raise ModelError(f"[models]: {exc}") from None
    return tuple(out)


def ordered(models: Sequence[Model], wanted: Iterable[str] | None = None) -> list[Model]:
    """`wanted` (all when None) with their upstream dependencies, dependencies first."""
    by_name = {m.name: m for m in models}
    out: list[Model] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if any(m.name == name for m in out):
            return
        if name not in by_name:
            raise ModelError(f"unknown model {name!r}; models: {', '.join(sorted(by_name))}")
        if name in visiting:
            raise ModelError(f"model dependency cycle through {name!r}")
        visiting.add(name)
        for dep in by_name[name].depends:
            visit(dep)
        visiting.discard(name)
        out.append(by_name[name])

    for name in wanted if wanted is not None else sorted(by_name):
        visit(name)
    return out
