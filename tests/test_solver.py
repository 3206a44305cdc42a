"""Exact review assignment and partner grouping against brute force and an independent LP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from huddle_ai.errors import InfeasibleError, InvalidInputError
from huddle_ai.matching import Assignment, Problem, group, min_cost_flow, solve
from huddle_ai.matching.partners import Grouping


def check(p: Problem, a: Assignment) -> None:
    """Every constraint, checked on the returned pairs."""
    n_r, n_s = p.scores.shape
    pairs = [tuple(x) for x in a.pairs.tolist()]
    assert len(set(pairs)) == len(pairs), "a reviewer twice on one solution"
    per_s = np.bincount(a.pairs[:, 1], minlength=n_s)
    per_r = np.bincount(a.pairs[:, 0], minlength=n_r)
    assert (per_s == p.k).all()
    assert (per_r >= p.min_load).all() and (per_r <= p.max_load).all()
    assert all(p.allowed[r, s] for r, s in pairs)
    assert all((r, s) in set(pairs) for r, s in np.argwhere(p.forced).tolist())
    assert a.objective == pytest.approx(sum(p.scores[r, s] for r, s in pairs))
    totals = np.bincount(a.pairs[:, 1], p.scores[a.pairs[:, 0], a.pairs[:, 1]], n_s)
    assert a.floor == pytest.approx(totals.min())


def brute(p: Problem) -> tuple[float, float, float]:
    """(max total, max-min floor, max total at that floor) by enumeration; -inf if none."""
    n_r, n_s = p.scores.shape
    options = []
    for s in range(n_s):
        opts = [
            c
            for c in itertools.combinations(range(n_r), p.k)
            if all(p.allowed[r, s] for r in c)
            and all(r in c for r in np.flatnonzero(p.forced[:, s]))
        ]
        options.append(opts)
    best, best_floor, best_at_floor = -np.inf, -np.inf, -np.inf
    results = []
    for combo in itertools.product(*options):
        load = np.zeros(n_r, int)
        for c in combo:
            load[list(c)] += 1
        if (load < p.min_load).any() or (load > p.max_load).any():
            continue
        totals = [sum(p.scores[r, s] for r in c) for s, c in enumerate(combo)]
        results.append((sum(totals), min(totals)))
    if not results:
        return best, best_floor, best_at_floor
    best = max(t for t, _ in results)
    best_floor = max(f for _, f in results)
    best_at_floor = max(t for t, f in results if f >= best_floor - 1e-9)
    return best, best_floor, best_at_floor


def random_problem(seed: int, n_r: int = 5, n_s: int = 4, k: int = 2) -> Problem:
    rng = np.random.default_rng(seed)
    allowed = rng.random((n_r, n_s)) > 0.2
    forced = np.zeros((n_r, n_s), bool)
    r, s = np.argwhere(allowed)[rng.integers(allowed.sum())]
    forced[r, s] = rng.random() < 0.5
    return Problem.build(
        rng.random((n_r, n_s)),
        k,
        min_load=int(rng.integers(0, 2)),
        max_load=int(rng.integers(2, 4)),
        allowed=allowed,
        forced=forced,
    )


@pytest.mark.parametrize("seed", range(25))
def test_optimal_against_brute_force(seed: int) -> None:
    p = random_problem(seed)
    best, floor, at_floor = brute(p)
    if best == -np.inf:
        with pytest.raises(InfeasibleError):
            solve(p)
        return
    a = solve(p)
    check(p, a)
    assert a.objective == pytest.approx(best, abs=1e-9)
    fair = solve(p, fairness=True)
    check(p, fair)
    assert fair.floor == pytest.approx(floor, abs=1e-6)
    assert fair.objective == pytest.approx(at_floor, abs=1e-6)
    assert fair.optimal


def independent_lp(p: Problem) -> float:
    """The full LP over every allowed pair (no column generation)."""
    rr, ss = np.nonzero(p.allowed)
    m = len(rr)
    n_r, n_s = p.scores.shape
    cols = np.arange(m)
    res = linprog(
        -p.scores[rr, ss],
        A_ub=sparse.vstack(
            [
                sparse.csr_matrix((np.ones(m), (rr, cols)), shape=(n_r, m)),
                sparse.csr_matrix((-np.ones(m), (rr, cols)), shape=(n_r, m)),
            ]
        ),
        b_ub=np.concatenate([p.max_load, -p.min_load]),
        A_eq=sparse.csr_matrix((np.ones(m), (ss, cols)), shape=(n_s, m)),
        b_eq=np.full(n_s, p.k),
        bounds=np.column_stack([p.forced[rr, ss], np.ones(m)]),
        method="highs-ipm",
    )
    assert res.status == 0
    return float(-res.fun)


@pytest.mark.parametrize("seed", range(4))
def test_medium_instances_match_lp_and_flow(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_r, n_s = 40, 60
    allowed = rng.random((n_r, n_s)) > 0.3
    # structured scores (a few popular reviewers) stress the column generation
    scores = rng.random((n_r, n_s)) * 0.3 + rng.random((n_r, 1)) * 0.7
    p = Problem.build(scores, 3, min_load=2, max_load=6, allowed=allowed)
    a = solve(p, per_node=2)
    check(p, a)
    assert a.objective == pytest.approx(independent_lp(p), rel=1e-9, abs=1e-7)
    b = min_cost_flow(p)
    check(p, b)
    assert a.objective == pytest.approx(b.objective, abs=1e-4)


def test_capacity_message_names_numbers() -> None:
    p = Problem.build(np.random.default_rng(0).random((10, 24)), 3, max_load=5)
    with pytest.raises(InfeasibleError) as err:
        solve(p)
    assert str(err.value) == (
        "24 solutions × 3 reviewers need 72 reviews, but 10 eligible reviewers × max 5 = 50"
    )


def test_per_solution_message() -> None:
    allowed = np.ones((6, 8), bool)
    allowed[:4, 6] = False  # s6 keeps 2 reviewers
    p = Problem.build(np.ones((6, 8)), 3, max_load=8, allowed=allowed)
    with pytest.raises(
        InfeasibleError, match=r"solution s6 has only 2 eligible reviewers .* needs 3"
    ):
        solve(p)


def test_min_load_message() -> None:
    p = Problem.build(np.ones((10, 4)), 2, min_load=1, max_load=3)
    with pytest.raises(
        InfeasibleError,
        match=r"10 reviewers × min 1 need at least 10 reviews, but 4 solutions × 2 reviewers = 8",
    ):
        solve(p)


def test_hall_violation_names_the_binding_solutions() -> None:
    # s0..s2 may only use r0, r1 (3 solutions x 2 reviewers = 6 > 2 x max 2 = 4)
    allowed = np.ones((6, 6), bool)
    allowed[2:, :3] = False
    p = Problem.build(np.ones((6, 6)), 2, max_load=2, allowed=allowed)
    with pytest.raises(InfeasibleError) as err:
        solve(p)
    msg = str(err.value)
    assert "solutions s0, s1, s2 (3 solutions) need 6 more reviews" in msg
    assert "at most 4" in msg and "r0, r1" in msg


def test_forced_conflict_and_bad_arguments() -> None:
    allowed = np.ones((4, 3), bool)
    allowed[1, 2] = False
    forced = np.zeros((4, 3), bool)
    forced[1, 2] = True
    with pytest.raises(InfeasibleError, match="forced pair r1 -> s2"):
        solve(Problem.build(np.ones((4, 3)), 2, allowed=allowed, forced=forced))
    with pytest.raises(InvalidInputError):
        Problem.build(np.ones((2, 2)), 0)
    with pytest.raises(InvalidInputError):
        Problem.build(np.ones((2, 2)), 1, min_load=3, max_load=2)


def test_explicit_floor() -> None:
    p = random_problem(3, n_r=6, n_s=4)
    best = solve(p, fairness=True).floor
    a = solve(p, floor=best * 0.9)
    check(p, a)
    assert a.floor >= best * 0.9 - 1e-9
    with pytest.raises(InfeasibleError, match="best possible floor"):
        solve(p, floor=best + 0.5)


def brute_pairs(scores: np.ndarray, allowed: np.ndarray) -> float:
    n = len(scores)
    best = (-1, -np.inf)

    def rec(free: list[int], count: int, total: float) -> None:
        nonlocal best
        if len(free) < 2:
            best = max(best, (count, total))
            return
        first, rest = free[0], free[1:]
        rec(rest, count, total)  # leave `first` unmatched
        for j in rest:
            if allowed[first, j]:
                rec([x for x in rest if x != j], count + 1, total + scores[first, j])

    rec(list(range(n)), 0, 0.0)
    return best[1]


def pairs_total(scores: np.ndarray, g: Grouping, joined: bool = False) -> float:
    return sum(scores[a, b] for grp in g.groups for a, b in itertools.combinations(grp[:2], 2))


@pytest.mark.parametrize("seed", range(8))
def test_pairs_are_maximum_weight(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 6 + seed % 3
    s = rng.random((n, n))
    s = (s + s.T) / 2
    allowed = rng.random((n, n)) > 0.25
    allowed &= allowed.T
    g = group(s, allowed, 2)
    core = [grp[:2] for grp in g.groups]
    assert all(allowed[a, b] for a, b in core)
    members = [i for grp in g.groups for i in grp] + g.unmatched
    assert sorted(members) == list(range(n))
    assert pairs_total(s, g) == pytest.approx(brute_pairs(s, allowed))
    for i, gi in g.joined.items():  # the odd one out joined a group it has no conflict with
        assert i in g.groups[gi] and all(allowed[i, m] for m in g.groups[gi] if m != i)


def test_odd_one_out_joins_and_groups_of_three() -> None:
    rng = np.random.default_rng(7)
    s = rng.random((7, 7))
    s = (s + s.T) / 2
    g = group(s, np.ones((7, 7), bool), 2)
    assert len(g.groups) == 3 and len(g.joined) == 1 and not g.unmatched
    g3 = group(s, np.ones((7, 7), bool), 3)
    sizes = sorted(len(x) for x in g3.groups)
    assert sizes == [3, 4] and sorted(i for x in g3.groups for i in x) == list(range(7))
    # local optimum: no single swap between groups improves the total
    base = g3.objective
    a, b = g3.groups
    for x in a:
        for y in b:
            na = [m for m in a if m != x] + [y]
            nb = [m for m in b if m != y] + [x]
            tot = sum(s[i, j] for grp in (na, nb) for i, j in itertools.combinations(grp, 2))
            assert tot <= base + 1e-9
