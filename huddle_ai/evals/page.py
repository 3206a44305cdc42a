"""The HTML report: one self-contained page (inline CSS, SVG and a few lines of
JS; no network) with a chart per metric across variants, the baseline diff,
agreement with human labels, and a drill-down per case."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from huddle_ai.evals.report import cached_note, fmt
from huddle_ai.evals.scorers import lower_is_better, unbounded

__all__ = ["render_html"]

# one bar of a chart: variant, mean, spread, baseline mean, "cached" note
Bar = tuple[str, float, float, float | None, str]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}.bad{background:#fde2e2}
.good{background:#e3f6e3}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #eee;background:#fcfcfc}.case{border:1px solid #ddd;margin:.6rem 0;
padding:.3rem .7rem;border-radius:4px}.case summary{cursor:pointer;font-weight:600}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;margin:.3rem 0}.muted{color:#777}
.ctx li{margin-bottom:.3rem}.pass{color:#17752a}.fail{color:#b3261e}
"""

_JS = """
document.getElementById('filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('section.case').forEach(function (s) {
    s.style.display = s.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
});
document.body.dataset.charts = document.querySelectorAll('svg.chart rect.bar').length > 0
  ? String(document.querySelectorAll('svg.chart').length) : '0';
document.body.dataset.cases = String(document.querySelectorAll('section.case').length);
"""

_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1")


