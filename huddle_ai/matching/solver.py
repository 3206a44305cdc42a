"""Exact review assignment: k reviewers per solution, loads in [min, max].

The maximum-total assignment is a transportation LP whose constraint matrix
is totally unimodular, so its basic optima are integral. It is solved by
column generation: HiGHS (dual simplex) on each solution's and each
reviewer's best few candidate pairs, then every left-out pair is priced with
the LP duals, violators are added, and the LP is solved again until no pair
can improve it. The final duals certify optimality over *all* pairs, so the
result is exact while the LP stays small (about 10 arcs per node instead of
R x S). Artificial columns with a large cost keep every restricted LP
feasible; if they stay in use, the problem is infeasible and
:func:`~huddle_ai.matching.feasibility.diagnose` names why.

:func:`min_cost_flow` (OR-Tools, integer-scaled) is the plain baseline and the
fallback. The fairness floor (max-min solution total, then max total under
it) is a MILP (HiGHS) with a time limit: max-min is NP-hard in general.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from huddle_ai.errors import InfeasibleError
from huddle_ai.matching.feasibility import Problem, diagnose, precheck

__all__ = ["Assignment", "min_cost_flow", "solve"]

I64 = NDArray[np.int64]
_TOL = 1e-7
_MAX_ROUNDS = 30
_EXACT_MILP_CELLS = 40_000  # fairness MILP over every pair up to this size


@dataclass(frozen=True)
class Assignment:
    """Chosen (reviewer, solution) index pairs and how they were found."""

    pairs: I64  # (n, 2): reviewer row, solution column
    objective: float
    floor: float  # the lowest solution total
    optimal: bool
    method: str
    rounds: int
    arcs: int
    seconds: float


def _candidates(p: Problem, per_node: int) -> NDArray[np.bool_]:
    """Each solution's and each reviewer's best ``per_node`` allowed pairs, plus forced ones."""
    n_r, n_s = p.scores.shape
    masked = np.where(p.allowed, p.scores, -np.inf).astype(np.float32)
    cand = p.forced.copy()
    t = min(per_node + p.k, n_r)
    if t >= n_r:
        cand |= p.allowed
    else:
        top = np.argpartition(-masked, t - 1, axis=0)[:t]
        cand[top, np.arange(n_s)[None, :]] = True
    t = min(per_node + int(p.max_load.max()), n_s)
    if t >= n_s:
        cand |= p.allowed
    else:
        top = np.argpartition(-masked, t - 1, axis=1)[:, :t]
        cand[np.arange(n_r)[:, None], top] = True
    return cand & p.allowed


def _lp(p: Problem, rr: I64, ss: I64, big: float) -> tuple[NDArray[np.float64], ...]:
    n_r, n_s = p.scores.shape
    m = len(rr)
    mins = np.flatnonzero(p.min_load > 0)
    n_min = len(mins)
    cols = np.arange(m)
    c = np.concatenate([-p.scores[rr, ss], np.full(n_s + n_min, big)])
    a_eq = sparse.csr_matrix(
        (
            np.ones(m + n_s),
            (np.concatenate([ss, np.arange(n_s)]), np.concatenate([cols, m + np.arange(n_s)])),
        ),
        shape=(n_s, m + n_s + n_min),
    )
    pos = np.full(n_r, -1)
    pos[mins] = np.arange(n_min)
    in_min = pos[rr] >= 0
    a_ub = sparse.csr_matrix(
        (
            np.concatenate([np.ones(m), -np.ones(int(in_min.sum())), -np.ones(n_min)]),
            (
                np.concatenate([rr, n_r + pos[rr][in_min], n_r + np.arange(n_min)]),
                np.concatenate([cols, cols[in_min], m + n_s + np.arange(n_min)]),
            ),
        ),
        shape=(n_r + n_min, m + n_s + n_min),
    )
    lower = np.concatenate([p.forced[rr, ss].astype(np.float64), np.zeros(n_s + n_min)])
    upper = np.concatenate([np.ones(m), np.full(n_s, float(p.k)), p.min_load[mins].astype(float)])
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.concatenate([p.max_load, -p.min_load[mins]]).astype(np.float64),
        A_eq=a_eq,
        b_eq=np.full(n_s, float(p.k)),
        bounds=np.column_stack([lower, upper]),
        method="highs-ds",
    )
    if res.status != 0:
        raise InfeasibleError(f"the assignment LP failed: {res.message}")
    y_max = np.asarray(res.ineqlin.marginals[:n_r], dtype=np.float64)
    y_min = np.zeros(n_r)
    y_min[mins] = res.ineqlin.marginals[n_r:]
    return np.asarray(res.x, dtype=np.float64), y_max, y_min, np.asarray(res.eqlin.marginals)


def solve(
    p: Problem,
    *,
    fairness: bool = False,
    floor: float | None = None,
    time_limit: float = 60.0,
    per_node: int = 16,
) -> Assignment:
    """The assignment of maximum total score (after the fairness floor, if asked)."""
    start = time.perf_counter()
    precheck(p)
    if p.scores.shape[1] == 0:
        return Assignment(np.zeros((0, 2), np.int64), 0.0, 0.0, True, "empty", 0, 0, 0.0)
    if fairness or floor is not None:
        return _fair(p, fairness, floor, time_limit, start)
    cand = _candidates(p, per_node)
    big = 2.0 * (sum(p.scores.shape) + 2) * (float(np.abs(p.scores).max()) + 1.0)
    rounds = 0
    while True:
        rounds += 1
        rr, ss = (a.astype(np.int64) for a in np.nonzero(cand))
        x, y_max, y_min, y_eq = _lp(p, rr, ss, big)
        reduced = -p.scores - y_max[:, None] + y_min[:, None] - y_eq[None, :]
        better = (reduced < -_TOL) & p.allowed & ~cand
        if not better.any():
            break
        if rounds >= _MAX_ROUNDS:  # pathological duals: solve every pair exactly instead
            return _finish(
                p, *_flow_pairs(p, p.allowed), "min-cost flow (all pairs)", rounds, start
            )
        cand |= better
    if x[len(rr) :].sum() > 0.5:
        raise InfeasibleError(diagnose(p))
    chosen = x[: len(rr)]
    if np.abs(chosen - np.round(chosen)).max(initial=0.0) > 1e-6:
        # a fractional vertex cannot happen for a TU matrix; guard numerically anyway
        return _finish(p, *_flow_pairs(p, cand), "min-cost flow (candidates)", rounds, start)
    keep = chosen > 0.5
    pairs = np.column_stack([rr[keep], ss[keep]])
    return _finish(p, pairs, len(rr), "LP column generation (HiGHS)", rounds, start)


def _finish(
    p: Problem, pairs: I64, arcs: int, method: str, rounds: int, start: float, optimal: bool = True
) -> Assignment:
    pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))] if len(pairs) else pairs
    totals = np.bincount(pairs[:, 1], p.scores[pairs[:, 0], pairs[:, 1]], p.scores.shape[1])
    return Assignment(
        pairs=pairs.astype(np.int64),
        objective=float(totals.sum()),
        floor=float(totals.min()) if len(totals) else 0.0,
        optimal=optimal,
        method=method,
        rounds=rounds,
        arcs=arcs,
        seconds=time.perf_counter() - start,
    )


def _flow_pairs(p: Problem, arcs: NDArray[np.bool_]) -> tuple[I64, int]:
    from ortools.graph.python import min_cost_flow as mcf

    n_r, n_s = p.scores.shape
    free = arcs & ~p.forced
    rr, ss = (a.astype(np.int64) for a in np.nonzero(free))
    demand = p.k - p.forced.sum(axis=0)
    lo = np.maximum(p.min_load - p.forced.sum(axis=1), 0)
    hi = p.max_load - p.forced.sum(axis=1)
    slack = n_r + n_s
    scale = 1e6 / max(float(np.abs(p.scores).max()), 1e-12)
    net = mcf.SimpleMinCostFlow()
    net.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(n_r, slack), rr]),
        np.concatenate([np.arange(n_r), n_r + ss]),
        np.concatenate([hi - lo, np.ones(len(rr), np.int64)]).astype(np.int64),
        np.concatenate([np.zeros(n_r), -np.rint(p.scores[rr, ss] * scale)]).astype(np.int64),
    )
    supply = np.concatenate([lo, -demand, [demand.sum() - lo.sum()]]).astype(np.int64)
    net.set_nodes_supplies(np.arange(n_r + n_s + 1, dtype=np.int64), supply)
    if supply[-1] < 0 or net.solve() != net.OPTIMAL:
        raise InfeasibleError(diagnose(p))
    used = net.flows(np.arange(n_r, n_r + len(rr), dtype=np.int64)) > 0
    pairs = np.vstack([np.column_stack([rr[used], ss[used]]), np.argwhere(p.forced)])
    return pairs.astype(np.int64), len(rr)


def min_cost_flow(p: Problem) -> Assignment:
    """Plain OR-Tools min-cost flow over every allowed pair (the baseline)."""
    start = time.perf_counter()
    precheck(p)
    pairs, arcs = _flow_pairs(p, p.allowed)
    return _finish(p, pairs, arcs, "min-cost flow (all pairs)", 1, start)


def _fair(
    p: Problem, fairness: bool, floor: float | None, time_limit: float, start: float
) -> Assignment:
    n_r, n_s = p.scores.shape
    exact = n_r * n_s <= _EXACT_MILP_CELLS
    cand = p.allowed if exact else _candidates(p, 3 * p.k + 10)
    rr, ss = (a.astype(np.int64) for a in np.nonzero(cand))
    m = len(rr)
    cols = np.arange(m)
    a = p.scores[rr, ss]
    # rows: solutions (= k), reviewers (min..max), solution totals (>= floor, via t)
    rows = sparse.vstack(
        [
            sparse.csr_matrix((np.ones(m), (ss, cols)), shape=(n_s, m + 1)),
            sparse.csr_matrix((np.ones(m), (rr, cols)), shape=(n_r, m + 1)),
            sparse.csr_matrix(
                (
                    np.concatenate([a, -np.ones(n_s)]),
                    (np.concatenate([ss, np.arange(n_s)]), np.concatenate([cols, np.full(n_s, m)])),
                ),
                shape=(n_s, m + 1),
            ),
        ]
    ).tocsr()
    lb = np.concatenate([np.full(n_s, p.k), p.min_load, np.zeros(n_s)]).astype(np.float64)
    ub = np.concatenate([np.full(n_s, p.k), p.max_load, np.full(n_s, np.inf)]).astype(np.float64)
    integrality = np.concatenate([np.ones(m), [0]])
    lo_x = np.concatenate([p.forced[rr, ss].astype(np.float64), [-np.inf]])
    opts = {"time_limit": max(time_limit / 2, 1.0), "mip_rel_gap": 0.0}
    optimal = exact
    best_floor = -np.inf
    if fairness:
        res = milp(
            np.concatenate([np.zeros(m), [-1.0]]),
            integrality=integrality,
            bounds=Bounds(lo_x, np.concatenate([np.ones(m), [np.inf]])),
            constraints=LinearConstraint(rows, lb, ub),
            options=opts,
        )
        if res.x is None:
            raise InfeasibleError(diagnose(p))
        optimal = optimal and res.status == 0
        best_floor = float(res.x[-1])
    target = best_floor if floor is None else float(floor)
    fixed_t = target - 1e-7 * max(1.0, abs(target))
    res = milp(
        np.concatenate([-a, [0.0]]),
        integrality=integrality,
        bounds=Bounds(
            np.concatenate([lo_x[:-1], [fixed_t]]), np.concatenate([np.ones(m), [fixed_t]])
        ),
        constraints=LinearConstraint(rows, lb, ub),
        options=opts,
    )
    if res.x is None:
        if floor is not None and not fairness:
            best = _fair(p, True, None, time_limit, start).floor
            raise InfeasibleError(
                f"no assignment gives every solution a total affinity of at least {floor:.3f}; "
                f"the best possible floor is {best:.3f}"
            )
        raise InfeasibleError(diagnose(p))
    optimal = optimal and res.status == 0
    keep = res.x[:m] > 0.5
    pairs = np.column_stack([rr[keep], ss[keep]])
    method = "MILP max-min then max-total (HiGHS)" if fairness else "MILP with floor (HiGHS)"
    if not exact:
        method += f", best {3 * p.k + 10} candidates per solution"
    return _finish(p, pairs, m, method, 2 if fairness else 1, start, optimal=optimal)
