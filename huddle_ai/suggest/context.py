"""Context building: what a generator may see and cite.

:func:`build_context` gathers the huddle's goal and rubric, the most similar
past solutions of the same organization and their most helpful feedback, and
packs them under a token budget, dropping the least valuable items first. The
goal and rubric are never dropped: a budget that cannot hold them is an error.

Besides the citable items, the context carries the huddle's *labelled history*
(past solutions of the same huddle with the assessment their feedback gave
them). It is not sent to any model; the offline generator calibrates itself on
it. A stored solution never sees itself or its own feedback, in either part.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from huddle_ai.errors import InvalidInputError
from huddle_ai.index.embeddings import Embedder
from huddle_ai.index.store import Store
from huddle_ai.records import AuthorRole, Feedback, Huddle, Learner, Level, Solution
from huddle_ai.suggest.retrieval import Neighbor, feedback_for, similar
from huddle_ai.suggest.tokens import count_tokens_batch

__all__ = [
    "ContextCache",
    "ContextItem",
    "FeedbackContext",
    "HuddleHistory",
    "LabelledSolution",
    "build_context",
    "label_of",
]

Meta = dict[str, str | float | int | None]

# Facilitator feedback is the organization's most trusted signal.
FACILITATOR_WEIGHT = 1.5
_PROTECTED = ("goal", "criterion")
# the sort key of a solution without created_at (it ranks after every dated one)
_NO_TIME = datetime.min.replace(tzinfo=UTC)


class ContextItem(BaseModel):
    """One citable piece of context. ``id`` is what outputs cite."""

    id: str = Field(description="Citation id, e.g. 'criterion:c1', 'solution:s12', 'feedback:f7'.")
    kind: Literal["goal", "criterion", "solution", "feedback"]
    text: str
    record_id: str | None = None
    value: float = Field(0.0, description="How valuable the item is; the least valuable go first.")
    tokens: int = 0
    meta: dict[str, str | float | int | None] = Field(default_factory=dict)


class LabelledSolution(BaseModel):
    """A past solution of the same huddle and the judgement its feedback gave it."""

    id: str
    text: str
    assessment: Level | None = None
    rubric: dict[str, Level] = Field(default_factory=dict)
    weight: float = Field(1.0, description="Trust in the label (facilitator labels weigh more).")
    feedback: str | None = Field(
        None, description="The text of the feedback the label came from (not citable)."
    )
    vector: list[float] | None = Field(
        None, exclude=True, description="The stored embedding of the text, when known."
    )


class HuddleHistory(BaseModel):
    """Another huddle of the organization with its labelled past solutions."""

    huddle: Huddle
    history: list[LabelledSolution]


class FeedbackContext(BaseModel):
    """Everything a generator gets for one suggestion."""

    org: str
    huddle: Huddle
    solution_text: str
    solution_id: str | None = None
    learner_id: str | None = None
    learner_name: str | None = None
    items: list[ContextItem]
    token_budget: int
    tokens: int = 0
    dropped: int = 0
    history: list[LabelledSolution] = Field(
        default_factory=list,
        description="Labelled past solutions of the huddle (not citable, not sent to a model).",
    )
    other_names: list[str] = Field(
        default_factory=list,
        description="Display names of the org's other learners (never to appear in output).",
    )
    org_history: list[HuddleHistory] = Field(
        default_factory=list,
        description="The organization's other huddles with their labelled history, read when "
        "this huddle has too little history of its own (not citable, not sent to a model).",
    )

    def item_ids(self) -> set[str]:
        return {i.id for i in self.items}


def _ranked(feedback: list[Feedback]) -> list[Feedback]:
    """A facilitator's labelled feedback first, then the most helpful."""
    return sorted(
        feedback,
        key=lambda f: (
            f.author_role != AuthorRole.FACILITATOR,
            f.assessment is None and not f.rubric,
            -(f.helpfulness if f.helpfulness is not None else 0.5),
            f.id,
        ),
    )