def _chart(metric: str, rows: list[Bar]) -> str:
    """Horizontal bars: one per variant, with the spread as a whisker and the baseline as a tick.

    The title says which way is better and the best variant's bar is marked, so
    a long latency bar does not read as a good result.
    """
    width, label_w, bar_h, pad = 340, 110, 18, 6
    height = 28 + len(rows) * (bar_h + pad)
    top = max(
        [abs(r[1]) + r[2] for r in rows] + [abs(r[3]) for r in rows if r[3] is not None] + [1e-9]
    )
    lower = lower_is_better(metric)
    means = [r[1] for r in rows]
    best = (min if lower else max)(means)
    better = "lower is better" if lower else "higher is better"
    if not unbounded(metric):
        top = max(top, 1.0)
    scale = (width - label_w - 50) / top
    parts = [
        f'<svg class="chart" data-metric="{escape(metric)}" '
        f'data-better="{"lower" if lower else "higher"}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(metric)} by variant, {better}">',
        f'<text x="6" y="16" font-weight="600" font-size="13">{escape(metric)} '
        f'<tspan class="better" font-weight="400" fill="#555">{"↓" if lower else "↑"} {better}'
        "</tspan></text>",
    ]
    for i, (label, mean, spread, base, note) in enumerate(rows):
        y = 26 + i * (bar_h + pad)
        w = max(0.0, mean) * scale
        color = _COLORS[i % len(_COLORS)]
        mark = " ★" if mean == best and len(rows) > 1 else ""
        suffix = f" ({note})" if note else ""
        faded = ' fill-opacity=".45"' if note else ""
        parts.append(
            f'<text x="6" y="{y + 13}" font-size="11">{escape(label[:16])}</text>'
            f'<rect class="{"bar best" if mark else "bar"}" x="{label_w}" y="{y}" width="{w:.1f}" '
            f'height="{bar_h}" fill="{color}"{faded}>'
            f"<title>{escape(label)}: {fmt(mean, metric)} ± {fmt(spread, metric)}{suffix}"
            "</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="11">'
            f"{fmt(mean, metric)}{mark}{escape(suffix)}</text>"
        )
        if spread:
            x1, x2 = label_w + max(0.0, mean - spread) * scale, label_w + (mean + spread) * scale
            parts.append(
                f'<line class="spread" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y + bar_h / 2}" '
                f'y2="{y + bar_h / 2}" stroke="#222" stroke-width="1.5"/>'
            )
        if base is not None:
            bx = label_w + max(0.0, base) * scale
            parts.append(
                f'<line class="baseline" x1="{bx:.1f}" x2="{bx:.1f}" y1="{y - 2}" '
                f'y2="{y + bar_h + 2}" stroke="#000" stroke-dasharray="3,2"><title>baseline '
                f"{fmt(base, metric)}</title></line>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _base_mean(run: dict[str, Any], variant: str, metric: str) -> float | None:
    for r in run.get("diff") or []:
        if r["variant"] == variant and r["metric"] == metric:
            return float(r["baseline"])
    return None


def _charts(run: dict[str, Any]) -> str:
    metrics: dict[str, None] = {}
    for v in run["variants"]:
        metrics.update(dict.fromkeys(run["metrics"].get(v, {})))
    out = []
    for m in metrics:
        rows = []
        for v in run["variants"]:
            s = run["metrics"].get(v, {}).get(m)
            if s and s.get("mean") is not None and not math.isnan(s["mean"]):
                spread = float(s.get("spread") or 0.0)
                rows.append(
                    (v, float(s["mean"]), spread, _base_mean(run, v, m), cached_note(run, v, m))
                )
        if rows:
            out.append(_chart(m, rows))
    return '<div class="charts">' + "".join(out) + "</div>"


def _diff(run: dict[str, Any]) -> str:
    if not run.get("diff"):
        return '<p class="muted">No baseline given (use <code>--baseline RUN</code>).</p>'
    rows = "".join(
        f'<tr class="{"bad" if r["regressed"] else ""}"><td>{escape(r["variant"])}</td>'
        f"<td>{escape(r['metric'])}</td><td>{fmt(r['baseline'], r['metric'])}</td>"
        f"<td>{fmt(r['current'], r['metric'])}</td><td>{r['delta']:+.3f}"
        f"{' regressed' if r['regressed'] else ''}</td></tr>"
        for r in run["diff"]
    )
    return (
        f"<p>Baseline <code>{escape(str(run.get('baseline')))}</code></p><table id='diff'>"
        "<tr><th>variant</th><th>metric</th><th>baseline</th><th>current</th><th>Δ</th>"
        f"</tr>{rows}</table>"
    )


def _agreement(run: dict[str, Any]) -> str:
    if not run.get("agreement"):
        return '<p class="muted">The suite has no human labels.</p>'
    rows = "".join(
        f"<tr><td>{escape(n)}</td><td>{a['n']}</td><td>{fmt(a['auc'])}</td><td>{fmt(a['kappa'])}</td></tr>"
        for n, a in run["agreement"].items()
    )
    return f"<table><tr><th>scorer</th><th>n</th><th>AUC</th><th>κ (binary)</th></tr>{rows}</table>"


def _validity(run: dict[str, Any]) -> str:
    """Whose labels each scorer was validated on, n, AUC, κ -- or that nobody checked it."""
    if not run.get("validity"):
        return ""
    rows = "".join(
        f"<tr><td>{escape(n)}</td><td>{escape(v['validity'])}</td></tr>"
        for n, v in run["validity"].items()
    )
    head = "<tr><th>scorer</th><th>validity</th></tr>"
    return f"<h2>Scorer validity</h2><table id='validity'>{head}{rows}</table>"


def _list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    return f"<p><b>{title}</b></p><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def _agree_class(expected: str | None, got: str) -> str:
    if expected is None:
        return ""
    return "good" if expected == got else "bad"


def _output(row: dict[str, Any], case: dict[str, Any]) -> str:
    if row.get("suggestion") is None:
        return f'<p class="fail">No output: {escape(str(row.get("error")))}</p>' + _scores(row)
    s = row["suggestion"]
    expected = case.get("expected_rubric") or {}
    rubric = "".join(
        f'<tr class="{_agree_class(expected.get(r["criterion_id"]), r["level"])}">'
        f"<td>{escape(r['criterion_id'])}</td><td>{escape(r['level'])}</td>"
        f"<td>{escape(expected.get(r['criterion_id'], '–'))}</td>"
        f"<td>{escape(r['evidence'])}</td></tr>"
        for r in s.get("rubric", [])
    )
    exp = case.get("expected_assessment")
    cls = "" if not exp else ("pass" if exp == s.get("assessment") else "fail")
    return (
        f"<pre class='output'>{escape(s.get('text', ''))}</pre>"
        f"<p>Assessment <b class='{cls}'>{escape(str(s.get('assessment')))}</b>"
        f" (expected {escape(str(exp or '–'))}); next step: {escape(s.get('next_step', ''))}</p>"
        + _list("Strengths", s.get("strengths", []))
        + _list("Suggestions", [x["text"] for x in s.get("suggestions", [])])
        + "<table><tr><th>criterion</th><th>level</th><th>expected</th><th>evidence</th></tr>"
        + f"{rubric}</table>"
        f"<p>Citations: {escape(', '.join(s.get('citations', [])) or 'none')}"
        f"{' (cached)' if row.get('cached') else ''}"
        f"{'; degraded: ' + escape(str(s.get('degraded_reason'))) if s.get('degraded') else ''}</p>"
        + _scores(row)
    )


def _scores(row: dict[str, Any]) -> str:
    body = "".join(
        f"<tr><td>{escape(n)}</td><td>{fmt(sc['value'], n)}</td>"
        f"<td>{escape(sc['explanation'])}</td></tr>"
        for n, sc in row["scores"].items()
    )
    return f"<table class='scores'><tr><th>scorer</th><th>value</th><th>why</th></tr>{body}</table>"


def _case(case: dict[str, Any], variants: list[str]) -> str:
    ctx = "".join(
        f"<li><code>{escape(i['id'])}</code> {escape(i['text'][:400])}</li>"
        for i in case["context"]
    )
    outs = "".join(
        f"<h4>{escape(v)}"
        + (f" · repeat {row['repeat'] + 1}" if len(case["outputs"][v]) > 1 else "")
        + f"</h4>{_output(row, case)}"
        for v in variants
        for row in case["outputs"].get(v, [])
    )
    summary_bits = []
    for v in variants:
        rows = case["outputs"].get(v, [])
        if rows:
            summary_bits.append(f"{v}: {rows[0].get('assessment') or 'error'}")
    ref = (
        f"<p><b>Reference</b></p><pre>{escape(case['reference'])}</pre>"
        if case.get("reference")
        else ""
    )
    return (
        f"<section class='case' id='case-{escape(case['id'])}'><details>"
        f"<summary>{escape(case['id'])}"
        f" <span class='muted'>expected {escape(str(case.get('expected_assessment') or '–'))} · "
        f"{escape(' · '.join(summary_bits))}</span></summary>"
        f"<p><b>Solution</b></p><pre class='solution'>{escape(case['solution'])}</pre>{ref}"
        f"<p><b>Context ({len(case['context'])} items)</b></p><ul class='ctx'>{ctx}</ul>"
        f"{outs}</details></section>"
    )


def render_html(run: dict[str, Any]) -> str:
    """The run as one self-contained HTML page."""
    status = {True: "passed", False: "failed", None: "not gated"}[run.get("passed")]
    findings = "".join(f"<li>{escape(f['text'])}</li>" for f in run.get("findings") or [])
    variants = list(run["variants"])
    cases = "".join(_case(c, variants) for c in run["cases"])
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Eval {escape(run['suite'])} · {escape(run['run_id'])}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Eval <code>{escape(run['suite'])}</code> — "
        f"<span class='{'pass' if run.get('passed') else 'fail'}'>"
        f"{status}</span></h1>"
        f"<p class='muted'>Run {escape(run['run_id'])} · {escape(run['created_at'])} · "
        f"{len(run['cases'])} cases × {len(variants)} variants × {run['repeat']} repeat(s)</p>"
        + (f"<ul class='fail' id='findings'>{findings}</ul>" if findings else "")
        + f"<h2>Metrics by variant</h2>{_charts(run)}"
        f"<h2>Diff against baseline</h2>{_diff(run)}"
        f"<h2>Agreement with human labels</h2>{_agreement(run)}"
        f"{_validity(run)}"
        "<h2>Cases</h2><p><input id='filter' placeholder='filter cases…' size='40'></p>"
        f"<div id='cases'>{cases}</div>"
        f"<script>{_JS}</script></body></html>"
    )
