"""Per-learner activity features as of a moment: what the risk model and the
heuristic see, and the words that explain them.

Inputs are plain rows (events, commitments), so the same code serves the
database, the synthetic cohorts and tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

__all__ = ["FEATURES", "CommitmentRow", "LearnerFeatures", "compute_features", "matrix"]

FEATURES = (
    "days_since_last_activity",
    "active_days_14",
    "active_days_total",
    "events_last_7",
    "events_prev_7",
    "missed_commitments",
    "done_commitments",
    "feedback_received",
    "feedback_given",
    "total_activity",
)
_CAP_DAYS = 60.0

# (learner, status, due_at)
CommitmentRow = tuple[str, str, datetime]
# (learner, type, at, count, peer)
EventRow = tuple[str, str, datetime, int, str | None]


@dataclass(frozen=True)
class LearnerFeatures:
    learner_id: str
    values: dict[str, float]

    def vector(self) -> list[float]:
        return [self.values[f] for f in FEATURES]


def compute_features(
    learners: Sequence[str],
    events: Iterable[EventRow],
    commitments: Iterable[CommitmentRow],
    *,
    now: datetime,
    start: dict[str, datetime] | None = None,
) -> list[LearnerFeatures]:
    """Features of each learner from what happened up to ``now`` (later rows
    are ignored, so a past cutoff never sees the future)."""
    wanted = set(learners)
    last: dict[str, datetime] = {}
    days: dict[str, set[int]] = defaultdict(set)
    total: dict[str, float] = defaultdict(float)
    last7: dict[str, float] = defaultdict(float)
    prev7: dict[str, float] = defaultdict(float)
    received: dict[str, float] = defaultdict(float)
    given: dict[str, float] = defaultdict(float)
    w7, w14 = now - timedelta(days=7), now - timedelta(days=14)
    epoch = now.toordinal()
    for learner, kind, at, count, peer in events:
        if at > now:
            continue
        if kind == "feedback_given" and peer in wanted:
            received[peer] += count
        if learner not in wanted:
            continue
        if learner not in last or at > last[learner]:
            last[learner] = at
        days[learner].add(at.toordinal())
        total[learner] += count
        if at > w7:
            last7[learner] += count
        elif at > w14:
            prev7[learner] += count
        if kind == "feedback_given":
            given[learner] += count
    missed: dict[str, float] = defaultdict(float)
    done: dict[str, float] = defaultdict(float)
    for learner, status, due_at in commitments:
        if learner not in wanted or due_at > now:
            continue
        if status == "missed" or status == "open":  # an open commitment past due is missed
            missed[learner] += 1
        elif status in ("done", "partly"):
            done[learner] += 1
    out = []
    for learner in learners:
        seen = last.get(learner) or (start or {}).get(learner)
        since = _CAP_DAYS if seen is None else min(_CAP_DAYS, (now - seen).total_seconds() / 86400)
        values = {
            "days_since_last_activity": round(max(0.0, since), 2),
            "active_days_14": float(sum(1 for d in days[learner] if epoch - d < 14)),
            "active_days_total": float(len(days[learner])),
            "events_last_7": last7[learner],
            "events_prev_7": prev7[learner],
            "missed_commitments": missed[learner],
            "done_commitments": done[learner],
            "feedback_received": received[learner],
            "feedback_given": given[learner],
            "total_activity": total[learner],
        }
        out.append(LearnerFeatures(learner, values))
    return out


def matrix(features: Sequence[LearnerFeatures]) -> NDArray[np.float64]:
    """The model's input: log-scaled counts (heavy-tailed), in :data:`FEATURES` order."""
    x = np.array([f.vector() for f in features], dtype=np.float64).reshape(-1, len(FEATURES))
    return np.log1p(x)