def label_of(feedback: list[Feedback]) -> tuple[Level | None, dict[str, Level], float]:
    """The overall level, rubric levels and label weight that feedback gives a solution.

    A facilitator's judgement wins; otherwise the most helpful labelled feedback.
    """
    ranked = _ranked(feedback)
    assessment: Level | None = None
    rubric: dict[str, Level] = {}
    weight = 0.0
    for fb in ranked:
        w = FACILITATOR_WEIGHT if fb.author_role == AuthorRole.FACILITATOR else 1.0
        if assessment is None and fb.assessment is not None:
            assessment, weight = fb.assessment, max(weight, w)
        for cid, level in (fb.rubric or {}).items():
            if cid not in rubric:
                rubric[cid] = level
                weight = max(weight, w)
    if assessment is None and rubric:
        mean = sum(v.score for v in rubric.values()) / len(rubric)
        assessment = Level.from_score(mean)
    return assessment, rubric, weight or 1.0


def _level_meta(assessment: Level | None, rubric: dict[str, Level]) -> Meta:
    meta: Meta = {"assessment": assessment.value if assessment else None}
    for cid, level in sorted(rubric.items()):
        meta[f"level:{cid}"] = level.value
    return meta


def _feedback_value(fb: Feedback, similarity: float) -> float:
    help_ = fb.helpfulness if fb.helpfulness is not None else 0.5
    endorse = FACILITATOR_WEIGHT if fb.author_role == AuthorRole.FACILITATOR else 1.0
    return round(max(similarity, 0.0) * (0.5 + help_) * endorse, 6)


def _huddle_items(huddle: Huddle) -> list[ContextItem]:
    items = [
        ContextItem(
            id="goal",
            kind="goal",
            text=f"{huddle.title}: {huddle.prompt}\nGoal: {huddle.goal}",
            record_id=huddle.id,
            value=float("inf"),
        )
    ]
    for c in huddle.rubric:
        text = f"{c.name}: {c.description}"
        if c.exemplar:
            text += f"\nExemplar: {c.exemplar}"
        items.append(
            ContextItem(
                id=f"criterion:{c.id}",
                kind="criterion",
                text=text,
                record_id=c.id,
                value=float("inf"),
                meta={"name": c.name},
            )
        )
    return items


def _neighbour_items(neighbors: list[Neighbor], per_solution: int) -> list[ContextItem]:
    items: list[ContextItem] = []
    for nb in neighbors:
        sim = float(nb.score)
        assessment, rubric, _ = label_of(nb.feedback)
        levels = _level_meta(assessment, rubric)
        items.append(
            ContextItem(
                id=f"solution:{nb.solution.id}",
                kind="solution",
                text=nb.solution.text,
                record_id=nb.solution.id,
                value=round(max(sim, 0.0) * (0.9 if nb.same_huddle else 0.45), 6),
                meta={
                    "similarity": sim,
                    "same_huddle": int(nb.same_huddle),
                    "huddle_id": nb.solution.huddle_id,
                    **levels,
                },
            )
        )
        for fb in nb.feedback[:per_solution]:
            own = _level_meta(fb.assessment, dict(fb.rubric or {}))
            items.append(
                ContextItem(
                    id=f"feedback:{fb.id}",
                    kind="feedback",
                    text=fb.text,
                    record_id=fb.id,
                    value=_feedback_value(fb, sim) * (1.0 if nb.same_huddle else 0.5),
                    meta={
                        "similarity": sim,
                        "same_huddle": int(nb.same_huddle),
                        "helpfulness": fb.helpfulness,
                        "author_role": fb.author_role.value,
                        "solution_id": nb.solution.id,
                        # the parent solution's consensus label, then this feedback's own
                        "parent_assessment": assessment.value if assessment else None,
                        **own,
                    },
                )
            )
    return items


