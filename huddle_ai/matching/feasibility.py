"""Why a review assignment is infeasible, in words and numbers.

:func:`precheck` runs the cheap counting checks before any solver;
:func:`diagnose` runs after a solver found no assignment and names the
binding constraint with a max-flow min cut (Hall's condition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import InfeasibleError, InvalidInputError

__all__ = ["Problem", "diagnose", "precheck"]


@dataclass(frozen=True)
class Problem:
    """A review assignment: reviewers (rows) x solutions (columns)."""

    scores: NDArray[np.float64]
    k: int
    min_load: NDArray[np.int64]
    max_load: NDArray[np.int64]
    allowed: NDArray[np.bool_]
    forced: NDArray[np.bool_]
    reviewers: list[str]
    solutions: list[str]

    @classmethod
    def build(
        cls,
        scores: NDArray[np.float64],
        k: int,
        min_load: int = 0,
        max_load: int = 3,
        allowed: NDArray[np.bool_] | None = None,
        forced: NDArray[np.bool_] | None = None,
        reviewers: list[str] | None = None,
        solutions: list[str] | None = None,
    ) -> Problem:
        r, s = scores.shape
        if k < 1:
            raise InvalidInputError(f"reviewers per solution must be at least 1, got {k}")
        if min_load < 0 or max_load < 1 or min_load > max_load:
            raise InvalidInputError(
                f"loads must satisfy 0 <= min ({min_load}) <= max ({max_load}) and max >= 1"
            )
        if not np.all(np.isfinite(scores)):
            raise InvalidInputError("affinity scores must be finite numbers")
        return cls(
            scores=np.asarray(scores, dtype=np.float64),
            k=k,
            min_load=np.full(r, min_load, dtype=np.int64),
            max_load=np.full(r, max_load, dtype=np.int64),
            allowed=np.ones((r, s), bool) if allowed is None else np.asarray(allowed, bool),
            forced=np.zeros((r, s), bool) if forced is None else np.asarray(forced, bool),
            reviewers=reviewers or [f"r{i}" for i in range(r)],
            solutions=solutions or [f"s{j}" for j in range(s)],
        )


def _names(names: list[str], idx: NDArray[np.int64], limit: int = 5) -> str:
    shown = ", ".join(names[i] for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def precheck(p: Problem) -> None:
    """Raise :class:`InfeasibleError` when counting alone shows no assignment exists."""
    n_r, n_s = p.scores.shape
    if n_s == 0:
        return
    bad = np.argwhere(p.forced & ~p.allowed)
    if len(bad):
        r, s = bad[0]
        raise InfeasibleError(
            f"forced pair {p.reviewers[r]} -> {p.solutions[s]} breaks a hard constraint "
            "(own solution, same team or do-not-pair)"
        )
    forced_s = p.forced.sum(axis=0)
    over = np.flatnonzero(forced_s > p.k)
    if len(over):
        j = over[0]
        raise InfeasibleError(
            f"solution {p.solutions[j]} has {forced_s[j]} forced reviewers, "
            f"but each solution gets exactly {p.k}"
        )
    forced_r = p.forced.sum(axis=1)
    over = np.flatnonzero(forced_r > p.max_load)
    if len(over):
        i = over[0]
        raise InfeasibleError(
            f"reviewer {p.reviewers[i]} has {forced_r[i]} forced reviews, "
            f"but the max load is {p.max_load[i]}"
        )
    eligible = p.allowed.sum(axis=0)
    short = np.flatnonzero(eligible < p.k)
    if len(short):
        j = short[0]
        more = f" (and {len(short) - 1} more solutions)" if len(short) > 1 else ""
        raise InfeasibleError(
            f"solution {p.solutions[j]} has only {eligible[j]} eligible reviewers after "
            f"conflicts, needs {p.k}{more}"
        )
    need = p.k * n_s
    per_r = p.allowed.sum(axis=1)
    active = per_r > 0
    cap = int(np.minimum(p.max_load, per_r)[active].sum())
    if cap < need:
        maxes = np.unique(p.max_load[active])
        each = f"max {maxes[0]}" if len(maxes) == 1 else "their max loads"
        plain = int(p.max_load[active].sum())
        detail = "" if plain == cap else f" (only {cap} counting each one's eligible solutions)"
        raise InfeasibleError(
            f"{n_s} solutions × {p.k} reviewers need {need} reviews, but "
            f"{int(active.sum())} eligible reviewers × {each} = {plain}{detail}"
        )
    low = np.flatnonzero(per_r < p.min_load)
    if len(low):
        i = low[0]
        raise InfeasibleError(
            f"reviewer {p.reviewers[i]} has only {per_r[i]} eligible solutions after conflicts, "
            f"but the min load is {p.min_load[i]}"
        )
    floor = int(p.min_load.sum())
    if floor > need:
        mins = np.unique(p.min_load)
        each = f"min {mins[0]}" if len(mins) == 1 else "their min loads"
        raise InfeasibleError(
            f"{n_r} reviewers × {each} need at least {floor} reviews, but "
            f"{n_s} solutions × {p.k} reviewers = {need}"
        )


def diagnose(p: Problem) -> str:
    """Name a binding set of solutions (or reviewers) once counting checks passed."""
    from ortools.graph.python import max_flow

    n_r, n_s = p.scores.shape
    rr, ss = np.nonzero(p.allowed & ~p.forced)
    demand = p.k - p.forced.sum(axis=0)
    room = p.max_load - p.forced.sum(axis=1)
    for side in ("solutions", "reviewers"):
        src, sink = n_r + n_s, n_r + n_s + 1
        flow = max_flow.SimpleMaxFlow()
        first_cap = room if side == "solutions" else np.maximum(p.min_load - p.forced.sum(1), 0)
        flow.add_arcs_with_capacity(
            np.concatenate([np.full(n_r, src), rr, n_r + np.arange(n_s)]),
            np.concatenate([np.arange(n_r), n_r + ss, np.full(n_s, sink)]),
            np.concatenate([first_cap, np.ones(len(rr), np.int64), demand]).astype(np.int64),
        )
        flow.solve(src, sink)
        wanted = int(demand.sum() if side == "solutions" else first_cap.sum())
        if flow.optimal_flow() >= wanted:
            continue
        source_side = np.array(flow.get_source_side_min_cut(), dtype=np.int64)
        in_a = np.zeros(n_r + n_s + 2, bool)
        in_a[source_side] = True
        first = flow.flows(np.arange(n_r, dtype=np.int64))
        last = flow.flows(np.arange(n_r + len(rr), n_r + len(rr) + n_s, dtype=np.int64))
        if side == "solutions":
            sols = np.flatnonzero(~in_a[n_r : n_r + n_s])
            revs = np.flatnonzero(p.allowed[:, sols].any(axis=1))
            return (
                f"solutions {_names(p.solutions, sols)} ({len(sols)} solutions) need "
                f"{int(demand[sols].sum())} more reviews, but the {len(revs)} reviewers eligible "
                f"for them ({_names(p.reviewers, revs)}) can give them at most "
                f"{int(last[sols].sum())} within their max loads"
            )
        revs = np.flatnonzero(in_a[:n_r] & (first_cap > 0))
        sols = np.flatnonzero(p.allowed[revs].any(axis=0))
        return (
            f"reviewers {_names(p.reviewers, revs)} ({len(revs)} reviewers) need "
            f"{int(first_cap[revs].sum())} more reviews to reach their min load, but the "
            f"{len(sols)} solutions they may review can take only {int(first[revs].sum())} "
            "of them"
        )
    return (
        f"min loads ({int(p.min_load.sum())} reviews in all) and max loads cannot both be met "
        f"with exactly {p.k} reviewers on each of {n_s} solutions"
    )
