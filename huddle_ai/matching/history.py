"""History: what the store knows about each learner, as arrays for affinity.

One pass over an organization's records builds, per learner, their history
items (solutions written and feedback given, with stored embeddings), their
rated feedback with the topic it was about, their rubric strengths, and the
recency-decayed contact between every two learners. Self-assessments count
for nothing here: they say nothing about peers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from huddle_ai.index.store import Store
from huddle_ai.matching.affinity import F32, F64, I64
from huddle_ai.records import AuthorRole, Feedback, Huddle, Learner, Solution, validate_org

__all__ = ["UNDATED_WEIGHT", "History", "HistoryItem", "load_history"]

# Pseudo-count pulling a learner's per-criterion strength toward 0.5.
_STRENGTH_PRIOR = 1.0
# The contact weight of an exchange with no time (neither its feedback nor its solution
# has created_at): neither recent (1) nor old (toward 0), one half-life old.
UNDATED_WEIGHT = 0.5


@dataclass(frozen=True)
class HistoryItem:
    owner: int
    kind: Literal["solution", "feedback"]
    record_id: str
    solution_id: str  # the solution written, or the one the feedback was on
    huddle_id: str
    helpfulness: float | None = None


@dataclass
class History:
    org: str
    learners: list[Learner]
    index: dict[str, int]
    huddles: dict[str, Huddle]
    solutions: dict[str, Solution]
    solution_vecs: dict[str, F32]
    feedback_on: dict[str, list[Feedback]]
    items: list[HistoryItem]
    item_vecs: F32
    item_owner: I64
    rated: list[int]  # indexes into items: feedback with a helpfulness rating
    topic_vecs: F32  # for each rated item: the reviewed solution's vector
    criteria: list[str]
    strength: F64  # learners x criteria
    contact: F64  # learners x learners
    contacts: dict[tuple[int, int], int] = field(default_factory=dict)
    undated: set[tuple[int, int]] = field(default_factory=set)  # pairs with an undated exchange

    @property
    def learner_ids(self) -> list[str]:
        return [lr.id for lr in self.learners]

    @property
    def teams(self) -> list[str]:
        return [lr.team for lr in self.learners]

    @property
    def ratings(self) -> F64:
        return np.array([self.items[i].helpfulness or 0.0 for i in self.rated], dtype=np.float64)

    @property
    def rated_owner(self) -> I64:
        return self.item_owner[self.rated] if self.rated else np.zeros(0, dtype=np.int64)

    def vectors(self, solution_ids: Sequence[str]) -> F32:
        dim = self.item_vecs.shape[1]
        if not solution_ids:
            return np.zeros((0, dim), dtype=np.float32)
        return np.vstack([self.solution_vecs[s] for s in solution_ids]).astype(np.float32)

    def owner_rows(self, solution_ids: Sequence[str]) -> I64:
        """Row of each solution's author in the learner pool, or -1."""
        return np.array(
            [self.index.get(self.solutions[s].learner_id, -1) for s in solution_ids], dtype=np.int64
        )

    def weakness(self, solution_ids: Sequence[str]) -> F64:
        """1 - mean rubric score per criterion from peers' feedback; 0.5 when unknown."""
        col = {c: j for j, c in enumerate(self.criteria)}
        out = np.full((len(solution_ids), len(self.criteria)), 0.5)
        for i, sid in enumerate(solution_ids):
            sums: dict[int, list[float]] = defaultdict(list)
            for fb in self.feedback_on.get(sid, []):
                if fb.rubric and fb.author_role != AuthorRole.SELF:
                    for cid, level in fb.rubric.items():
                        sums[col[cid]].append(level.score)
            for j, scores in sums.items():
                out[i, j] = 1.0 - float(np.mean(scores))
        return out


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def load_history(
    store: Store,
    org: str,
    *,
    now: datetime | None = None,
    half_life_days: float = 30.0,
    past_pairs: Iterable[tuple[str, str]] = (),
) -> History:
    """Read an organization once and build every learner's history."""
    validate_org(org)
    learners = sorted(
        (r for r in store.all(org, "learner") if isinstance(r, Learner)), key=lambda r: r.id
    )
    index = {lr.id: i for i, lr in enumerate(learners)}
    huddles = {r.id: r for r in store.all(org, "huddle") if isinstance(r, Huddle)}
    solutions = {r.id: r for r in store.all(org, "solution") if isinstance(r, Solution)}
    feedback = sorted(
        (r for r in store.all(org, "feedback") if isinstance(r, Feedback)), key=lambda r: r.id
    )
    sol_vecs = store.embeddings(org, "solution", sorted(solutions))
    fb_vecs = store.embeddings(org, "feedback", [f.id for f in feedback])
    dim = next(iter(sol_vecs.values())).shape[0] if sol_vecs else 1

    feedback_on: dict[str, list[Feedback]] = defaultdict(list)
    for fb in feedback:
        feedback_on[fb.solution_id].append(fb)

    items: list[HistoryItem] = []
    vecs: list[F32] = []
    for sid in sorted(solutions):
        sol = solutions[sid]
        if sol.learner_id in index and sid in sol_vecs:
            items.append(HistoryItem(index[sol.learner_id], "solution", sid, sid, sol.huddle_id))
            vecs.append(sol_vecs[sid])
    rated: list[int] = []
    topics: list[F32] = []
    for fb in feedback:
        reviewed = solutions.get(fb.solution_id)
        if fb.author_id not in index or fb.author_role == AuthorRole.SELF or fb.id not in fb_vecs:
            continue
        if reviewed is not None and reviewed.learner_id == fb.author_id:
            continue
        huddle_id = reviewed.huddle_id if reviewed is not None else ""
        owner = index[fb.author_id]
        items.append(
            HistoryItem(owner, "feedback", fb.id, fb.solution_id, huddle_id, fb.helpfulness)
        )
        vecs.append(fb_vecs[fb.id])
        if fb.helpfulness is not None:
            rated.append(len(items) - 1)
            topics.append(sol_vecs.get(fb.solution_id, fb_vecs[fb.id]))

    criteria = sorted(
        {c.id for h in huddles.values() for c in h.rubric}
        | {c for f in feedback if f.rubric for c in f.rubric}
    )
    strength = _strength(learners, index, solutions, feedback, criteria)
    contact, contacts, undated = _contact(
        index, solutions, feedback, now, half_life_days, past_pairs, len(learners)
    )
    return History(
        org=org,
        learners=learners,
        index=index,
        huddles=huddles,
        solutions=solutions,
        solution_vecs=sol_vecs,
        feedback_on=dict(feedback_on),
        items=items,
        item_vecs=np.vstack(vecs).astype(np.float32) if vecs else np.zeros((0, dim), np.float32),
        item_owner=np.array([it.owner for it in items], dtype=np.int64),
        rated=rated,
        topic_vecs=np.vstack(topics).astype(np.float32)
        if topics
        else np.zeros((0, dim), np.float32),
        criteria=criteria,
        strength=strength,
        contact=contact,
        contacts=contacts,
        undated=undated,
    )


