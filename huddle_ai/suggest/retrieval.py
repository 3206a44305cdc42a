"""Retrieval: the k most similar past solutions of one organization.

Same-huddle neighbours come first, then others. Each neighbour carries its
feedback, most helpful first, and the huddle's rubric comes along. A stored
solution never retrieves itself or its own feedback.

The search is one plain (unfiltered) Chroma query with some head-room; a
filtered same-huddle query runs only when that head-room did not hold enough
same-huddle neighbours, because filtered queries are an order of magnitude
slower at scale.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel

from huddle_ai.errors import InvalidInputError, NotFoundError
from huddle_ai.index.embeddings import Embedder
from huddle_ai.index.store import Hit, Store
from huddle_ai.records import Feedback, Huddle, Solution

__all__ = ["Neighbor", "SimilarResult", "similar"]


class Neighbor(BaseModel):
    solution: Solution
    score: float
    same_huddle: bool
    feedback: list[Feedback]


class SimilarResult(BaseModel):
    org: str
    huddle: Huddle | None
    solution_id: str | None
    neighbors: list[Neighbor]


def _helpfulness_key(fb: Feedback) -> tuple[float, int, str]:
    facilitator = 1 if fb.author_role.value == "facilitator" else 0
    return (-(fb.helpfulness if fb.helpfulness is not None else -1.0), -facilitator, fb.id)


def feedback_for(store: Store, org: str, solution_ids: list[str]) -> dict[str, list[Feedback]]:
    """Feedback on each solution, most helpful first (one metadata look-up)."""
    out: dict[str, list[Feedback]] = defaultdict(list)
    if not solution_ids:
        return out
    for rec in store.find(org, "feedback", {"solution_id": {"$in": solution_ids}}):
        assert isinstance(rec, Feedback)
        out[rec.solution_id].append(rec)
    for items in out.values():
        items.sort(key=_helpfulness_key)
    return out


def similar(
    store: Store,
    embedder: Embedder,
    org: str,
    *,
    solution_id: str | None = None,
    text: str | None = None,
    huddle_id: str | None = None,
    k: int = 5,
) -> SimilarResult:
    """Neighbours of a stored solution (``solution_id``) or of new ``text`` for ``huddle_id``."""
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    exclude: str | None = None
    if solution_id is not None:
        found = store.get(org, "solution", [solution_id]).get(solution_id)
        if found is None:
            raise NotFoundError(f"solution {solution_id!r} not found in organization {org!r}")
        assert isinstance(found, Solution)
        text, huddle_id, exclude = found.text, found.huddle_id, found.id
    elif not text or not text.strip():
        raise InvalidInputError("give a stored solution id or non-empty text")
    huddle = None
    if huddle_id is not None:
        got = store.get(org, "huddle", [huddle_id]).get(huddle_id)
        if got is None:
            raise NotFoundError(f"huddle {huddle_id!r} not found in organization {org!r}")
        assert isinstance(got, Huddle)
        huddle = got

    # a stored solution already has its vector (same embedder, the store checks): no re-encode
    stored = store.embeddings(org, "solution", [exclude]).get(exclude) if exclude else None
    vector = stored[None, :] if stored is not None else embedder.embed([text or ""])
    hits = _search(store, org, vector, k, huddle_id, exclude)
    fb = feedback_for(store, org, [h.record.id for h in hits])
    neighbors = [
        Neighbor(
            solution=h.record,
            score=round(h.score, 6),
            same_huddle=huddle_id is not None and h.record.huddle_id == huddle_id,
            feedback=fb.get(h.record.id, []),
        )
        for h in hits
        if isinstance(h.record, Solution)
    ]
    return SimilarResult(org=org, huddle=huddle, solution_id=solution_id, neighbors=neighbors)


def _search(
    store: Store, org: str, vector: object, k: int, huddle_id: str | None, exclude: str | None
) -> list[Hit]:
    import numpy as np

    vec = np.asarray(vector, dtype=np.float32)
    room = max(4 * k, k + 10)
    hits = [h for h in store.query(org, "solution", vec, room + 1)[0] if h.record.id != exclude]
    if huddle_id is None:
        return hits[:k]
    same = [h for h in hits if getattr(h.record, "huddle_id", None) == huddle_id]
    if len(same) < k and len(hits) >= room:
        # the head-room ran out before k same-huddle neighbours: ask the huddle directly
        extra = store.query(org, "solution", vec, k + 1, where={"huddle_id": huddle_id})[0]
        seen = {h.record.id for h in same}
        same += [h for h in extra if h.record.id != exclude and h.record.id not in seen]
        same.sort(key=lambda h: -h.score)
    others = [h for h in hits if getattr(h.record, "huddle_id", None) != huddle_id]
    return (same[:k] + others)[:k]
