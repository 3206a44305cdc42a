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
    "active_days_7",
    "last_commitment_missed",
    "days_to_first_feedback",
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
    first_received: dict[str, datetime] = {}
    given: dict[str, float] = defaultdict(float)
    w7, w14 = now - timedelta(days=7), now - timedelta(days=14)
    epoch = now.toordinal()
    for learner, kind, at, count, peer in events:
        if at > now:
            continue
        if kind == "feedback_given" and peer in wanted:
            received[peer] += count
            if peer not in first_received or at < first_received[peer]:
                first_received[peer] = at
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
    latest: dict[str, tuple[datetime, bool]] = {}  # the last commitment due: was it missed?
    for learner, status, due_at in commitments:
        if learner not in wanted or due_at > now:
            continue
        lapsed = status in ("missed", "open")  # an open commitment past due is missed
        if lapsed:
            missed[learner] += 1
        elif status in ("done", "partly"):
            done[learner] += 1
        if learner not in latest or due_at >= latest[learner][0]:
            latest[learner] = (due_at, lapsed)
    out = []
    for learner in learners:
        seen = last.get(learner) or (start or {}).get(learner)
        since = _CAP_DAYS if seen is None else min(_CAP_DAYS, (now - seen).total_seconds() / 86400)
        # from enrollment (else first activity) to the first feedback received; capped when none
        began = (start or {}).get(learner) or (min(days[learner]) if days[learner] else None)
        first = first_received.get(learner)
        if isinstance(began, int):
            began = datetime.fromordinal(began).replace(tzinfo=now.tzinfo)
        wait = _CAP_DAYS
        if first is not None and began is not None:
            wait = min(_CAP_DAYS, max(0.0, (first - began).total_seconds() / 86400))
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
            "active_days_7": float(sum(1 for d in days[learner] if epoch - d < 7)),
            "last_commitment_missed": float(latest[learner][1]) if learner in latest else 0.0,
            "days_to_first_feedback": round(wait, 2),
        }
        out.append(LearnerFeatures(learner, values))
    return out


def matrix(features: Sequence[LearnerFeatures]) -> NDArray[np.float64]:
    """The model's input: log-scaled counts (heavy-tailed), in :data:`FEATURES` order."""
    x = np.array([f.vector() for f in features], dtype=np.float64).reshape(-1, len(FEATURES))
    return np.log1p(x)
