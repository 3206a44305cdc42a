"""The CI gate: absolute thresholds, baselines to beat, and regressions.

A suite's ``beats: [metric, ...]`` asks every generator to do strictly better
than every baseline of the same run (``nn_copy``, ``always_majority``...) on
each metric: the relative gate of "above both baselines". A threshold
``metric: limit`` is a floor for higher-is-better metrics and a ceiling for
lower-is-better ones (``latency_ms``, ``tokens``, ``misquotes``...). A
regression is a drop past the suite's tolerance (``regression: {default:
0.02, metric: x}``) against the same variant and metric of the baseline run:
relative for latency and tokens, absolute for the rest (a count of breaches
regresses up from 0).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from huddle_ai.evals.scorers import lower_is_better

# raw measurements, whose regression tolerance is relative
_RELATIVE = frozenset({"latency_ms", "tokens", "cost_per_case"})

__all__ = ["Finding", "apply_gate", "beats", "compare", "diff", "thresholds"]


@dataclass(frozen=True)
class Finding:
    kind: str  # "threshold" | "regression" | "beats"
    variant: str
    metric: str
    value: float
    limit: float
    baseline: float | None = None
    against: str | None = None  # the baseline variant not beaten ("beats")

    def __str__(self) -> str:
        if self.kind == "beats":
            return (
                f"{self.variant} {self.metric} = {self.value:.3f} does not beat "
                f"{self.against} ({self.limit:.3f})"
            )
        if self.kind == "threshold":
            op = ">" if lower_is_better(self.metric) else "<"
            return f"{self.variant} {self.metric} = {self.value:.3f} {op} threshold {self.limit:g}"
        return (
            f"{self.variant} {self.metric} regressed {self.baseline:.3f} -> {self.value:.3f} "
            f"(tolerance {self.limit:g})"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean(run: dict[str, Any], variant: str, metric: str) -> float | None:
    m = run.get("metrics", {}).get(variant, {}).get(metric)
    if not m or m.get("mean") is None or math.isnan(m["mean"]):
        return None
    return float(m["mean"])


def thresholds(run: dict[str, Any]) -> list[Finding]:
    """Metrics of any variant (except the baselines) past the suite's absolute thresholds."""
    from huddle_ai.evals.variants import BASELINES

    out = []
    # baselines are reference points to beat, not candidates to ship
    for variant in [v for v in run["variants"] if v not in BASELINES]:
        for metric, limit in run.get("thresholds", {}).items():
            value = _mean(run, variant, metric)
            if value is None:
                continue
            bad = value > limit if lower_is_better(metric) else value < limit
            if bad:
                out.append(Finding("threshold", variant, metric, value, limit))
    return out


def beats(run: dict[str, Any]) -> list[Finding]:
    """Generators that do not strictly beat a baseline of the same run on a ``beats`` metric."""
    from huddle_ai.evals.variants import BASELINES

    out = []
    others = [v for v in run["variants"] if v in BASELINES]
    for variant in [v for v in run["variants"] if v not in BASELINES]:
        for metric in run.get("beats", []):
            value = _mean(run, variant, metric)
            if value is None:
                continue
            lower = lower_is_better(metric)
            for base in others:
                limit = _mean(run, base, metric)
                if limit is None:
                    continue
                if (value >= limit) if lower else (value <= limit):
                    out.append(Finding("beats", variant, metric, value, limit, against=base))
    return out


def diff(run: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric both runs share: baseline, current, delta and whether it regressed."""
    rows = []
    tolerance = run.get("regression", {})
    for variant in run["variants"]:
        for metric in run.get("metrics", {}).get(variant, {}):
            now, then = _mean(run, variant, metric), _mean(baseline, variant, metric)
            if now is None or then is None:
                continue
            tol = float(tolerance.get(metric, tolerance.get("default", 0.02)))
            lower = lower_is_better(metric)
            if metric in _RELATIVE:  # tolerance is relative (0.5 = 50% slower)
                drop = (now - then) / then if then else 0.0
            else:  # a share or a count of breaches: absolute, also up from 0
                drop = now - then if lower else then - now
            rows.append(
                {
                    "variant": variant,
                    "metric": metric,
                    "baseline": then,
                    "current": now,
                    "delta": now - then,
                    "tolerance": tol,
                    "regressed": drop > tol + 1e-9,
                }
            )
    return rows


def compare(run: dict[str, Any], baseline: dict[str, Any]) -> list[Finding]:
    """Regressions of ``run`` against ``baseline``."""
    return [
        Finding(
            "regression", r["variant"], r["metric"], r["current"], r["tolerance"], r["baseline"]
        )
        for r in diff(run, baseline)
        if r["regressed"]
    ]


def apply_gate(
    run: dict[str, Any], baseline: dict[str, Any] | None, *, fail_on_regression: bool
) -> list[Finding]:
    """Record the diff and gate findings on ``run``; return what fails the gate.

    Threshold and ``beats`` failures always fail; regressions fail with
    ``fail_on_regression``.
    """
    findings = thresholds(run) + beats(run)
    if baseline is not None:
        run["baseline"] = baseline.get("run_id")
        run["diff"] = diff(run, baseline)
        if fail_on_regression:
            findings += compare(run, baseline)
    run["findings"] = [{**f.as_dict(), "text": str(f)} for f in findings]
    run["passed"] = not findings
    return findings
