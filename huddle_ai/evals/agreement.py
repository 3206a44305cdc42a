"""Agreement of a scorer with people's labels: ROC AUC and Cohen's κ with bootstrap CIs.

A :class:`Validation` is what a report shows beside a scorer: whose labels
it was checked on, how (a held-out split, cross-validation), n, AUC and κ
(at the scorer's 0.5 cut), each with a 95% percentile-bootstrap interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.stats import rankdata

from huddle_ai.evals.stats import cohen_kappa

__all__ = ["HEURISTIC", "Validation", "measure", "validation_note"]

HEURISTIC = "heuristic (not validated)"


class Validation(BaseModel):
    """How a scorer agreed with people on labels it was not fitted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: str
    method: str
    n: int
    auc: float | None
    auc_ci: tuple[float, float] | None = None
    kappa: float | None = None
    kappa_ci: tuple[float, float] | None = None
    positive_rate: float | None = None

    def row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _fast_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Rank-sum AUC (ties count half): the same figure as :func:`stats.auc`, in O(n log n)."""
    npos = int(y.sum())
    nneg = len(y) - npos
    if not npos or not nneg:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def _kappa(y: np.ndarray, p: np.ndarray) -> float:
    return cohen_kappa(list(y.astype(bool)), list(p.astype(bool)))


def measure(
    labels: Sequence[float],
    scores: Sequence[float],
    *,
    who: str,
    method: str,
    cut: float = 0.5,
    boot: int = 1000,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> Validation:
    """AUC and κ (scores >= ``cut`` count as yes) with 95% bootstrap intervals.

    With ``groups`` (one a label), the bootstrap resamples whole groups (items
    about the same work), since items of a group are not independent.
    """
    y = (np.asarray(labels, dtype=float) >= 0.5).astype(int)
    s = np.asarray(scores, dtype=float)
    n = len(y)
    a = _fast_auc(y, s) if n else math.nan
    pred = (s >= cut).astype(int)
    k = _kappa(y, pred) if n else math.nan
    rng = np.random.default_rng(seed)
    members: list[np.ndarray] = []
    if groups is not None:
        index: dict[str, list[int]] = {}
        for row, g in enumerate(groups):
            index.setdefault(g, []).append(row)
        members = [np.asarray(rows) for rows in index.values()]
    aucs, kappas = [], []
    for _ in range(boot if n >= 10 else 0):
        if members:
            idx = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        else:
            idx = rng.integers(0, n, n)
        ya = _fast_auc(y[idx], s[idx])
        if not math.isnan(ya):
            aucs.append(ya)
        kappas.append(_kappa(y[idx], pred[idx]))

    def ci(xs: list[float]) -> tuple[float, float] | None:
        if len(xs) < 20:
            return None
        lo, hi = np.percentile(xs, [2.5, 97.5])
        return (round(float(lo), 3), round(float(hi), 3))

    return Validation(
        labels=who,
        method=method,
        n=n,
        auc=None if math.isnan(a) else round(a, 3),
        auc_ci=ci(aucs),
        kappa=None if math.isnan(k) else round(k, 3),
        kappa_ci=ci(kappas),
        positive_rate=round(float(y.mean()), 3) if n else None,
    )


def validation_note(v: Validation | dict[str, Any] | None) -> str:
    """One line for a report: whose labels, n, AUC and κ -- or the heuristic mark."""
    if v is None:
        return HEURISTIC
    d = v.row() if isinstance(v, Validation) else v

    def f(x: Any, span: Any) -> str:
        if x is None:
            return "–"
        return f"{x:.2f}" + (f" [{span[0]:.2f}, {span[1]:.2f}]" if span else "")

    return (
        f"validated on {d['labels']} ({d['method']}): n={d['n']}, "
        f"AUC {f(d.get('auc'), d.get('auc_ci'))}, κ {f(d.get('kappa'), d.get('kappa_ci'))}"
    )