def _pack(items: list[ContextItem], budget: int) -> tuple[list[ContextItem], int, int]:
    """Keep items within ``budget`` tokens, dropping the least valuable first."""
    counts = count_tokens_batch([i.text for i in items])
    items = [i.model_copy(update={"tokens": n}) for i, n in zip(items, counts, strict=True)]
    fixed = [i for i in items if i.kind in _PROTECTED]
    fixed_tokens = sum(i.tokens for i in fixed)
    if fixed_tokens > budget:
        raise InvalidInputError(
            f"token_budget {budget} cannot hold the huddle goal and rubric "
            f"({fixed_tokens} tokens); raise token_budget"
        )
    rest = sorted(
        (i for i in items if i.kind not in _PROTECTED), key=lambda i: (-i.value, i.kind, i.id)
    )
    total = fixed_tokens + sum(i.tokens for i in rest)
    dropped = 0
    while rest and total > budget:
        total -= rest.pop().tokens
        dropped += 1
    kept = {i.id for i in rest}
    # keep the retrieval order (goal, criteria, neighbours by similarity) for readers
    return [i for i in items if i.kind in _PROTECTED or i.id in kept], total, dropped


class ContextCache:
    """Per-organization reads that only writes change: learners and labelled histories.

    Entries are valid while the organization's store generation is unchanged;
    the store renews it on every write (ingest, deletion, reindex), in any
    process, so a cached history is never stale. One cache per engine.
    """

    def __init__(self, max_orgs: int = 64) -> None:
        self._orgs: dict[str, tuple[str, dict[str, object]]] = {}
        self.max_orgs = max_orgs

    def scope(self, store: Store, org: str) -> dict[str, object]:
        generation = store.generation(org)
        hit = self._orgs.get(org)
        if hit is None or hit[0] != generation:
            if len(self._orgs) >= self.max_orgs:
                self._orgs.pop(next(iter(self._orgs)))
            hit = (generation, {})
            self._orgs[org] = hit
        return hit[1]


def _history(
    store: Store,
    org: str,
    huddle_id: str,
    exclude: str | None,
    limit: int,
    memo: dict[str, object] | None = None,
) -> list[LabelledSolution]:
    """The huddle's labelled past solutions: the most recent ``limit``, without ``exclude``.

    Most recent by ``created_at``; solutions without one rank after the dated
    ones, the last stored first (their age is unknown, so they give way first)."""
    key = f"history:{huddle_id}:{limit}"
    full = memo.get(key) if memo is not None else None
    if full is None:
        full = _recent_history(store, org, huddle_id, limit + 1)
        if memo is not None:
            memo[key] = full
    assert isinstance(full, list)
    kept = [h for _, h in full if h.id != exclude][:limit]
    return sorted(kept, key=lambda h: h.id)


def _recent_history(
    store: Store, org: str, huddle_id: str, limit: int
) -> list[tuple[object, LabelledSolution]]:
    # Only the most recently stored `limit` solutions are read in full: a big
    # huddle holds thousands, and parsing them all dominated context building.
    ids = store.ids(org, "solution", {"huddle_id": huddle_id})[-limit:]
    found = store.get(org, "solution", ids)
    stored = {sid: n for n, sid in enumerate(ids)}

    def newest_first(s: Solution) -> tuple[bool, datetime, int, str]:
        # dated newest first, then the undated ones, the last stored first
        if s.created_at is None:
            return (False, _NO_TIME, stored.get(s.id, -1), s.id)
        return (True, s.created_at, 0, s.id)

    sols = [s for s in found.values() if isinstance(s, Solution)]
    sols.sort(key=newest_first, reverse=True)
    sols = sols[:limit]
    fb = feedback_for(store, org, [s.id for s in sols])
    labelled = []
    for s in sorted(sols, key=lambda s: s.id):
        assessment, rubric, weight = label_of(fb.get(s.id, []))
        if assessment is not None or rubric:
            labelled.append((s, assessment, rubric, weight))
    # the stored vectors spare a generator from re-embedding the whole history
    vectors = store.embeddings(org, "solution", [s.id for s, *_ in labelled])
    out: list[tuple[object, LabelledSolution]] = []
    for s, assessment, rubric, weight in sorted(
        labelled, key=lambda x: newest_first(x[0]), reverse=True
    ):
        vec = vectors.get(s.id)
        first = _ranked(fb.get(s.id, []))[0]
        out.append(
            (
                s.created_at,
                LabelledSolution(
                    id=s.id,
                    text=s.text,
                    assessment=assessment,
                    rubric=rubric,
                    weight=weight,
                    feedback=first.text,
                    vector=None if vec is None else vec.tolist(),
                ),
            )
        )
    return out


