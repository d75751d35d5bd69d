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
            if f.max_length:
                notes = (notes + f" At most {f.max_length} characters.").strip()
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
