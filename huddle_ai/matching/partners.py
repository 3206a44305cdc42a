"""Partner grouping: pairs (exact) or groups of size g over a learner-learner affinity.

Pairs are a maximum-weight matching among allowed pairs, solved exactly as
an integer program (HiGHS): first as many pairs as possible, then the most
affinity. Groups of three or more are built greedily and improved by
swapping members between groups until no swap helps (a local optimum; exact
grouping is NP-hard). Learners left over (an odd one out, or those whose
every possible partner is a conflict) join the group they fit best as an
extra member, or are reported unmatched when no group may take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from huddle_ai.errors import InvalidInputError

__all__ = ["Grouping", "group"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Grouping:
    groups: list[list[int]]
    joined: dict[int, int] = field(default_factory=dict)  # learner -> group it joined
    unmatched: list[int] = field(default_factory=list)
    objective: float = 0.0
    optimal: bool = True
    method: str = ""


def _group_score(scores: F64, members: list[int]) -> float:
    idx = np.array(members)
    return float(np.triu(scores[np.ix_(idx, idx)], 1).sum())


def group(
    scores: F64, allowed: NDArray[np.bool_], size: int = 2, *, time_limit: float = 30.0
) -> Grouping:
    """Group ``n`` learners given symmetric ``scores`` and ``allowed`` (n x n)."""
    n = scores.shape[0]
    if size < 2:
        raise InvalidInputError(f"group size must be at least 2, got {size}")
    allowed = allowed & allowed.T & ~np.eye(n, dtype=bool)
    if size == 2:
        groups, optimal = _pairs(scores, allowed, time_limit)
        method = "maximum-weight matching (exact integer program, HiGHS)"
    else:
        groups = _greedy(scores, allowed, size)
        groups = _swaps(scores, allowed, groups)
        optimal, method = False, "greedy groups improved by member swaps (local optimum)"
    placed = {i for g in groups for i in g}
    joined: dict[int, int] = {}
    unmatched: list[int] = []
    for i in (i for i in range(n) if i not in placed):
        best, best_gain = -1, -np.inf
        for gi, members in enumerate(groups):
            if gi in joined.values() or not allowed[i, members].all():
                continue
            gain = float(scores[i, members].sum())
            if gain > best_gain:
                best, best_gain = gi, gain
        if best < 0:
            unmatched.append(i)
        else:
            joined[i] = best
            groups[best] = [*groups[best], i]
    objective = sum(_group_score(scores, g) for g in groups)
    return Grouping(groups, joined, unmatched, objective, optimal, method)


def _pairs(
    scores: F64, allowed: NDArray[np.bool_], time_limit: float
) -> tuple[list[list[int]], bool]:
    n = scores.shape[0]
    ii, jj = np.nonzero(np.triu(allowed, 1))
    if len(ii) == 0:
        return [], True
    w = scores[ii, jj]
    # Lexicographic: any extra pair outweighs every difference in total affinity.
    bonus = 1.0 + float(np.abs(w).sum())
    cols = np.arange(len(ii))
    incidence = sparse.csr_matrix(
        (np.ones(2 * len(ii)), (np.concatenate([ii, jj]), np.concatenate([cols, cols]))),
        shape=(n, len(ii)),
    )
    res = milp(
        -(w + bonus),
        integrality=np.ones(len(ii)),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(incidence, 0, 1),
        options={"time_limit": time_limit},
    )
    if res.x is None:
        return [], False
    keep = res.x > 0.5
    return [[int(a), int(b)] for a, b in zip(ii[keep], jj[keep], strict=True)], res.status == 0


def _greedy(scores: F64, allowed: NDArray[np.bool_], size: int) -> list[list[int]]:
    n = scores.shape[0]
    free = set(range(n))
    groups: list[list[int]] = []
    masked = np.where(allowed, scores, -np.inf)
    while len(free) >= size:
        idx = np.array(sorted(free))
        sub = masked[np.ix_(idx, idx)]
        if not np.isfinite(sub).any():
            break
        a, b = np.unravel_index(int(np.argmax(sub)), sub.shape)
        members = [int(idx[a]), int(idx[b])]
        while len(members) < size:
            rest = np.array([i for i in idx if i not in members])
            cols = np.array(members)
            ok = allowed[np.ix_(rest, cols)].all(axis=1)
            if not ok.any():
                break
            gain = np.where(ok, scores[np.ix_(rest, cols)].sum(axis=1), -np.inf)
            members.append(int(rest[int(np.argmax(gain))]))
        if len(members) < size:
            # the seed pair cannot be completed: never seed with it again
            masked[members[0], members[1]] = masked[members[1], members[0]] = -np.inf
            continue
        groups.append(members)
        free -= set(members)
    return groups


def _swaps(scores: F64, allowed: NDArray[np.bool_], groups: list[list[int]]) -> list[list[int]]:
    groups = [list(g) for g in groups]
    improved = True
    while improved:
        improved = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                for x in range(len(groups[a])):
                    for y in range(len(groups[b])):
                        ga, gb = groups[a], groups[b]
                        i, j = ga[x], gb[y]
                        ra = [m for m in ga if m != i]
                        rb = [m for m in gb if m != j]
                        if not (allowed[j, ra].all() and allowed[i, rb].all()):
                            continue
                        delta = (
                            scores[j, ra].sum()
                            + scores[i, rb].sum()
                            - scores[i, ra].sum()
                            - scores[j, rb].sum()
                        )
                        if delta > 1e-12:
                            groups[a] = [*ra, j]
                            groups[b] = [*rb, i]
                            improved = True
    return groups
