"""Assessment: how well a solution covers a criterion's checklist, and threshold fitting.

A criterion's checklist (see ``generators.grounded.criterion_checklist``) is a
list of key points. Each key point is scored against the solution by the best
embedding similarity of any solution clause plus the share of its content words
the solution uses. A criterion's coverage is the mean of its key-point scores.

Words, stems and content words come from :mod:`huddle_ai.text` (``content_words``
and ``stem`` are re-exported here). Coverage maps to a level through two
thresholds: :data:`DEFAULT_THRESHOLDS` without labels, :func:`fit_thresholds`
to fit them on labelled scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from huddle_ai.records import Level
from huddle_ai.text import content_tokens, content_words, stem

__all__ = [
    "DEFAULT_THRESHOLDS",
    "PointScore",
    "Thresholds",
    "content_words",
    "fit_thresholds",
    "key_points",
    "level_for",
    "point_scores",
    "section_owners",
    "split_units",
    "stem",
]

Vectors = NDArray[np.float32]

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
_SENT = re.compile(r"(?<=[.!?])\s+|;\s*|\s+-\s+")
_CLAUSE = re.compile(r",\s*|\s+(?:whereas|while|because|which|so that|but)\s+")
_POINT_CLAUSE = re.compile(r",\s*(?:and\s+)?|\s+whereas\s+")
_CONTINUATION = frozenset(("which", "that", "who", "so", "and", "or", "but", "then", "thus"))
_LABEL = re.compile(r"^\s*key points?\s*:\s*", re.IGNORECASE)


def _pieces(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        for piece in _SENT.split(_BULLET.sub("", line)):
            piece = piece.strip(" ,.;:-\u2022*")
            if piece:
                out.append(piece)
    return out


def split_units(text: str) -> list[str]:
    """Sentences of a solution plus their clauses: the spans key points are matched to."""
    units: list[str] = []
    for sent in _pieces(text):
        units.append(sent)
        clauses = [c.strip() for c in _CLAUSE.split(sent) if c and c.strip()]
        if len(clauses) > 1:
            units.extend(c for c in clauses if len(content_words(c)) >= 2)
    seen: set[str] = set()
    return [u for u in units if not (u in seen or seen.add(u))]  # type: ignore[func-returns-value]


_HEADING = re.compile(r"^\s*([A-Za-z][\w&/ '-]{0,40}?)\s*:\s+\S")


def section_owners(units: Sequence[str], names: Sequence[str]) -> list[set[int] | None]:
    """Per unit, the criteria (indices into ``names``) its section heading names, or None.

    Learners often write under the rubric's own headings ("Method: …", "Limitation:
    …"). A unit under a heading whose words are those of one or more criterion names
    belongs to those criteria: it is no evidence for the others. A clause inherits the
    heading of the sentence it was cut from; a unit with no heading, or a heading that
    names no criterion, belongs to every criterion (None).
    """
    name_words = [content_words(n) for n in names]
    heading: dict[str, set[int]] = {}
    for u in units:
        m = _HEADING.match(u)
        if m is None:
            continue
        words = content_words(m.group(1))
        owners = {i for i, nw in enumerate(name_words) if words & nw}
        if words and owners:
            heading[u] = owners
    out: list[set[int] | None] = []
    for u in units:
        own = heading.get(u)
        if own is None:
            # a clause of a headed sentence (split_units lists sentences before clauses)
            own = next((o for s, o in heading.items() if u in s and u != s), None)
        out.append(own)
    return out


def key_points(text: str) -> list[str]:
    """Split an exemplar into key points: list items, sentences, then long clauses."""
    points: list[str] = []
    for sent in _pieces(text):
        parts = [c.strip() for c in _POINT_CLAUSE.split(_LABEL.sub("", sent)) if c and c.strip()]
        merged: list[str] = []
        for part in parts:
            # a clause with fewer than three content words is not a point of its own
            first = part.split()[0].lower()
            if merged and (len(content_words(part)) < 3 or first in _CONTINUATION):
                merged[-1] = f"{merged[-1]}, {part}"
            else:
                merged.append(part)
        if merged and len(content_words(merged[0])) < 3 and len(merged) > 1:
            merged[1] = f"{merged[0]}, {merged[1]}"
            merged = merged[1:]
        points.extend(m for m in merged if content_words(m))
    return points or ([text.strip()] if text.strip() else [])


@dataclass(frozen=True)
class PointScore:
    point: str
    score: float
    similarity: float
    overlap: float
    evidence: str | None
    missing_words: tuple[str, ...]


def point_scores(
    points: Sequence[str],
    point_vecs: Vectors,
    units: Sequence[str],
    unit_vecs: Vectors,
    solution_words: set[str],
) -> list[PointScore]:
    """Score each key point: best clause similarity (60 %) and content-word overlap (40 %)."""
    out: list[PointScore] = []
    sims = point_vecs @ unit_vecs.T if len(units) else np.zeros((len(points), 0), np.float32)
    for i, point in enumerate(points):
        words = content_words(point)
        if sims.shape[1]:
            j = int(np.argmax(sims[i]))
            sim, evidence = float(sims[i, j]), units[j]
        else:
            sim, evidence = 0.0, None
        overlap = len(words & solution_words) / len(words) if words else 0.0
        emb = min(max((sim - 0.3) / 0.45, 0.0), 1.0)
        score = round(0.6 * emb + 0.4 * overlap, 4)
        missing = tuple(sorted(_surface(point, words - solution_words)))
        out.append(PointScore(point, score, round(sim, 4), round(overlap, 4), evidence, missing))
    return out


def _surface(text: str, stems: set[str]) -> list[str]:
    """The words of ``text`` whose stems are in ``stems`` (as written, first use)."""
    found: dict[str, str] = {}
    for w in content_tokens(text):
        s = stem(w)
        if s in stems and s not in found:
            found[s] = w
    return list(found.values())


@dataclass(frozen=True)
class Thresholds:
    """``score < partial`` is not met, ``score < met`` is partial, else met."""

    partial: float
    met: float
    accuracy: float | None = None

    def level(self, score: float) -> Level:
        return level_for(score, self)


DEFAULT_THRESHOLDS = Thresholds(partial=0.32, met=0.6)


def level_for(score: float, t: Thresholds) -> Level:
    return Level.from_score(score, partial=t.partial, met=t.met)


def fit_thresholds(
    scores: Sequence[float], labels: Sequence[Level], weights: Sequence[float] | None = None
) -> Thresholds:
    """The two thresholds that best reproduce ``labels`` from ``scores`` (weighted accuracy).

    Exhaustive over the gaps between distinct scores, O(n log n).
    """
    n = len(scores)
    if n == 0:
        return DEFAULT_THRESHOLDS
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    s = np.asarray(scores, dtype=float)[order]
    lab = [labels[i] for i in order]
    ws = w[order]
    # prefix sums of weight per class: counts[c][i] = weight of class c among the first i
    counts = {
        lv: np.concatenate(
            [[0.0], np.cumsum([x if y == lv else 0.0 for x, y in zip(ws, lab, strict=True)])]
        )
        for lv in Level
    }
    cuts = [0] + [i for i in range(1, n) if s[i] > s[i - 1]] + [n]
    a = np.array([counts[Level.NOT_MET][i] - counts[Level.PARTIAL][i] for i in cuts])
    b = np.array([counts[Level.PARTIAL][j] - counts[Level.MET][j] for j in cuts])
    total_met = counts[Level.MET][n]
    best, best_i, best_j = -1.0, 0, 0
    run_max, run_arg = -np.inf, 0
    for jj in range(len(cuts)):
        if a[jj] > run_max:
            run_max, run_arg = a[jj], jj
        value = run_max + b[jj] + total_met
        if value > best + 1e-9:
            best, best_i, best_j = value, run_arg, jj

    def cut_value(idx: int) -> float:
        c = cuts[idx]
        if c == 0:
            return float(s[0]) - 1.0
        if c == n:
            return float(s[-1]) + 1.0
        return float((s[c - 1] + s[c]) / 2)

    return Thresholds(cut_value(best_i), cut_value(best_j), round(best / float(w.sum()), 4))