def _strength(
    learners: list[Learner],
    index: dict[str, int],
    solutions: dict[str, Solution],
    feedback: list[Feedback],
    criteria: list[str],
) -> F64:
    """Share of ``met`` per learner and criterion, from peers' rubric levels on their work."""
    col = {c: j for j, c in enumerate(criteria)}
    total = np.zeros((len(learners), len(criteria)))
    count = np.zeros((len(learners), len(criteria)))
    for fb in feedback:
        sol = solutions.get(fb.solution_id)
        if not fb.rubric or sol is None or sol.learner_id not in index:
            continue
        if fb.author_role == AuthorRole.SELF:
            continue
        for cid, level in fb.rubric.items():
            total[index[sol.learner_id], col[cid]] += level.score
            count[index[sol.learner_id], col[cid]] += 1
    return (total + 0.5 * _STRENGTH_PRIOR) / (count + _STRENGTH_PRIOR)


def _contact(
    index: dict[str, int],
    solutions: dict[str, Solution],
    feedback: list[Feedback],
    now: datetime | None,
    half_life_days: float,
    past_pairs: Iterable[tuple[str, str]],
    n: int,
) -> tuple[F64, dict[tuple[int, int], int], set[tuple[int, int]]]:
    """Recency-decayed contact per pair: feedback either way, plus given past pairings.

    A feedback is dated by its ``created_at``, else its solution's. One with
    neither is neither recent nor old: it counts as one half-life old (weight
    0.5). A given past pairing counts as recent (weight 1). Returns the contact
    matrix, the exchanges per pair and the pairs with an undated exchange."""
    events: list[tuple[int, int, datetime | float]] = []  # a time, or a fixed weight
    undated: set[tuple[int, int]] = set()
    for fb in feedback:
        sol = solutions.get(fb.solution_id)
        if sol is None or fb.author_id not in index or sol.learner_id not in index:
            continue
        a, b = index[fb.author_id], index[sol.learner_id]
        if a != b:
            when = fb.created_at or sol.created_at
            if when is None:
                undated.add((min(a, b), max(a, b)))
            events.append((a, b, UNDATED_WEIGHT if when is None else when))
    for x, y in past_pairs:
        if x in index and y in index and x != y:
            events.append((index[x], index[y], 1.0))
    stamps = [_aware(t) for _, _, t in events if isinstance(t, datetime)]
    ref = _aware(now) if now is not None else (max(stamps) if stamps else datetime.now(UTC))
    contact = np.zeros((n, n))
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, ts in events:
        if half_life_days <= 0:
            decay = 1.0
        elif isinstance(ts, datetime):
            age = max((ref - _aware(ts)).total_seconds() / 86400.0, 0.0)
            decay = 0.5 ** (age / half_life_days)
        else:
            decay = ts
        contact[a, b] += decay
        contact[b, a] += decay
        counts[(min(a, b), max(a, b))] += 1
    return contact, dict(counts), undated
