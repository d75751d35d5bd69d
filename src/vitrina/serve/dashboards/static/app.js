// vitrina's built-in dashboard: lays out the declared panels, fetches their data for the chosen
// range and redraws in place (Plotly.react) on every refresh; the page is never reloaded.
"use strict";
(function () {
  const BOOT = window.VITRINA;
  const byName = Object.fromEntries(BOOT.dashboards.map((d) => [d.name, d]));
  const $ = (id) => document.getElementById(id);
  const RANGE_LABELS = { "5m": "last 5 m", "15m": "last 15 m", "1h": "last 1 h", "6h": "last 6 h", "24h": "last 24 h", "7d": "last 7 d", "30d": "last 30 d" };

  // State lives in the URL so a reload or a shared link shows the same view.
  const url = new URL(location.href);
  const pathName = location.pathname.startsWith("/d/") ? location.pathname.slice(3) : "overview";
  // The page's own views beside the dashboards: SQL with a chart, and a live tail of a stream.
  const VIEW = { "/explore": "explore", "/tail": "tail" }[location.pathname] || "dashboard";
  const state = {
    dashboard: byName[pathName] ? pathName : "overview",
    // No range asked: the server picks the shortest one holding the data ("auto"), once.
    range: url.searchParams.get("range") || "auto",
    from: url.searchParams.get("from"),
    to: url.searchParams.get("to"),
    refresh: Number(url.searchParams.get("refresh") || 5),
    vars: {},
  };
  for (const [k, v] of url.searchParams) if (k.startsWith("var-")) state.vars[k.slice(4)] = v;
  if (state.from && state.to) state.range = "custom";
  const dash = byName[state.dashboard];
  let seq = 0; // responses older than the latest request are dropped
  let loads = 0;
  let timer = null;
  let last = null;

  function query() {
    const q = new URLSearchParams();
    if (state.range === "custom") { q.set("from", state.from); q.set("to", state.to); } else q.set("range", state.range);
    for (const [k, v] of Object.entries(state.vars)) q.set("var-" + k, v);
    return q;
  }

  function syncUrl() {
    const q = query();
    q.set("refresh", String(state.refresh));
    history.replaceState(null, "", "/d/" + state.dashboard + "?" + q.toString());
    for (const a of document.querySelectorAll("#tabs a[data-name]")) {
      const keep = new URLSearchParams(q);
      for (const k of [...keep.keys()]) if (k.startsWith("var-")) keep.delete(k);
      a.href = "/d/" + a.dataset.name + "?" + keep.toString();
    }
  }

  // ---- formatting -------------------------------------------------------------------------
  function fmt(v, unit) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "–";
    if (typeof v !== "number") return String(v);
    const n = (x, d) => x.toLocaleString("en-US", { maximumFractionDigits: d });
    switch (unit) {
      case "percentunit": return n(v * 100, Math.abs(v) < 0.1 ? 2 : 1) + " %";
      case "s": return n(v, Math.abs(v) < 10 ? 2 : 1) + " s";
      case "ms": return n(v, 1) + " ms";
      case "reqps": return n(v, 2) + "/s";
      case "currencyUSD": return "$" + n(v, 2);
      case "bytes": {
        const u = ["B", "KiB", "MiB", "GiB", "TiB"];
        let i = 0;
        while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
        return n(v, 1) + " " + u[i];
      }
      default: return Number.isInteger(v) ? n(v, 0) : n(v, 3);
    }
  }
  const beyond = (t, v) => (t.above ? v > t.value : v < t.value);
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const color = (c) => ({ red: css("--bad"), green: css("--ok") }[c] || c);

  // ---- layout ----------------------------------------------------------------------------
  function layoutTabs() {
    const tabs = $("tabs");
    const tab = (text, href, active, name) => {
      const a = document.createElement("a");
      a.textContent = text;
      a.href = href;
      if (name) a.dataset.name = name;
      if (active) a.className = "active";
      tabs.appendChild(a);
    };
    for (const d of BOOT.dashboards) tab(d.title, "/d/" + d.name, VIEW === "dashboard" && d.name === state.dashboard, d.name);
    tab("Explore", "/explore", VIEW === "explore");
    tab("Live tail", "/tail", VIEW === "tail");
    $("refresh").value = String(state.refresh);
    if (!$("refresh").value) { state.refresh = 5; $("refresh").value = "5"; }
  }

  function layoutPage() {
    document.title = "vitrina · " + dash.title;
    const range = $("range");
    for (const r of BOOT.ranges) range.add(new Option(RANGE_LABELS[r] || r, r));
    range.add(new Option("custom", "custom"));
    range.add(new Option("fit the data", "auto"));
    range.value = state.range;
    const grid = $("grid");
    for (const p of dash.panels) {
      const el = document.createElement("section");
      el.className = "panel panel-" + p.kind;
      el.id = "panel-" + p.id;
      el.dataset.kind = p.kind;
      el.style.gridColumn = "span " + p.width;
      el.style.height = p.height * 34 + "px";
      el.innerHTML = "<header><h2></h2><span class='exports'></span></header><div class='body'></div>";
      el.querySelector("h2").textContent = p.title;
      if (p.description) el.querySelector("h2").title = p.description;
      if (p.kind !== "alerts") exportButtons(p, el.querySelector(".exports"));
      grid.appendChild(el);
    }
    showCustom();
  }

  // ---- exports: a panel's data as CSV, its chart as PNG ------------------------------------
  const CHARTS = new Set(["timeseries", "bar", "histogram"]);
  function exportButtons(p, box) {
    const button = (text, cls, title, act) => {
      const b = document.createElement("button");
      b.type = "button"; b.className = "export " + cls; b.textContent = text; b.title = title;
      b.addEventListener("click", act);
      box.appendChild(b);
    };
    button("CSV", "export-csv", "this panel's data as CSV", () => {
      const res = last && last.panels[p.id];
      if (res) download(p.id + ".csv", csvText(res.columns, rowsOf(res)), "text/csv");
    });
    if (CHARTS.has(p.kind)) {
      button("PNG", "export-png", "this chart as a PNG image", () => {
        const div = document.querySelector("#panel-" + p.id + " .js-plotly-plot");
        if (div) Plotly.downloadImage(div, { format: "png", filename: p.id, width: div.clientWidth * 2, height: div.clientHeight * 2, scale: 1 });
      });
    }
  }
  const rowsOf = (res) => Array.from({ length: res.rows }, (_, i) => res.columns.map((c) => res.values[c][i]));
  function csvText(columns, rows) {
    const quote = (v) => {
      const t = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
    };
    return [columns, ...rows].map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
  }
  function download(name, text, type) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  function showCustom() {
    $("custom").hidden = state.range !== "custom";
    if (state.range === "custom") {
      const now = Math.floor(Date.now() / 1000);
      const iso = (s) => new Date(s * 1000).toISOString().slice(0, 19);
      if (!$("from").value) $("from").value = iso(Number(state.from) || now - 3600);
      if (!$("to").value) $("to").value = iso(Number(state.to) || now);
    }
  }

  // ---- drawing ---------------------------------------------------------------------------
  function plotLayout(extra) {
    const grid = css("--grid");
    return Object.assign({
      margin: { l: 56, r: 16, t: 8, b: 32 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: css("--text"), size: 11 },
      showlegend: true,
      // Above the plot area, which plotly shrinks to make room (many series scroll within a
      // third of the height): the legend never covers the data.
      legend: { orientation: "h", y: 1, yanchor: "bottom", x: 0, font: { size: 10 }, maxheight: 0.34 },
      xaxis: { gridcolor: grid, zerolinecolor: grid, automargin: true },
      yaxis: { gridcolor: grid, zerolinecolor: grid, automargin: true },
      hovermode: "x unified",
    }, extra);
  }
  const CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };

  function chartDiv(body) {
    let div = body.querySelector(".chart");
    if (!div) { body.innerHTML = ""; div = document.createElement("div"); div.className = "chart"; body.appendChild(div); }
    return div;
  }

  function unitAxis(p) {
    return p.unit === "percentunit" ? { tickformat: ".1%" } : { ticksuffix: { s: " s", ms: " ms" }[p.unit] || "" };
  }

  function thresholdShapes(p) {
    const shapes = [], notes = [];
    for (const t of p.thresholds) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: t.value, y1: t.value, line: { color: color(t.color), width: 1.5, dash: "dash" } });
      notes.push({ xref: "paper", x: 1, y: t.value, xanchor: "right", yanchor: "bottom", showarrow: false, text: t.label || String(t.value), font: { color: color(t.color), size: 10 } });
    }
    return { shapes, annotations: notes };
  }

  function drawTimeseries(p, res, body, range) {
    const v = res.values, x = v.time || [];
    const traces = [];
    const skip = new Set(["time", "cl_mean", "cl_upper", "cl_lower", "cl_beyond", p.series]);
    const valueCols = res.columns.filter((c) => !skip.has(c));
    if (p.series) {
      const groups = new Map();
      (v[p.series] || []).forEach((s, i) => { if (!groups.has(s)) groups.set(s, []); groups.get(s).push(i); });
      for (const [s, idx] of [...groups.entries()].sort()) {
        for (const c of valueCols) {
          traces.push({ type: "scatter", mode: lineMode(idx.length), marker: MARKER, name: valueCols.length > 1 ? s + " " + c : String(s), x: idx.map((i) => x[i]), y: idx.map((i) => v[c][i]) });
        }
      }
    } else {
      for (const c of valueCols) traces.push({ type: "scatter", mode: lineMode(x.length), marker: MARKER, name: c, x, y: v[c] });
    }
    if (p.control && v.cl_mean) {
      const lim = (name, label, dash) => traces.push({ type: "scatter", mode: "lines", name: label, x, y: v[name], line: { color: name === "cl_mean" ? css("--muted") : css("--bad"), dash, width: 1 }, hoverinfo: "skip" });
      lim("cl_upper", "UCL +" + p.control.sigma + "σ", "dash");
      lim("cl_mean", "CL (mean)", "dot");
      lim("cl_lower", "LCL −" + p.control.sigma + "σ", "dash");
      // The query marks the values beyond the limits (cl_beyond), for Grafana as well.
      const bx = [], by = [];
      (v.cl_beyond || []).forEach((val, i) => { if (val !== null) { bx.push(x[i]); by.push(val); } });
      traces.push({ type: "scatter", mode: "markers", name: "beyond limits", x: bx, y: by, marker: { color: css("--bad"), size: 10, symbol: "circle-open", line: { width: 2.5 } } });
    }
    const th = thresholdShapes(p);
    const layout = plotLayout({
      xaxis: { type: "date", range: [utc(range.from), utc(range.to)], gridcolor: css("--grid"), automargin: true },
      yaxis: Object.assign({ gridcolor: css("--grid"), zerolinecolor: css("--grid"), automargin: true, rangemode: "tozero" }, unitAxis(p), valueRange(p, traces)),
      shapes: th.shapes,
      annotations: th.annotations.concat(x.length ? [] : [{ xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, text: "no data", font: { color: css("--muted"), size: 14 } }]),
    });
    Plotly.react(chartDiv(body), traces, layout, CONFIG);
  }
  // The value axis: a share stays within 0..100 %; the axis shows the thresholds too, and
  // without data it is 0 up to them (plotly alone would span -1..4 around a lone line).
  function valueRange(p, traces) {
    const ys = [];
    for (const t of traces) for (const y of t.y || []) if (typeof y === "number" && isFinite(y)) ys.push(y);
    const limits = p.thresholds.map((t) => t.value);
    if (p.unit === "percentunit" && ys.every((y) => y >= 0 && y <= 1)) return { range: [0, 1] };
    if (!ys.length) return { range: [0, Math.max(1, ...limits) * 1.1] };
    if (!limits.length) return {};
    const lo = Math.min(0, ...ys, ...limits), hi = Math.max(...ys, ...limits);
    return { range: [lo, hi + (hi - lo) * 0.08 || 1] };
  }

  // Few points are hard to see as a bare line (a lone one not at all): mark them.
  const lineMode = (n) => (n <= 60 ? "lines+markers" : "lines");
  const MARKER = { size: 4 };

  function drawBar(p, res, body) {
    const cat = res.columns[0];
    const traces = res.columns.slice(1).map((c) => ({ type: "bar", name: c, x: res.values[cat].map(String), y: res.values[c] }));
    if (p.kind === "histogram") traces.forEach((t) => { t.x = res.values[cat]; });
    const th = thresholdShapes(p);
    const none = !res.rows;
    const layout = plotLayout({
      showlegend: traces.length > 1, bargap: p.kind === "histogram" ? 0.05 : 0.2, hovermode: "closest",
      xaxis: { gridcolor: css("--grid"), automargin: true, type: p.kind === "histogram" ? "linear" : "category", title: { text: cat, font: { size: 10 } }, visible: !none },
      yaxis: Object.assign({ gridcolor: css("--grid"), automargin: true, rangemode: "tozero" }, unitAxis(p), valueRange(p, traces)),
      shapes: th.shapes,
      annotations: th.annotations.concat(none ? [{ xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, text: "no data", font: { color: css("--muted"), size: 14 } }] : []),
    });
    Plotly.react(chartDiv(body), traces, layout, CONFIG);
  }

  function drawStat(p, res, body) {
    const col = res.columns[0];
    const value = col && res.values[col].length ? res.values[col][0] : null;
    const crossed = value === null ? undefined : p.thresholds.find((t) => beyond(t, value));
    body.innerHTML = "";
    const div = document.createElement("div");
    // Coloured only by the figure's own thresholds (the same on every page): green within
    // them, their colour beyond; a figure without thresholds is neither good nor bad.
    const judged = p.thresholds.length && value !== null ? (crossed ? " bad" : " ok") : "";
    div.className = "stat" + judged + (value === null ? " empty" : "");
    if (crossed) div.style.color = color(crossed.color);
    div.dataset.value = value === null ? "" : String(value);
    div.textContent = fmt(value, p.unit);
    body.appendChild(div);
  }

  function table(headers, rows, cellClass) {
    const t = document.createElement("table");
    const head = t.createTHead().insertRow();
    for (const h of headers) { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); }
    const tb = t.createTBody();
    for (const r of rows) {
      const tr = tb.insertRow();
      r.forEach((c, i) => { const td = tr.insertCell(); td.textContent = c.text; if (c.cls) td.className = c.cls; else if (cellClass) td.className = cellClass(i); });
    }
    return t;
  }

  function drawTable(p, res, body) {
    body.innerHTML = "";
    if (!res.rows) { body.innerHTML = "<div class='empty-note'>no data</div>"; return; }
    const rows = [];
    // Identifiers are shown as they are (no thousands separators); rates as percentages.
    const unitOf = (c) => (c.endsWith("_id") ? "raw" : c.endsWith("rate") || c === "availability" ? "percentunit" : "short");
    for (let i = 0; i < res.rows; i++) rows.push(res.columns.map((c) => { const v = res.values[c][i]; return { text: unitOf(c) === "raw" ? String(v) : fmt(v, unitOf(c)), cls: typeof v === "number" ? "num" : "" }; }));
    body.appendChild(table(res.columns, rows));
  }

  function drawAlerts(p, alerts, body) {
    body.innerHTML = "";
    if (!alerts || !alerts.available || !alerts.alerts.length) {
      const note = document.createElement("div");
      note.className = "empty-note";
      note.textContent = alerts && alerts.available ? "no alerts" : "no alert rules";
      body.appendChild(note);
      return;
    }
    const heads = ["name", "state", "severity", "value", "since", "summary"];
    const rows = alerts.alerts.map((a) => heads.map((h) => ({ text: fmt(a[h], "short"), cls: h === "state" ? "state-" + String(a.state).toLowerCase() : "" })));
    body.appendChild(table(heads, rows));
  }

  const utc = (s) => new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ");

  // An install that has stored nothing yet: how to send a first event, instead of empty panels.
  function drawGuide(stored) {
    const empty = stored === 0;
    $("guide").hidden = !empty;
    $("grid").hidden = empty;
    document.body.dataset.empty = empty ? "1" : "0";
    if (!empty || $("guide-lines").childElementCount) return;
    for (const g of BOOT.guide) {
      const item = document.createElement("div");
      item.className = "guide-line";
      const name = document.createElement("h3");
      name.textContent = g.stream;
      const pre = document.createElement("pre");
      pre.dataset.stream = g.stream;
      pre.textContent = g.curl.split("__ORIGIN__").join(location.origin);
      item.append(name, pre);
      $("guide-lines").appendChild(item);
    }
  }

  function draw(body) {
    drawGuide(body.stored);
    for (const p of dash.panels) {
      const el = $("panel-" + p.id).querySelector(".body");
      if (p.kind === "alerts") { drawAlerts(p, body.alerts, el); continue; }
      const res = body.panels[p.id];
      if (!res) continue;
      if (res.error) { el.innerHTML = ""; const e = document.createElement("div"); e.className = "panel-error"; e.textContent = res.error; el.appendChild(e); continue; }
      if (p.kind === "timeseries") drawTimeseries(p, res, el, body.range);
      else if (p.kind === "bar" || p.kind === "histogram") drawBar(p, res, el);
      else if (p.kind === "stat") drawStat(p, res, el);
      else if (p.kind === "table") drawTable(p, res, el);
    }
  }

  function drawVars(vars) {
    const box = $("vars");
    for (const v of dash.variables) {
      let sel = box.querySelector("select[name='" + v.name + "']");
      if (!sel) {
        const label = document.createElement("label");
        label.textContent = v.label + " ";
        sel = document.createElement("select");
        sel.name = v.name;
        sel.id = "var-" + v.name;
        sel.addEventListener("change", () => { state.vars[v.name] = sel.value; syncUrl(); load(); });
        label.appendChild(sel);
        box.appendChild(label);
      }
      const info = vars[v.name] || { options: [], value: "" };
      const want = info.options.join("\n");
      if (sel.dataset.options !== want) {
        sel.innerHTML = "";
        for (const o of info.options) sel.add(new Option(o, o));
        sel.dataset.options = want;
      }
      sel.value = info.value;
    }
  }

  // ---- loading ---------------------------------------------------------------------------
  async function load() {
    const mine = ++seq;
    clearTimeout(timer);
    const started = performance.now();
    try {
      const url = "/v1/dashboards/" + state.dashboard + "/data?" + query().toString();
      const early = window.VITRINA_PREFETCH;
      window.VITRINA_PREFETCH = null; // good for the first load only
      const resp = await (early && early.url === url ? early.response : fetch(url));
      const body = await resp.json();
      if (mine !== seq) return;
      if (!resp.ok) { $("status").textContent = body.message || "error " + resp.status; return; }
      last = body;
      if (state.range === "auto") { state.range = body.range.name; $("range").value = state.range; syncUrl(); }
      performance.mark("vitrina:data");
      drawVars(body.variables || {});
      draw(body);
      performance.mark("vitrina:drawn");
      loads += 1;
      document.body.dataset.loads = String(loads);
      document.body.dataset.range = state.range;
      document.body.dataset.from = String(body.range.from);
      document.body.dataset.to = String(body.range.to);
      document.body.dataset.renderMs = String(Math.round(performance.now() - started));
      lastStatus = "updated " + new Date().toISOString().slice(11, 19) + " UTC · " + utc(body.range.from) + " → " + utc(body.range.to) +
        " · " + body.range.interval_s + " s buckets · queries " + Math.round(body.ms) + " ms";
      showStatus();
    } catch (err) {
      if (mine === seq) $("status").textContent = "cannot load: " + err;
    } finally {
      if (mine === seq) schedule();
    }
  }

  let lastStatus = "";
  function showStatus() {
    $("status").textContent = lastStatus + (state.refresh ? " · refresh " + state.refresh + " s" : " · refresh off");
  }

  function schedule() {
    clearTimeout(timer);
    if (state.refresh > 0) timer = setTimeout(load, state.refresh * 1000);
  }

  function setTheme(theme) {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("vitrina-theme", theme);
    if (last) draw(last);
    if (explored) drawExplore(explored.meta, explored.data.map((r) => explored.meta.map((m) => r[m.name])));
  }

  function wire() {
    $("range").addEventListener("change", (e) => {
      state.range = e.target.value;
      showCustom();
      if (state.range !== "custom") { state.from = state.to = null; syncUrl(); load(); }
    });
    $("apply").addEventListener("click", () => {
      state.from = String(Math.floor(Date.parse($("from").value + "Z") / 1000));
      state.to = String(Math.floor(Date.parse($("to").value + "Z") / 1000));
      syncUrl();
      load();
    });
    $("refresh").addEventListener("change", (e) => { state.refresh = Number(e.target.value); syncUrl(); showStatus(); schedule(); });
  }

  // ---- explore: read-only SQL through /v1/sql, a table, a chart, CSV and PNG ----------------
  let explored = null;
  const NUMERIC = /^(Nullable\()?(U?Int|Float|Decimal)/;
  const TIMELIKE = /^(Nullable\()?(Date|DateTime)/;

  async function runExplore() {
    const sql = $("explore-sql").value;
    const q = new URL(location.href);
    q.searchParams.set("sql", sql);
    history.replaceState(null, "", q.pathname + "?" + q.searchParams.toString());
    $("explore-status").textContent = "running…";
    const started = performance.now();
    const resp = await fetch("/v1/sql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: sql }) });
    const body = await resp.json();
    if (!resp.ok) {
      explored = null;
      $("explore-status").textContent = (body.message || "error " + resp.status) + (body.detail && body.detail.length ? " (" + body.detail.join("; ") + ")" : "");
      $("explore-status").className = "error";
      $("explore-table").innerHTML = "";
      Plotly.purge($("explore-chart"));
      $("explore-csv").disabled = $("explore-png").disabled = true;
      document.body.dataset.explored = "error";
      return;
    }
    explored = body;
    const columns = body.meta.map((m) => m.name);
    const rows = body.data.map((r) => columns.map((c) => r[c]));
    $("explore-status").className = "muted";
    $("explore-status").textContent = body.rows + " rows" + (body.truncated ? " (truncated)" : "") + " · " + Math.round(performance.now() - started) + " ms";
    $("explore-table").innerHTML = "";
    $("explore-table").appendChild(table(columns, rows.map((r) => r.map((v) => ({ text: v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v), cls: typeof v === "number" ? "num" : "" })))));
    const charted = drawExplore(body.meta, rows);
    $("explore-csv").disabled = false;
    $("explore-png").disabled = !charted;
    document.body.dataset.explored = String((Number(document.body.dataset.explored) || 0) + 1);
  }

  // The first column along x (time, or categories), every other numeric column a series.
  function drawExplore(meta, rows) {
    const div = $("explore-chart");
    const ys = meta.map((m, i) => [m, i]).filter(([m, i]) => i > 0 && NUMERIC.test(m.type));
    if (!meta.length || !ys.length || !rows.length) { Plotly.purge(div); div.hidden = true; return false; }
    div.hidden = false;
    const timed = TIMELIKE.test(meta[0].type);
    const x = rows.map((r) => (timed ? String(r[0]).replace("T", " ").replace("Z", "") : String(r[0])));
    const traces = ys.map(([m, i]) => ({ type: timed ? "scatter" : "bar", mode: lineMode(rows.length), marker: MARKER, name: m.name, x, y: rows.map((r) => Number(r[i])) }));
    const layout = plotLayout({
      showlegend: traces.length > 1,
      hovermode: "closest",
      xaxis: { type: timed ? "date" : "category", gridcolor: css("--grid"), automargin: true, title: { text: meta[0].name, font: { size: 10 } } },
    });
    Plotly.react(div, traces, layout, CONFIG);
    return true;
  }

  function layoutExplore() {
    document.title = "vitrina · Explore";
    $("explore").hidden = false;
    const asked = url.searchParams.get("sql");
    if (asked) $("explore-sql").value = asked;
    $("explore-form").addEventListener("submit", (e) => { e.preventDefault(); runExplore().catch((err) => { $("explore-status").textContent = "cannot run: " + err; }); });
    $("explore-sql").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("explore-form").requestSubmit(); } });
    $("explore-csv").addEventListener("click", () => {
      if (!explored) return;
      const columns = explored.meta.map((m) => m.name);
      download("query.csv", csvText(columns, explored.data.map((r) => columns.map((c) => r[c]))), "text/csv");
    });
    $("explore-png").addEventListener("click", () => Plotly.downloadImage($("explore-chart"), { format: "png", filename: "query", width: 1200, height: 500 }));
  }

  // ---- live tail: a stream's latest events and rejects, refreshed --------------------------
  let tailTimer = null;
  let tails = 0;
  async function loadTail() {
    clearTimeout(tailTimer);
    const stream = $("tail-stream").value;
    try {
      const resp = await fetch("/v1/tail/" + encodeURIComponent(stream) + "?limit=" + $("tail-limit").value);
      const body = await resp.json();
      if (!resp.ok) { $("tail-status").textContent = body.message || "error " + resp.status; return; }
      if (body.stream !== $("tail-stream").value) return; // the stream changed meanwhile
      const cells = (part) => part.rows.map((r) => part.columns.map((c) => { const v = r[c]; return { text: v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v), cls: typeof v === "number" ? "num" : c === "reason" ? "reason" : "" }; }));
      for (const [part, id, none] of [[body.events, "tail-events", "no events stored yet"], [body.rejects, "tail-rejects", "no rejects"]]) {
        const box = $(id);
        box.innerHTML = "";
        if (part.rows.length) box.appendChild(table(part.columns, cells(part)));
        else box.innerHTML = "<div class='empty-note'>" + none + "</div>";
      }
      tails += 1;
      document.body.dataset.tails = String(tails);
      $("tail-status").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC" + (state.refresh ? " · refresh " + state.refresh + " s" : " · refresh off");
    } catch (err) {
      $("tail-status").textContent = "cannot load: " + err;
    } finally {
      if (state.refresh > 0) tailTimer = setTimeout(loadTail, state.refresh * 1000);
    }
  }

  function layoutTail() {
    document.title = "vitrina · Live tail";
    $("tail").hidden = false;
    const sel = $("tail-stream");
    for (const name of BOOT.streams) sel.add(new Option(name, name));
    const asked = url.searchParams.get("stream");
    if (asked && BOOT.streams.includes(asked)) sel.value = asked;
    const sync = () => history.replaceState(null, "", "/tail?stream=" + encodeURIComponent(sel.value) + "&refresh=" + state.refresh);
    sel.addEventListener("change", () => { sync(); loadTail(); });
    $("tail-limit").addEventListener("change", loadTail);
    $("refresh").addEventListener("change", (e) => { state.refresh = Number(e.target.value); sync(); loadTail(); });
    sync();
  }

  document.documentElement.dataset.theme = localStorage.getItem("vitrina-theme") || "dark";
  document.body.dataset.view = VIEW;
  layoutTabs();
  if (VIEW !== "dashboard") { $("range").parentElement.hidden = true; $("vars").hidden = true; $("refresh").parentElement.hidden = VIEW === "explore"; }
  $("theme").addEventListener("click", () => setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  if (VIEW === "explore") {
    layoutExplore();
    if (url.searchParams.get("sql")) $("explore-form").requestSubmit();
  } else if (VIEW === "tail") {
    layoutTail();
    loadTail();
  } else {
    layoutPage();
    wire();
    syncUrl();
    load();
  }
})();