def _org_history(
    store: Store,
    org: str,
    huddle_id: str,
    exclude: str | None,
    limit: int,
    memo: dict[str, object] | None,
) -> list[HuddleHistory]:
    huddles = memo.get("huddles") if memo is not None else None
    if huddles is None:
        huddles = [h for h in store.all(org, "huddle") if isinstance(h, Huddle)]
        if memo is not None:
            memo["huddles"] = huddles
    assert isinstance(huddles, list)
    out = []
    for h in huddles:
        if h.id != huddle_id:
            hist = _history(store, org, h.id, exclude, limit, memo)
            if hist:
                out.append(HuddleHistory(huddle=h, history=hist))
    return out


def _learners(store: Store, org: str, memo: dict[str, object] | None) -> list[Learner]:
    got = memo.get("learners") if memo is not None else None
    if got is None:
        got = [r for r in store.all(org, "learner") if isinstance(r, Learner)]
        if memo is not None:
            memo["learners"] = got
    assert isinstance(got, list)
    return got


def build_context(
    store: Store,
    embedder: Embedder,
    org: str,
    *,
    solution_id: str | None = None,
    text: str | None = None,
    huddle_id: str | None = None,
    k: int = 5,
    token_budget: int = 1800,
    feedback_per_solution: int = 2,
    history_limit: int = 300,
    org_history_below: int = 40,
    org_history_limit: int = 100,
    cache: ContextCache | None = None,
) -> FeedbackContext:
    """The context for a suggestion on stored ``solution_id`` or new ``text`` for ``huddle_id``."""
    if token_budget < 1:
        raise InvalidInputError(f"token_budget must be positive, got {token_budget}")
    result = similar(
        store, embedder, org, solution_id=solution_id, text=text, huddle_id=huddle_id, k=k
    )
    learner_id: str | None = None
    if solution_id is not None:
        sol = store.get(org, "solution", [solution_id]).get(solution_id)
        assert isinstance(sol, Solution)  # similar() raised NotFoundError otherwise
        text, learner_id = sol.text, sol.learner_id
        huddle = store.get(org, "huddle", [sol.huddle_id]).get(sol.huddle_id)
    else:
        huddle = result.huddle
    if not isinstance(huddle, Huddle):
        raise InvalidInputError("a suggestion on new text needs the huddle id (huddle_id)")
    memo = cache.scope(store, org) if cache is not None else None
    learners = _learners(store, org, memo)
    learner_name = next((r.display_name for r in learners if r.id == learner_id), None)
    other_names = sorted({r.display_name for r in learners if r.id != learner_id})

    items = _huddle_items(huddle) + _neighbour_items(result.neighbors, feedback_per_solution)
    kept, tokens, dropped = _pack(items, token_budget)
    history = _history(store, org, huddle.id, solution_id, history_limit, memo)
    # a huddle with little history of its own learns from the organization's other huddles
    org_history = (
        _org_history(store, org, huddle.id, solution_id, org_history_limit, memo)
        if len(history) < org_history_below
        else []
    )
    return FeedbackContext(
        org=org,
        huddle=huddle,
        solution_text=text or "",
        solution_id=solution_id,
        learner_id=learner_id,
        learner_name=learner_name,
        items=kept,
        token_budget=token_budget,
        tokens=tokens,
        dropped=dropped,
        history=history,
        other_names=other_names,
        org_history=org_history,
    )
