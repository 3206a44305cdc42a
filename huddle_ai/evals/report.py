"""Reports of a run: JSON for machines and Markdown for pull requests.

The HTML page (:mod:`huddle_ai.evals.page`) builds on this module, never the
reverse. The metrics that improve downwards (latency, tokens) are named, and
a figure measured at generation time (latency) is marked when outputs came from
the cache: an earlier run measured it, not this one.
"""

from __future__ import annotations

import json
import math
from typing import Any

from huddle_ai.evals.scorers import lower_is_better

__all__ = [
    "CACHED_METRICS",
    "cached_note",
    "cached_share",
    "fmt",
    "render_json",
    "render_markdown",
]

# measured afresh by each generation: a cached output carries an earlier run's figure
CACHED_METRICS = frozenset({"latency_ms"})


def cached_share(run: dict[str, Any], variant: str) -> float:
    """The share of ``variant``'s outputs in ``run`` that came from the cache."""
    rows = [row for c in run["cases"] for row in c["outputs"].get(variant, [])]
    return sum(1 for row in rows if row.get("cached")) / len(rows) if rows else 0.0


def cached_note(run: dict[str, Any], variant: str, metric: str) -> str:
    """``"cached"`` (or ``"40% cached"``) when this run did not measure ``variant``'s ``metric``."""
    share = cached_share(run, variant) if metric in CACHED_METRICS else 0.0
    if share == 0.0:
        return ""
    return "cached" if share == 1.0 else f"{share:.0%} cached"


def fmt(value: float | None, metric: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in ("latency_ms", "tokens"):
        return f"{value:.1f}"
    if metric in ("transplanted", "misquotes", "evidence_reuse"):
        return f"{value:.2f}"
    return f"{value:.3f}"


def render_json(run: dict[str, Any]) -> str:
    return json.dumps(run, indent=1, ensure_ascii=False)


def _metrics(run: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for v in run["variants"]:
        seen.update(dict.fromkeys(run["metrics"].get(v, {})))
    return list(seen)


def render_markdown(run: dict[str, Any]) -> str:
    """A summary for a pull request: metrics per variant, gate, diff, label agreement."""
    variants = run["variants"]
    status = {True: "passed", False: "FAILED", None: "not gated"}[run.get("passed")]
    lines = [
        f"## Eval `{run['suite']}` — {status}",
        "",
        f"Run `{run['run_id']}`: {len(run['cases'])} cases × {len(variants)} variant(s) × "
        f"{run['repeat']} repeat(s) in {run.get('duration_s', 0)} s"
        + (
            f"; cache {run['cache']['hits']} hits, {run['cache']['misses']} misses"
            if run.get("cache")
            else ""
        )
        + "."
        + (
            " Leave-one-huddle-out: each huddle's cases ran without that huddle's feedback."
            if run.get("leave_one_huddle_out")
            else ""
        ),
        "",
        "| metric | " + " | ".join(variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for m in _metrics(run):
        cells = []
        for v in variants:
            s = run["metrics"].get(v, {}).get(m)
            if not s:
                cells.append("–")
                continue
            spread = f" ± {fmt(s['spread'], m)}" if s.get("spread") else ""
            note = cached_note(run, v, m)
            cells.append(f"{fmt(s['mean'], m)}{spread}" + (f" ({note})" if note else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lower = [m for m in _metrics(run) if lower_is_better(m)]
    if lower:
        lines += ["", f"Lower is better for {', '.join(lower)}; higher is better for the rest."]
    findings = run.get("findings") or []
    if findings:
        lines += ["", "### Gate failures", ""]
        lines += [f"- {f['text']}" for f in findings]
    if run.get("diff"):
        lines += [
            "",
            f"### Against baseline `{run.get('baseline')}`",
            "",
            "| variant | metric | baseline | current | Δ |",
            "|---|---|---|---|---|",
        ]
        for r in run["diff"]:
            flag = " ⚠️" if r["regressed"] else ""
            lines.append(
                f"| {r['variant']} | {r['metric']} | {fmt(r['baseline'], r['metric'])} | "
                f"{fmt(r['current'], r['metric'])} | {r['delta']:+.3f}{flag} |"
            )
    if run.get("agreement"):
        lines += [
            "",
            "### Agreement with human labels",
            "",
            "| scorer | n | AUC | κ |",
            "|---|---|---|---|",
        ]
        for name, a in run["agreement"].items():
            lines.append(f"| {name} | {a['n']} | {fmt(a['auc'])} | {fmt(a['kappa'])} |")
    if run.get("validity"):
        # whose labels each scorer was validated on, n, AUC, κ -- or that nobody checked it
        lines += ["", "### Scorer validity", "", "| scorer | validity |", "|---|---|"]
        lines += [f"| {name} | {v['validity']} |" for name, v in run["validity"].items()]
    return "\n".join(lines) + "\n"
