"""Agreement statistics, implemented here so the runtime needs no scikit-learn.

Accuracy, macro-F1 and Cohen's κ compare two labelings; ROC AUC measures how
well a continuous score ranks binary labels (ties count half).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

__all__ = ["accuracy", "auc", "cohen_kappa", "macro_f1", "mean_std"]


def _check(a: Sequence[object], b: Sequence[object]) -> None:
    if len(a) != len(b):
        raise ValueError(f"label lists differ in length: {len(a)} vs {len(b)}")


def accuracy(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    _check(truth, pred)
    if not truth:
        return math.nan
    return sum(t == p for t, p in zip(truth, pred, strict=True)) / len(truth)


def macro_f1(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``truth`` or ``pred``."""
    _check(truth, pred)
    if not truth:
        return math.nan
    scores = []
    for c in dict.fromkeys([*truth, *pred]):
        tp = sum(t == c and p == c for t, p in zip(truth, pred, strict=True))
        fp = sum(t != c and p == c for t, p in zip(truth, pred, strict=True))
        fn = sum(t == c and p != c for t, p in zip(truth, pred, strict=True))
        denom = 2 * tp + fp + fn
        scores.append(2 * tp / denom if denom else 0.0)
    return sum(scores) / len(scores)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's κ; 1.0 when both raters agree on a single class throughout."""
    _check(a, b)
    n = len(a)
    if not n:
        return math.nan
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    classes = set(a) | set(b)
    pe = sum((list(a).count(c) / n) * (list(b).count(c) / n) for c in classes)
    if pe >= 1.0:
        return 1.0 if po == 1.0 else 0.0
    return (po - pe) / (1 - pe)


def auc(labels: Sequence[float], scores: Sequence[float]) -> float:
    """ROC AUC of ``scores`` for binary ``labels`` (>= 0.5 is positive); nan if one class."""
    _check(labels, scores)
    pos = [s for y, s in zip(labels, scores, strict=True) if y >= 0.5]
    neg = [s for y, s in zip(labels, scores, strict=True) if y < 0.5]
    if not pos or not neg:
        return math.nan
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (nan when none)."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan, math.nan
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
