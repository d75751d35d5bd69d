"""A seller's report as files: its two tables as CSV and Parquet, and an HTML page with charts
(drawn by plotly.js, which sits once at the destination's root) and the same tables."""

from __future__ import annotations

import html
import io
import json
from datetime import date, datetime, timedelta
from string import Template

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from vitrina.reports.content import Content, SellerReport
from vitrina.reports.periods import Period

TABLES = ("days", "categories")


def csv_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pacsv.write_csv(table.drop_columns(["seller"]), out)
    return out.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table.drop_columns(["seller"]), out, compression="zstd")
    return out.getvalue()


def seller_files(report: SellerReport, content: Content, formats: tuple[str, ...], generated: datetime) -> dict[str, bytes]:
    """File name (within the period's folder) -> bytes."""
    files: dict[str, bytes] = {}
    tables = {"days": report.days, "categories": report.categories}
    for name, table in tables.items():
        if "csv" in formats:
            files[f"{report.seller}.{name}.csv"] = csv_bytes(table)
        if "parquet" in formats:
            files[f"{report.seller}.{name}.parquet"] = parquet_bytes(table)
    if "html" in formats:
        files[f"{report.seller}.html"] = seller_page(report, content, generated).encode()
    return files


def _total(table: pa.Table, column: str) -> int:
    return int(sum(table[column].to_pylist()))


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, default=str).replace("</", "<\\/")


def _table_html(table: pa.Table, limit: int | None = None) -> str:
    columns = [c for c in table.column_names if c != "seller"]
    rows = table.select(columns).to_pylist()[:limit]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r[c]))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def _period_text(p: Period) -> str:
    last = p.end - timedelta(days=1)
    return p.start.isoformat() if p.start == last else f"{p.start.isoformat()} to {last.isoformat()}"


def seller_page(report: SellerReport, content: Content, generated: datetime) -> str:
    p, days, cats = content.period, report.days, report.categories
    by_day = {d: r for d, r in zip(days["day"].to_pylist(), days.to_pylist(), strict=True)}
    x = [d.isoformat() for d in p.days]
    items = [by_day[d]["items"] if d in by_day else 0 for d in p.days]
    threshold = [by_day[d]["threshold"] if d in by_day else None for d in p.days]
    top = cats.slice(0, 20)
    figures = {
        "days": {
            "data": [
                {"type": "bar", "name": "items", "x": x, "y": items},
                {"type": "scatter", "mode": "lines+markers", "name": "anomaly threshold", "x": x, "y": threshold},
            ],
            "layout": {"title": {"text": "Items uploaded per day"}, "margin": {"t": 40, "r": 10}, "legend": {"orientation": "h"}},
        },
        "categories": {
            "data": [
                {"type": "bar", "name": "items", "x": [str(c) for c in top["category_id"].to_pylist()], "y": top["items"].to_pylist()}
            ],
            "layout": {"title": {"text": "Items by category (top 20)"}, "margin": {"t": 40, "r": 10}, "xaxis": {"type": "category"}},
        },
    }
    attempts, n_items, created = _total(days, "attempts"), _total(days, "items"), _total(days, "created_items")
    anomalies = sum(1 for a in days["anomaly"].to_pylist() if a)
    ranks = [r for r in days["items_rank"].to_pylist() if r]
    figures_html = "".join(
        f'<div class="figure"><span>{html.escape(label)}</span><b>{html.escape(value)}</b></div>'
        for label, value in (
            ("attempts", f"{attempts:,}"),
            ("items", f"{n_items:,}"),
            ("items created", f"{created:,}"),
            ("days with unusual uploads", str(anomalies)),
            ("best daily rank", str(min(ranks)) if ranks else "-"),
        )
    )
    as_of = content.models_as_of.isoformat(timespec="seconds") if content.models_as_of else "never"
    stamp = generated.isoformat(timespec="seconds")
    body = _SELLER_BODY.substitute(
        figures=figures_html, days_table=_table_html(days), categories_table=_table_html(cats, 50), data=_script_json(figures)
    )
    return _document(
        f"Seller {report.seller}: {p.kind} {p.label}",
        f"Seller {report.seller}",
        f"{p.kind} {p.label} ({_period_text(p)}, UTC) · generated {stamp} · models as of {as_of}",
        body,
    )


def index_page(content: Content, generated: datetime, formats: tuple[str, ...]) -> str:
    p = content.period
    stamp = generated.isoformat(timespec="seconds")
    rows = []
    for r in content.sellers:
        links = " ".join(
            f'<a href="{r.seller}.{name}.{ext}">{name}.{ext}</a>' for ext in ("csv", "parquet") if ext in formats for name in TABLES
        )
        page = f'<a href="{r.seller}.html">{r.seller}</a>' if "html" in formats else str(r.seller)
        rows.append(f"<tr><td>{page}</td><td>{_total(r.days, 'items'):,}</td><td>{_total(r.days, 'attempts'):,}</td><td>{links}</td></tr>")
    body = "".join(rows) or '<tr><td colspan="4">no uploads in this period</td></tr>'
    title = f"Seller reports: {p.kind} {p.label}"
    subtitle = f"{_period_text(p)}, UTC · {len(content.sellers)} sellers · generated {stamp}"
    head = "<tr><th>seller</th><th>items</th><th>attempts</th><th>data</th></tr>"
    return _document(title, title, subtitle, f"<table><thead>{head}</thead><tbody>{body}</tbody></table>")


def manifest(content: Content, generated: datetime, files: list[str]) -> bytes:
    """Written last: its presence says the period's reports are complete."""
    p = content.period
    doc = {
        "period": p.kind,
        "label": p.label,
        "start": p.start,
        "end": p.end,
        "generated": generated,
        "models_as_of": content.models_as_of,
        "sellers": [r.seller for r in content.sellers],
        "files": sorted(files),
    }
    return json.dumps(doc, default=_iso, indent=2).encode()


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value))


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: 4px; }
.figures { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 120px; }
.figure span { display: block; color: #666; font-size: 12px; } .figure b { font-size: 20px; }
.chart { height: 320px; } table { border-collapse: collapse; margin: 12px 0 24px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: right; } th { color: #666; }
"""

_DOCUMENT = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title><style>"""
    + _STYLE
    + """</style></head>
<body>
<h1>$heading</h1>
<p class="sub">$subtitle</p>
$body
</body></html>
"""
)

_SELLER_BODY = Template(
    """<div class="figures">$figures</div>
<div id="days" class="chart"></div>
<div id="categories" class="chart"></div>
<h2>Days</h2>$days_table
<h2>Categories</h2>$categories_table
<script src="../../plotly.min.js"></script>
<script>
const figures = $data;
const options = {displayModeBar: false, responsive: true};
if (window.Plotly) for (const [id, f] of Object.entries(figures)) Plotly.newPlot(id, f.data, f.layout, options);
</script>"""
)


def _document(title: str, heading: str, subtitle: str, body: str) -> str:
    return _DOCUMENT.substitute(title=html.escape(title), heading=html.escape(heading), subtitle=html.escape(subtitle), body=body)
