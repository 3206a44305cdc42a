"""Peer-match recommendations over a store: review assignment, rolling picks,
partner groups and the affinity matrix behind them, each pair explained."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from huddle_ai.errors import InfeasibleError, InvalidInputError, NotFoundError
from huddle_ai.index.store import Store
from huddle_ai.matching.affinity import (
    Affinity,
    Weights,
    complementarity_scores,
    diversity_scores,
    expertise_scores,
    grouped_topm,
    helpfulness_scores,
    novelty_scores,
    squash,
    topm_similarity,
)
from huddle_ai.matching.explain import partner_reason, review_reason
from huddle_ai.matching.feasibility import Problem
from huddle_ai.matching.history import History, load_history
from huddle_ai.matching.partners import group
from huddle_ai.matching.solver import solve

__all__ = [
    "NextReviewers",
    "PartnerGroup",
    "PartnerMatching",
    "Review",
    "ReviewAssignment",
    "ReviewerPick",
    "affinity_scores",
    "match_partners",
    "match_reviewers",
    "next_reviewers",
    "partner_affinity",
    "reviewer_affinity",
]

Pairs = Iterable[tuple[str, str]]


class Review(BaseModel):
    reviewer_id: str
    solution_id: str
    score: float
    components: dict[str, float]
    reason: str


class ReviewAssignment(BaseModel):
    org: str
    huddle_id: str
    reviewers_per_solution: int
    min_load: int
    max_load: int
    fairness: bool
    objective: float
    min_solution_total: float
    optimal: bool
    method: str
    seconds: float
    reviews: list[Review]
    by_solution: dict[str, list[str]]
    loads: dict[str, int]


class ReviewerPick(BaseModel):
    reviewer_id: str
    score: float
    open_load: int
    components: dict[str, float]
    reason: str


class NextReviewers(BaseModel):
    org: str
    solution_id: str
    picks: list[ReviewerPick]
    at_capacity: list[str]
    note: str


class PartnerGroup(BaseModel):
    members: list[str]
    score: float
    reasons: dict[str, str]  # "a+b" -> reason


class PartnerMatching(BaseModel):
    org: str
    group_size: int
    groups: list[PartnerGroup]
    joined: dict[str, int]
    unmatched: list[str]
    objective: float
    optimal: bool
    method: str
    note: str


def _rows(history: History, ids: Sequence[str] | None, what: str = "learner") -> list[int]:
    if ids is None:
        return list(range(len(history.learners)))
    missing = [i for i in ids if i not in history.index]
    if missing:
        raise NotFoundError(
            f"{what}(s) {', '.join(missing[:5])} not found in organization {history.org!r}"
        )
    return [history.index[i] for i in dict.fromkeys(ids)]


def reviewer_affinity(
    history: History,
    learner_ids: Sequence[str] | None,
    solution_ids: Sequence[str],
    weights: Weights,
) -> Affinity:
    """Learners (as reviewers) x solutions, every component vectorised."""
    rows = _rows(history, learner_ids)
    missing = [s for s in solution_ids if s not in history.solutions]
    if missing:
        raise NotFoundError(f"solution(s) {', '.join(missing[:5])} not found in {history.org!r}")
    q = history.vectors(solution_ids)
    n = len(history.learners)
    comps = {
        "expertise": expertise_scores(q, history.item_vecs, history.item_owner, n),
        "helpfulness": helpfulness_scores(
            q, history.topic_vecs, history.rated_owner, history.ratings, n
        ),
        "complementarity": complementarity_scores(history.strength, history.weakness(solution_ids)),
        "diversity": diversity_scores(
            history.teams,
            [history.learners[o].team if o >= 0 else "" for o in history.owner_rows(solution_ids)],
        ),
        "novelty": novelty_scores(history.contact, history.owner_rows(solution_ids)),
    }
    ids = history.learner_ids
    return Affinity(
        [ids[r] for r in rows], list(solution_ids), {k: v[rows] for k, v in comps.items()}, weights
    )


def partner_affinity(
    history: History, learner_ids: Sequence[str] | None, weights: Weights
) -> Affinity:
    """Learners x learners (symmetric): shared topics, helpfulness, complementary strengths."""
    rows = _rows(history, learner_ids)
    n = len(history.learners)
    # best matches between two histories: top-m over b's items of a's top-m similarity
    per_item, _ = topm_similarity(history.item_vecs, history.item_vecs, history.item_owner, n)
    raw = grouped_topm(per_item, history.item_owner, n)
    raw = np.where(np.isnan(raw), np.nan, (raw + raw.T) / 2)
    helpful = helpfulness_scores(
        np.zeros((1, history.item_vecs.shape[1]), np.float32),
        history.topic_vecs,
        history.rated_owner,
        history.ratings,
        n,
        tau=1e6,  # topic-blind: partners have no target solution
    )[:, 0]
    g = history.strength
    gap = np.abs(g[:, None, :] - g[None, :, :]).mean(axis=2) if g.shape[1] else np.zeros((n, n))
    comps = {
        "expertise": np.nan_to_num(squash(raw), nan=0.0),
        "helpfulness": (helpful[:, None] + helpful[None, :]) / 2,
        "complementarity": np.clip(0.5 + gap, 0.0, 1.0),
        "diversity": diversity_scores(history.teams, history.teams),
        "novelty": novelty_scores(history.contact, np.arange(n, dtype=np.int64)),
    }
    ids = [history.learner_ids[r] for r in rows]
    return Affinity(ids, ids, {k: v[np.ix_(rows, rows)] for k, v in comps.items()}, weights)


def _avoid(history: History, pairs: Pairs) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for a, b in pairs:
        out |= {(a, b), (b, a)}
    return out


def _huddle_solutions(history: History, huddle_id: str) -> list[str]:
    if huddle_id not in history.huddles:
        raise NotFoundError(f"huddle {huddle_id!r} not found in organization {history.org!r}")
    ids = sorted(s.id for s in history.solutions.values() if s.huddle_id == huddle_id)
    if not ids:
        raise InvalidInputError(f"huddle {huddle_id!r} has no solutions to review")
    return ids


def _comps(aff: Affinity, i: int, j: int) -> dict[str, float]:
    return {n: round(float(m[i, j]), 4) for n, m in aff.components.items()}


def _allowed(
    history: History, aff: Affinity, same_team_conflict: bool, avoid: set[tuple[str, str]]
) -> NDArray[np.bool_]:
    owners = [history.solutions[s].learner_id for s in aff.target_ids]
    owner_team = [
        history.learners[history.index[o]].team if o in history.index else "" for o in owners
    ]
    rev = np.array(aff.learner_ids, dtype=object)
    allowed = rev[:, None] != np.array(owners, dtype=object)[None, :]
    if same_team_conflict:
        teams = np.array([history.learners[history.index[r]].team for r in aff.learner_ids], object)
        ot = np.array(owner_team, dtype=object)
        allowed &= ~((teams[:, None] == ot[None, :]) & (teams[:, None] != ""))
    rows = {r: i for i, r in enumerate(aff.learner_ids)}
    cols: dict[str, list[int]] = {}
    for j, (o, s) in enumerate(zip(owners, aff.target_ids, strict=True)):
        cols.setdefault(o, []).append(j)
        cols.setdefault(s, []).append(j)
    for r, other in avoid:  # only the listed pairs are visited, never all pairs
        if r in rows and other in cols:
            allowed[rows[r], cols[other]] = False
    return np.asarray(allowed, dtype=bool)


def match_reviewers(
    store: Store,
    org: str,
    huddle_id: str,
    *,
    k: int = 3,
    min_load: int = 0,
    max_load: int = 3,
    reviewers: Sequence[str] | None = None,
    weights: Weights | None = None,
    same_team_conflict: bool = False,
    do_not_pair: Pairs = (),
    forced: Pairs = (),
    fairness: bool = False,
    floor: float | None = None,
    now: datetime | None = None,
    half_life_days: float = 30.0,
    time_limit: float = 60.0,
) -> ReviewAssignment:
    """Exactly ``k`` reviewers per solution of a huddle, maximising total affinity."""
    weights = weights or Weights()
    history = load_history(store, org, now=now, half_life_days=half_life_days)
    aff = reviewer_affinity(history, reviewers, _huddle_solutions(history, huddle_id), weights)
    allowed = _allowed(history, aff, same_team_conflict, _avoid(history, do_not_pair))
    force = np.zeros_like(allowed)
    r_pos = {r: i for i, r in enumerate(aff.learner_ids)}
    s_pos = {s: j for j, s in enumerate(aff.target_ids)}
    for r, s in forced:
        if r not in r_pos or s not in s_pos:
            raise InvalidInputError(
                f"forced pair {r} -> {s}: {'reviewer' if r not in r_pos else 'solution'} "
                f"{r if r not in r_pos else s!r} is not in this assignment"
            )
        force[r_pos[r], s_pos[s]] = True
    total = aff.total
    problem = Problem.build(
        total, k, min_load, max_load, allowed, force, aff.learner_ids, aff.target_ids
    )
    result = solve(problem, fairness=fairness, floor=floor, time_limit=time_limit)
    reviews = [
        Review(
            reviewer_id=aff.learner_ids[i],
            solution_id=aff.target_ids[j],
            score=round(float(total[i, j]), 4),
            components=_comps(aff, i, j),
            reason=review_reason(
                history,
                history.index[aff.learner_ids[i]],
                aff.target_ids[j],
                _comps(aff, i, j),
                weights,
            ),
        )
        for i, j in result.pairs
    ]
    by_solution: dict[str, list[str]] = {s: [] for s in aff.target_ids}
    loads = dict.fromkeys(aff.learner_ids, 0)
    # each solution's reviewers best first (the solver returns pairs in index order)
    for rv in sorted(reviews, key=lambda r: (-r.score, r.reviewer_id)):
        by_solution[rv.solution_id].append(rv.reviewer_id)
        loads[rv.reviewer_id] += 1
    return ReviewAssignment(
        org=org,
        huddle_id=huddle_id,
        reviewers_per_solution=k,
        min_load=min_load,
        max_load=max_load,
        fairness=fairness or floor is not None,
        objective=round(result.objective, 6),
        min_solution_total=round(result.floor, 6),
        optimal=result.optimal,
        method=result.method,
        seconds=round(result.seconds, 4),
        reviews=reviews,
        by_solution=by_solution,
        loads=loads,
    )


def next_reviewers(
    store: Store,
    org: str,
    solution_id: str,
    *,
    n: int = 1,
    open_loads: Mapping[str, int] | None = None,
    max_load: int = 3,
    reviewers: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    weights: Weights | None = None,
    same_team_conflict: bool = False,
    do_not_pair: Pairs = (),
    balance: float = 0.1,
    now: datetime | None = None,
    half_life_days: float = 30.0,
) -> NextReviewers:
    """Who should review this solution now, given reviewers' open loads."""
    if n < 1:
        raise InvalidInputError(f"n must be at least 1, got {n}")
    weights = weights or Weights()
    loads = dict(open_loads or {})
    history = load_history(store, org, now=now, half_life_days=half_life_days)
    if solution_id not in history.solutions:
        raise NotFoundError(f"solution {solution_id!r} not found in organization {org!r}")
    aff = reviewer_affinity(history, reviewers, [solution_id], weights)
    allowed = _allowed(history, aff, same_team_conflict, _avoid(history, do_not_pair))[:, 0]
    allowed &= ~np.isin(np.array(aff.learner_ids, dtype=object), list(exclude))
    load = np.array([loads.get(r, 0) for r in aff.learner_ids])
    full = allowed & (load >= max_load)
    free = allowed & ~full
    if not free.any():
        raise InfeasibleError(
            f"no reviewer can take solution {solution_id} now: {int(full.sum())} eligible "
            f"reviewers are at max load {max_load}, {int((~allowed).sum())} are its author, "
            "already reviewing it or in conflict"
        )
    total = aff.total[:, 0]
    # rank by affinity, nudged toward lighter open loads so work spreads out
    rank = np.where(free, total - balance * load / max_load, -np.inf)
    order = [int(i) for i in np.argsort(-rank, kind="stable")[: min(n, int(free.sum()))]]
    picks = [
        ReviewerPick(
            reviewer_id=aff.learner_ids[i],
            score=round(float(total[i]), 4),
            open_load=int(load[i]),
            components=_comps(aff, i, 0),
            reason=review_reason(
                history, history.index[aff.learner_ids[i]], solution_id, _comps(aff, i, 0), weights
            ),
        )
        for i in order
    ]
    note = "" if len(picks) == n else f"only {len(picks)} eligible reviewers have room (asked {n})"
    at_cap = [aff.learner_ids[i] for i in np.flatnonzero(full)]
    return NextReviewers(
        org=org, solution_id=solution_id, picks=picks, at_capacity=at_cap, note=note
    )


