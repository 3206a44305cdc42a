"""Affinity: named components in [0, 1] and their weighted total.

Every function here is plain numpy over arrays (no store, no records), so the
components can be computed for thousands of learners and solutions with
matrix products instead of a Python loop over pairs. Rows are learners
(reviewers or partners); columns are targets (solutions or learners).

- ``expertise``: a robust top-m aggregate of cosine similarities between a
  target and the learner's history items (solutions written, feedback given).
  Only the m best items count, with decaying weights, so a few strong matches
  among many unrelated items are not averaged away.
- ``helpfulness``: the ratings of the learner's past feedback, weighted toward
  feedback on topics similar to the target, shrunk toward a neutral prior.
- ``complementarity``: the learner's strength (share of ``met``) on the rubric
  criteria where the target is weak.
- ``diversity``: 1 for another team, 0 for the same team, 0.5 when unknown.
- ``novelty``: ``exp(-contact)`` where contact sums recency-decayed past pairings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import InvalidInputError

__all__ = [
    "COMPONENTS",
    "Affinity",
    "Weights",
    "complementarity_scores",
    "diversity_scores",
    "expertise_scores",
    "grouped_topm",
    "helpfulness_scores",
    "novelty_scores",
    "squash",
    "topm_similarity",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

COMPONENTS: tuple[str, ...] = (
    "expertise",
    "helpfulness",
    "complementarity",
    "diversity",
    "novelty",
)

# Cosine similarity -> [0, 1]: a strictly monotone logistic map centred where
# MiniLM separates "same topic" (~0.5+) from "unrelated" (~0.2-), so the
# component spreads over its range instead of bunching near 0.3.
SIM_CENTER = 0.35
SIM_SCALE = 0.1
# Harmonic weights 1, 1/2, ..., 1/m over the m best items: the best match
# dominates, but several strong matches beat a single one.
TOP_M = 5
# Budget of similarity cells per chunk (queries x padded items).
_CHUNK_CELLS = 1 << 23


@dataclass(frozen=True)
class Weights:
    """How much each component counts in the total (normalised to sum 1)."""

    expertise: float = 0.4
    helpfulness: float = 0.2
    complementarity: float = 0.15
    diversity: float = 0.15
    novelty: float = 0.1

    @classmethod
    def parse(cls, spec: Mapping[str, float] | str | None) -> Weights:
        """From a mapping or ``"expertise=0.5,diversity=0.2"``; unnamed ones keep defaults."""
        if spec is None:
            return cls()
        if isinstance(spec, str):
            items: dict[str, float] = {}
            for part in filter(None, (p.strip() for p in spec.split(","))):
                name, sep, value = part.partition("=")
                try:
                    items[name.strip()] = float(value) if sep else float("nan")
                except ValueError:
                    items[name.strip()] = float("nan")
            spec = items
        unknown = sorted(set(spec) - set(COMPONENTS))
        if unknown:
            raise InvalidInputError(
                f"unknown affinity weight(s) {', '.join(unknown)}; use {', '.join(COMPONENTS)}"
            )
        bad = [n for n, v in spec.items() if not np.isfinite(v) or v < 0]
        if bad:
            raise InvalidInputError(f"affinity weight(s) {', '.join(bad)} must be numbers >= 0")
        out = cls(**{n: float(v) for n, v in spec.items()})
        if sum(out.as_dict().values()) <= 0:
            raise InvalidInputError("at least one affinity weight must be positive")
        return out

    def as_dict(self) -> dict[str, float]:
        return {n: float(getattr(self, n)) for n in COMPONENTS}

    def normalized(self) -> dict[str, float]:
        raw = self.as_dict()
        total = sum(raw.values())
        return {n: v / total for n, v in raw.items()}


@dataclass
class Affinity:
    """Component matrices (learners x targets) and their weighted total."""

    learner_ids: list[str]
    target_ids: list[str]
    components: dict[str, F64]
    weights: Weights = field(default_factory=Weights)

    @property
    def total(self) -> F64:
        w = self.weights.normalized()
        out = np.zeros((len(self.learner_ids), len(self.target_ids)), dtype=np.float64)
        for name in COMPONENTS:
            out += w[name] * self.components[name]
        return out

    def restrict(
        self, learners: Sequence[str] | None = None, targets: Sequence[str] | None = None
    ) -> Affinity:
        """The sub-matrix for the given ids (unknown ids raise)."""
        rows = _positions(self.learner_ids, learners, "learner")
        cols = _positions(self.target_ids, targets, "target")
        return Affinity(
            [self.learner_ids[i] for i in rows],
            [self.target_ids[j] for j in cols],
            {n: m[np.ix_(rows, cols)] for n, m in self.components.items()},
            self.weights,
        )

    def as_json(self, digits: int = 4) -> dict[str, dict[str, dict[str, float]]]:
        """``{learner_id: {target_id: {"total": x, "expertise": x, ...}}}``."""
        total = np.round(self.total, digits)
        comps = {n: np.round(m, digits) for n, m in self.components.items()}
        out: dict[str, dict[str, dict[str, float]]] = {}
        for i, lid in enumerate(self.learner_ids):
            row: dict[str, dict[str, float]] = {}
            for j, tid in enumerate(self.target_ids):
                cell = {"total": float(total[i, j])}
                cell.update({n: float(comps[n][i, j]) for n in COMPONENTS})
                row[tid] = cell
            out[lid] = row
        return out


def _positions(ids: list[str], wanted: Sequence[str] | None, what: str) -> list[int]:
    if wanted is None:
        return list(range(len(ids)))
    index = {x: i for i, x in enumerate(ids)}
    missing = [w for w in wanted if w not in index]
    if missing:
        raise InvalidInputError(f"unknown {what} id(s): {', '.join(missing[:5])}")
    return [index[w] for w in wanted]


def _padded(vecs: F32, owner: I64, n_owners: int) -> tuple[F32, NDArray[np.bool_]]:
    """Items grouped per owner into an (owners, h_max, d) block plus a validity mask."""
    counts = np.bincount(owner, minlength=n_owners) if len(owner) else np.zeros(n_owners, int)
    h_max = max(int(counts.max()) if n_owners else 0, 1)
    order = np.argsort(owner, kind="stable")
    sorted_owner = owner[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n_owners else np.zeros(0, int)
    slot = np.arange(len(owner)) - starts[sorted_owner] if len(owner) else np.zeros(0, int)
    block = np.zeros((n_owners, h_max, vecs.shape[1] if vecs.ndim == 2 else 0), dtype=np.float32)
    valid = np.zeros((n_owners, h_max), dtype=bool)
    block[sorted_owner, slot] = vecs[order]
    valid[sorted_owner, slot] = True
    return block, valid


def _chunks(n_queries: int, cells_per_query: int) -> list[slice]:
    step = max(1, _CHUNK_CELLS // max(cells_per_query, 1))
    return [slice(i, min(i + step, n_queries)) for i in range(0, n_queries, step)]


def topm_similarity(
    queries: F32, items: F32, owner: I64, n_owners: int, m: int = TOP_M
) -> tuple[F64, I64]:
    """Top-m aggregated cosine similarity (owners x queries) and items per owner.

    Rows must be unit vectors. Owners without items get NaN.
    """
    block, valid = _padded(items, owner, n_owners)
    n_q, h_max = len(queries), block.shape[1]
    out = np.full((n_owners, n_q), np.nan, dtype=np.float64)
    counts = valid.sum(axis=1).astype(np.int64)
    if n_owners == 0 or n_q == 0 or not valid.any():
        return out, counts
    m = max(1, min(m, h_max))
    weights = 1.0 / np.arange(1, m + 1, dtype=np.float64)
    flat = block.reshape(n_owners * h_max, -1)
    for sl in _chunks(n_q, n_owners * h_max):
        sims = (queries[sl] @ flat.T).reshape(-1, n_owners, h_max)
        sims = np.where(valid[None], sims, -np.inf)
        if h_max > m:
            sims = -np.partition(-sims, m - 1, axis=2)[..., :m]
        best = -np.sort(-sims, axis=2)[..., :m]  # descending
        ok = np.isfinite(best)
        num = np.where(ok, best, 0.0) @ weights
        den = ok.astype(np.float64) @ weights
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, sl] = (num / den).T
    return out, counts


def squash(sim: F64) -> F64:
    """Cosine similarity mapped strictly monotonically onto (0, 1)."""
    return np.asarray(1.0 / (1.0 + np.exp(-(sim - SIM_CENTER) / SIM_SCALE)), dtype=np.float64)


def expertise_scores(queries: F32, items: F32, owner: I64, n_owners: int, m: int = TOP_M) -> F64:
    """Expertise in [0, 1] (owners x queries); 0 for owners without history."""
    sim, _ = topm_similarity(queries, items, owner, n_owners, m)
    return np.nan_to_num(squash(sim), nan=0.0)


def helpfulness_scores(
    queries: F32,
    topics: F32,
    owner: I64,
    ratings: F64,
    n_owners: int,
    *,
    tau: float = 0.1,
    prior: float = 0.5,
    prior_weight: float = float(np.exp(-5.0)),
) -> F64:
    """Similarity-weighted mean rating of each owner's feedback, shrunk toward ``prior``.

    ``topics`` are the vectors of what each piece of feedback was about (the
    reviewed solution). A rating counts with weight ``exp((sim - 1) / tau)``;
    the prior weighs like one piece of feedback at similarity 0.5.
    """
    out = np.full((n_owners, len(queries)), prior, dtype=np.float64)
    if len(topics) == 0 or len(queries) == 0:
        return out
    block, valid = _padded(topics, owner, n_owners)
    rate_block, _ = _padded(ratings.astype(np.float32)[:, None], owner, n_owners)
    rates = rate_block[..., 0].astype(np.float64)
    h_max = block.shape[1]
    flat = block.reshape(n_owners * h_max, -1)
    for sl in _chunks(len(queries), n_owners * h_max):
        sims = (queries[sl] @ flat.T).reshape(-1, n_owners, h_max).astype(np.float64)
        w = np.where(valid[None], np.exp((sims - 1.0) / tau), 0.0)
        num = (w * rates[None]).sum(axis=2) + prior_weight * prior
        out[:, sl] = (num / (w.sum(axis=2) + prior_weight)).T
    return out


def complementarity_scores(strength: F64, weakness: F64) -> F64:
    """Learner strength on the target's weak criteria: (learners x C) x (targets x C).

    ``weakness[t, c]`` in [0, 1] (0.5 when unknown) weighs criterion c for
    target t; with no criteria at all every pair scores 0.5.
    """
    if strength.shape[1] == 0:
        return np.full((strength.shape[0], weakness.shape[0]), 0.5)
    den = weakness.sum(axis=1)
    num = strength @ weakness.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den[None] > 0, num / den[None], strength.mean(axis=1, keepdims=True))
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float64)


def diversity_scores(teams: Sequence[str], target_teams: Sequence[str]) -> F64:
    """1 for another team, 0 for the same team, 0.5 when either team is unknown."""
    labels = {t: i for i, t in enumerate(sorted({*teams, *target_teams} - {""}))}
    a = np.array([labels.get(t, -1) for t in teams], dtype=np.int64)
    b = np.array([labels.get(t, -1) for t in target_teams], dtype=np.int64)
    unknown = (a[:, None] < 0) | (b[None, :] < 0)
    return np.where(unknown, 0.5, (a[:, None] != b[None, :]).astype(np.float64))


def novelty_scores(contact: F64, target_owner: I64) -> F64:
    """``exp(-contact)`` with the target's owner; ``contact`` is learners x learners.

    ``target_owner[t]`` is the row of the target's owner, or -1 (no contact).
    """
    out = np.ones((contact.shape[0], len(target_owner)), dtype=np.float64)
    known = target_owner >= 0
    out[:, known] = np.exp(-contact[:, target_owner[known]])
    return out


def grouped_topm(values: F64, owner: I64, n_owners: int, m: int = TOP_M) -> F64:
    """Top-m harmonic mean of each row's values over each owner's columns (rows x owners).

    Owners without columns get NaN.
    """
    block, valid = _padded(values.T.astype(np.float32), owner, n_owners)  # owners x h x rows
    out = np.full((values.shape[0], n_owners), np.nan)
    if not valid.any():
        return out
    h_max = block.shape[1]
    m = max(1, min(m, h_max))
    weights = 1.0 / np.arange(1, m + 1, dtype=np.float64)
    sims = np.where(valid[..., None], block.astype(np.float64), -np.inf).transpose(2, 0, 1)
    best = -np.sort(-sims, axis=2)[..., :m]
    ok = np.isfinite(best)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:] = (np.where(ok, best, 0.0) @ weights) / (ok.astype(np.float64) @ weights)
    return out
