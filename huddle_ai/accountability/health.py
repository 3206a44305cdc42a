"""Community health of an organization (or one cohort): who gives and
receives feedback (reciprocity), who is isolated, how long until a learner's
first feedback, how many commitments are kept; and partner suggestions for
the isolated.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from huddle_ai.accountability.features import CommitmentRow, EventRow
from huddle_ai.accountability.pairing import PairingSuggestion, pair_isolated
from huddle_ai.index.store import Store

__all__ = ["CommunityHealth", "community_health"]


@dataclass(frozen=True)
class CommunityHealth:
    learners: int
    feedback_pairs: int  # distinct giver -> receiver pairs
    reciprocity: float | None  # share of pairs answered in the other direction
    isolated: list[str]  # neither gave nor received feedback nor commented
    median_hours_to_first_feedback: float | None  # from first submission
    no_feedback_yet: list[str]  # submitted, received nothing
    commitment_completion_rate: float | None  # done (partly counts half) of closed
    commitments_closed: int
    pairing_suggestions: list[PairingSuggestion]  # a partner for each isolated learner
    # the partner matcher was asked for but did not pair every isolated learner
    pairing_degraded: bool = False
    pairing_degraded_reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["pairing_suggestions"] = [p.as_dict() for p in self.pairing_suggestions]
        return out


def community_health(
    org: str,
    learners: Sequence[str],
    events: Iterable[EventRow],
    commitments: Iterable[CommitmentRow],
    *,
    store: Store | None = None,
) -> CommunityHealth:
    """Health of ``learners``; with ``store`` the isolated are paired through the
    partner matcher (:mod:`~huddle_ai.accountability.pairing`), and
    ``pairing_degraded`` says when it could not pair them all."""
    members = set(learners)
    pairs: set[tuple[str, str]] = set()
    given: dict[str, int] = defaultdict(int)
    touched: set[str] = set()
    first_submit: dict[str, float] = {}
    first_feedback: dict[str, float] = {}
    for learner, kind, at, count, peer in events:
        ts = at.timestamp()
        if kind == "submitted" and learner in members:
            first_submit.setdefault(learner, ts)
        if kind in ("feedback_given", "commented") and peer and peer != learner:
            touched.update((learner, peer))
            if kind == "feedback_given":
                pairs.add((learner, peer))
                given[learner] += count
                first_feedback.setdefault(peer, ts)
    answered = sum(1 for a, b in pairs if (b, a) in pairs)
    waits = [
        (first_feedback[lid] - t) / 3600
        for lid, t in first_submit.items()
        if lid in first_feedback and first_feedback[lid] >= t
    ]
    waiting = sorted(lid for lid, t in first_submit.items() if first_feedback.get(lid, -1.0) < t)
    closed = [s for _, s, _ in commitments if s in ("done", "partly", "missed", "dropped")]
    kept = sum(1.0 if s == "done" else 0.5 if s == "partly" else 0.0 for s in closed)
    isolated = sorted(members - touched)
    connected = sorted(members & touched)
    suggestions, degraded = pair_isolated(org, isolated, connected, given, store=store)
    return CommunityHealth(
        learners=len(members),
        feedback_pairs=len(pairs),
        reciprocity=round(answered / len(pairs), 4) if pairs else None,
        isolated=isolated,
        median_hours_to_first_feedback=round(statistics.median(waits), 2) if waits else None,
        no_feedback_yet=waiting,
        commitment_completion_rate=round(kept / len(closed), 4) if closed else None,
        commitments_closed=len(closed),
        pairing_suggestions=suggestions,
        pairing_degraded=degraded is not None,
        pairing_degraded_reason=degraded,
    )