_STAFF = frozenset({"facilitator", "teacher", "instructor", "coach", "mentor", "admin", "staff"})


def match_partners(
    store: Store,
    org: str,
    *,
    learners: Sequence[str] | None = None,
    huddle_id: str | None = None,
    group_size: int = 2,
    weights: Weights | None = None,
    same_team_conflict: bool = False,
    do_not_pair: Pairs = (),
    past_pairs: Pairs = (),
    avoid_repeats: bool = True,
    now: datetime | None = None,
    half_life_days: float = 30.0,
) -> PartnerMatching:
    """Partner pairs (or groups) maximising affinity, avoiding repeats and conflicts."""
    weights = weights or Weights()
    past = list(past_pairs)
    history = load_history(store, org, now=now, half_life_days=half_life_days, past_pairs=past)
    if learners is None:
        # partners are for learners: facilitators and other staff are not paired unless named
        pool = set(history.index)
        if huddle_id is not None:
            _huddle_solutions(history, huddle_id)
            pool &= {s.learner_id for s in history.solutions.values() if s.huddle_id == huddle_id}
        learners = sorted(
            lid for lid in pool if history.learners[history.index[lid]].role.lower() not in _STAFF
        )
    aff = partner_affinity(history, learners, weights)
    ids = aff.learner_ids
    if len(ids) < group_size:
        raise InfeasibleError(f"{len(ids)} learners cannot form a group of {group_size}")
    allowed = ~np.eye(len(ids), dtype=bool)
    if same_team_conflict:
        teams = np.array([history.learners[history.index[i]].team for i in ids], dtype=object)
        allowed &= ~((teams[:, None] == teams[None, :]) & (teams[:, None] != ""))
    banned = _avoid(history, [*do_not_pair, *(past if avoid_repeats else [])])
    pos = {x: a for a, x in enumerate(ids)}
    for u, v in banned:
        if u in pos and v in pos:
            allowed[pos[u], pos[v]] = False
    total = aff.total
    result = group(total, allowed, group_size)
    groups = []
    for members in result.groups:
        reasons = {}
        for x, a in enumerate(members):
            for b in members[x + 1 :]:
                reasons[f"{ids[a]}+{ids[b]}"] = partner_reason(
                    history,
                    history.index[ids[a]],
                    history.index[ids[b]],
                    _comps(aff, a, b),
                    weights,
                    huddle_id,
                )
        score = float(sum(total[a, b] for x, a in enumerate(members) for b in members[x + 1 :]))
        groups.append(
            PartnerGroup(members=[ids[m] for m in members], score=round(score, 4), reasons=reasons)
        )
    notes = [
        f"{ids[i]} is the odd one out and joins group {g + 1} as an extra member"
        for i, g in result.joined.items()
    ]
    notes += [
        f"{ids[i]} has no allowed partner left (conflicts or past pairings)"
        for i in result.unmatched
    ]
    return PartnerMatching(
        org=org,
        group_size=group_size,
        groups=groups,
        joined={ids[i]: g for i, g in result.joined.items()},
        unmatched=[ids[i] for i in result.unmatched],
        objective=round(result.objective, 6),
        optimal=result.optimal,
        method=result.method,
        note="; ".join(notes),
    )


def affinity_scores(
    store: Store,
    org: str,
    *,
    huddle_id: str | None = None,
    learners: Sequence[str] | None = None,
    solutions: Sequence[str] | None = None,
    weights: Weights | None = None,
    now: datetime | None = None,
    half_life_days: float = 30.0,
) -> Affinity:
    """The learner x solution affinity matrix the review assignment optimises."""
    history = load_history(store, org, now=now, half_life_days=half_life_days)
    if solutions is None:
        solutions = (
            _huddle_solutions(history, huddle_id)
            if huddle_id is not None
            else sorted(history.solutions)
        )
    return reviewer_affinity(history, learners, list(solutions), weights or Weights())
