"""How every command that lists or queries prints its rows: `--format table|json|csv|tsv`.

A table is for a person at a terminal; piped (stdout not a terminal) it is printed with every
cell in full (Rich would cut cells to 80 columns), so `| cat`, `| grep` and `| less` see the
whole value. json, csv and tsv are for scripts: one header, one row per record, no styling."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"


FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-f", case_sensitive=False, help="table (full cells when piped), json, csv or tsv."),
]


def cell(value: Any) -> str:
    """A value as csv/tsv/table text: lists joined, None empty, the rest as str."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format, records: Any = None) -> None:
    """Print `rows` under `columns` in `fmt`. `records` (the server's own answer) is what json
    prints when given, so a script sees typed values rather than the table's text."""
    if fmt is Format.json:
        data = records if records is not None else [dict(zip(columns, row, strict=True)) for row in rows]
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    elif fmt in (Format.csv, Format.tsv):
        writer = csv.writer(sys.stdout, delimiter="," if fmt is Format.csv else "\t", lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(v) for v in row] for row in rows)
    else:
        _table(columns, rows)
    sys.stdout.flush()


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    piped = not sys.stdout.isatty()
    # Piped: no width limit, no wrapping or ellipsis, no colour codes: every cell in full.
    console = Console(width=100_000, no_color=True, highlight=False) if piped else Console(highlight=False)
    table = Table(*columns, box=None if piped else box.HEAVY_HEAD, pad_edge=False)
    for column in table.columns:
        column.overflow = "ignore" if piped else "fold"
        column.no_wrap = piped
    for row in rows:
        table.add_row(*(Text(cell(v)) for v in row))  # Text: a value is never read as markup
    if piped:
        for line in _lines(console, table):
            sys.stdout.write(line.rstrip() + "\n")
    else:
        console.print(table, markup=False)


def _lines(console: Console, table: Table) -> list[str]:
    with console.capture() as captured:
        console.print(table, markup=False)
    return captured.get().splitlines()
