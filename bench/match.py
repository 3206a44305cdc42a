"""Benchmark: exact review assignment at scale, one JSON line.

Random affinities (fixed seed), n solutions x n learners, k reviewers each,
max load L. Times our solver (LP column generation, certified optimal) against
the plain OR-Tools min-cost flow over every pair (the raw baseline), checks
both objectives against each other and, up to --lp-max-n, against the full
LP optimum (HiGHS over every pair). Wall and CPU seconds are both reported
(the CPU figure is robust to other load on the machine; ``load_avg_1m``
shows that load). Also times the vectorised affinity computation for n
learners (10 history items each) x n solutions.

    python bench/match.py            # n=1000 and n=5000 (about 1-2 minutes)
    python bench/match.py --n 2000   # one size
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from huddle_ai.index.embeddings import normalize
from huddle_ai.matching import Problem, min_cost_flow, solve
from huddle_ai.matching.affinity import expertise_scores, helpfulness_scores


def full_lp(p: Problem) -> tuple[float, float]:
    start = time.perf_counter()
    n_r, n_s = p.scores.shape
    rr, ss = np.nonzero(p.allowed)
    m, cols = len(rr), np.arange(len(rr))
    res = linprog(
        -p.scores[rr, ss],
        A_ub=sparse.csr_matrix((np.ones(m), (rr, cols)), shape=(n_r, m)),
        b_ub=p.max_load.astype(float),
        A_eq=sparse.csr_matrix((np.ones(m), (ss, cols)), shape=(n_s, m)),
        b_eq=np.full(n_s, float(p.k)),
        bounds=(0, 1),
        method="highs",
    )
    return float(-res.fun), time.perf_counter() - start


def affinity_seconds(n: int, dim: int = 384, items: int = 10) -> float:
    rng = np.random.default_rng(1)
    hist = normalize(rng.normal(size=(n * items, dim)))
    owner = np.repeat(np.arange(n), items)
    queries = normalize(rng.normal(size=(n, dim)))
    start = time.perf_counter()
    expertise_scores(queries, hist, owner, n)
    helpfulness_scores(queries, hist[::2], owner[::2], rng.random(len(owner[::2])), n)
    return time.perf_counter() - start


def one(n: int, k: int, load: int, lp_max_n: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    p = Problem.build(rng.random((n, n)), k, 0, load)
    cpu = time.process_time()
    ours = solve(p)
    ours_cpu = time.process_time() - cpu
    cpu = time.process_time()
    base = min_cost_flow(p)
    base_cpu = time.process_time() - cpu
    row: dict[str, object] = {
        "n": n,
        "k": k,
        "max_load": load,
        "solve_s": round(ours.seconds, 3),
        "solve_cpu_s": round(ours_cpu, 3),
        "rounds": ours.rounds,
        "arcs": ours.arcs,
        "objective": round(ours.objective, 6),
        "baseline_flow_s": round(base.seconds, 3),
        "baseline_flow_cpu_s": round(base_cpu, 3),
        "baseline_objective": round(base.objective, 6),
        "speedup_vs_flow": round(base.seconds / ours.seconds, 2),
        "gap_vs_flow": round(ours.objective - base.objective, 9),
        "affinity_s": round(affinity_seconds(n), 3),
    }
    if n <= lp_max_n:
        lp, lp_s = full_lp(p)
        row.update(
            lp_objective=round(lp, 6), lp_s=round(lp_s, 3), gap_vs_lp=round(lp - ours.objective, 9)
        )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--n", type=int, action="append", help="size (repeatable); default 1000 and 5000"
    )
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--max-load", type=int, default=3)
    ap.add_argument("--lp-max-n", type=int, default=1000, help="full LP check up to this n")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    runs = [one(n, args.k, args.max_load, args.lp_max_n, args.seed) for n in args.n or [1000, 5000]]
    print(
        json.dumps(
            {
                "bench": "match",
                "machine": f"{platform.machine()} {os.cpu_count()} cpu",
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
