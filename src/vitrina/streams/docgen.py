"""docs/STREAMS.md, generated from the declarations (a test keeps the file current):

python -m vitrina.streams.docgen > docs/STREAMS.md
"""

from __future__ import annotations

from collections.abc import Iterable

from vitrina.streams.builtin import BUILTIN
from vitrina.streams.declare import RESOLUTIONS, Stream
from vitrina.streams.fields import KINDS

HEADER = """# Streams

Generated from the declarations by `python -m vitrina.streams.docgen`; do not edit by hand.

Every stream is sent to `POST /v1/streams/{name}` as one JSON object, a JSON array or NDJSON
(optionally gzip). Times are RFC 3339 strings or epoch s / ms / us / ns numbers; a missing
optional time is the arrival time. Every table also has `_received`, the arrival time.

What is accepted is what the column stores unchanged; anything else is refused with a 422
naming the item and field (docs/ARCHITECTURE.md "Guarantees"):

| type | ClickHouse | accepted |
|---|---|---|
| `int` | `Int64` | -9223372036854775808 .. 9223372036854775807, within `ge` / `le` if declared |
| `uint` | `UInt64`, or `UInt8` / `UInt16` / `UInt32` when `le` fits | 0 .. 18446744073709551615, within `ge` / `le` |
| `float` | `Float64` | any finite number (1e400 is refused), within `ge` / `le`; an integer: the nearest double |
| `timestamp` | `DateTime64(p)` or `UInt64` epoch ns | 1970-01-01 .. 2262-04-11T23:47:16.854775807Z; digits beyond `p` are cut |
| `string`, `enum`, `id` | `String` | valid UTF-8, at most `max_length` characters; an integer id in -2^63 .. 2^64-1 |
| `map_uint` | `Map(String, UInt64)` | values 0 .. 18446744073709551615 |
| `json` | `String` | any JSON value, kept as its text |

Epoch numbers with a fraction carry microseconds at most (a double's precision). JSON nested
deeper than about 1,000 levels is refused item by item. Declared bounds must lie
within the column's range and a declared default within the field's own bounds (a config
error otherwise).

Field types for declarations in the config file: """


def render(streams: Iterable[Stream]) -> str:
    out = [HEADER + ", ".join(f"`{k}`" for k in KINDS) + ".\n"]
    for s in streams:
        out.append(f"\n## `{s.name}`\n\n{s.description}\n")
        out.append(f"Time: `{s.time_field}`. Order: `({', '.join(s.order_by)})`. Unknown fields: {'refused' if s.strict else 'ignored'}.\n")
        out.append("\n| field | type | required | ClickHouse | notes |\n|---|---|---|---|---|\n")
        for f in s.fields:
            notes = f.description
            if f.kind == "enum":
                notes = (notes + " One of: " + ", ".join(f.values)).strip()
            notes = (notes + " " + f.range_note()).strip()
            out.append(f"| `{f.name}` | {f.kind} | {'yes' if f.required else ''} | `{f.clickhouse_type()}` | {notes} |\n")
        for name, typ, expr in s.derived:
            out.append(f"| `{name}` | derived | | `{typ}` | `{expr}` |\n")
        for r in s.rollups:
            tables = ", ".join(f"`{r.table(s.name, res)}`" for res in RESOLUTIONS)
            keys = ", ".join(f"`{k}`" for k, _ in r.keys) or "none"
            out.append(f"\nRollup {tables}: {r.description} Keys: {keys}.\n\n")
            out.append("| column | aggregate |\n|---|---|\n")
            for a in r.aggregates:
                out.append(f"| `{a.name}` | `{a.raw_sql()}` |\n")
            for name, expr in r.figures:
                out.append(f"| `{name}` | `{expr}` (computed on read) |\n")
    return "".join(out)


if __name__ == "__main__":
    print(render(BUILTIN), end="")
