"""Affinity components: ranges, robustness of top-m expertise, weighting and decay."""

from __future__ import annotations

import numpy as np
import pytest

from huddle_ai.errors import InvalidInputError
from huddle_ai.index.embeddings import normalize
from huddle_ai.matching import COMPONENTS, Affinity, Weights
from huddle_ai.matching.affinity import (
    complementarity_scores,
    diversity_scores,
    expertise_scores,
    grouped_topm,
    helpfulness_scores,
    novelty_scores,
    topm_similarity,
)

rng = np.random.default_rng(0)
DIM = 48


def unit(n: int) -> np.ndarray:
    return normalize(rng.normal(size=(n, DIM)))


def near(v: np.ndarray, noise: float, n: int = 1) -> np.ndarray:
    return normalize(v[None, :] + noise * rng.normal(size=(n, DIM)))


def test_few_strong_matches_are_not_averaged_away() -> None:
    query = unit(1)
    # learner 0: 60 unrelated items and 2 near-copies of the query
    many = np.vstack([unit(60), near(query[0], 0.05, 2)])
    # learner 1: 5 moderately related items (higher mean similarity, no strong one)
    moderate = near(query[0], 1.2, 5)
    items = np.vstack([many, moderate]).astype(np.float32)
    owner = np.array([0] * 62 + [1] * 5)
    assert (items[62:] @ query[0]).mean() > (items[:62] @ query[0]).mean()
    e = expertise_scores(query, items, owner, 3)
    assert e[0, 0] > e[1, 0]
    assert e[2, 0] == 0.0  # no history at all
    assert ((e >= 0) & (e <= 1)).all()


def test_topm_matches_a_direct_loop() -> None:
    q, items = unit(7), unit(40)
    owner = rng.integers(0, 5, size=40)
    got, counts = topm_similarity(q, items, owner, 6, m=3)
    assert counts.tolist() == np.bincount(owner, minlength=6).tolist()
    for o in range(6):
        mine = items[owner == o]
        for j in range(7):
            if len(mine) == 0:
                assert np.isnan(got[o, j])
                continue
            best = np.sort(mine @ q[j])[::-1][:3]
            w = 1 / np.arange(1, len(best) + 1)
            assert got[o, j] == pytest.approx((best * w).sum() / w.sum(), abs=1e-5)
    # the same aggregation over a precomputed matrix
    again = grouped_topm((q @ items.T).astype(np.float64), owner, 6, m=3)
    assert np.allclose(np.nan_to_num(again.T), np.nan_to_num(got), atol=1e-5)


def test_helpfulness_weights_similar_topics() -> None:
    query = unit(1)
    topics = np.vstack([near(query[0], 0.05), unit(1)]).astype(np.float32)
    owner = np.array([0, 0])
    h = helpfulness_scores(query, topics, owner, np.array([0.95, 0.1]), 2)
    assert h[0, 0] > 0.85  # the rating on the similar topic dominates
    assert h[1, 0] == pytest.approx(0.5)  # no rated feedback: the neutral prior
    flipped = helpfulness_scores(query, topics, owner, np.array([0.1, 0.95]), 2)
    assert flipped[0, 0] < 0.2


def test_complementarity_diversity_novelty() -> None:
    strength = np.array([[0.9, 0.9], [0.2, 0.2], [0.9, 0.1]])
    weakness = np.array([[1.0, 0.0], [0.5, 0.5]])
    c = complementarity_scores(strength, weakness)
    assert c[0, 0] > c[1, 0] and c[2, 0] == pytest.approx(0.9) and c[2, 1] == pytest.approx(0.5)
    assert complementarity_scores(np.zeros((2, 0)), np.zeros((3, 0))).tolist() == [[0.5] * 3] * 2
    d = diversity_scores(["a", "b", ""], ["a", "b"])
    assert d.tolist() == [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]
    contact = np.array([[0.0, 2.0], [2.0, 0.0]])
    n = novelty_scores(contact, np.array([1, 0, -1]))
    assert n[0, 0] == pytest.approx(np.exp(-2)) and n[0, 1] == 1.0 and n[:, 2].tolist() == [1, 1]


def test_weights_and_scores_json() -> None:
    w = Weights.parse("expertise=2, diversity=0")
    assert w.normalized()["expertise"] == pytest.approx(2 / 2.45)
    for bad in (
        "speed=1",
        "expertise=-1",
        "expertise=x",
        "expertise=0,helpfulness=0,complementarity=0,diversity=0,novelty=0",
    ):
        with pytest.raises(InvalidInputError):
            Weights.parse(bad)
    comps = {n: rng.random((2, 3)) for n in COMPONENTS}
    aff = Affinity(["l1", "l2"], ["s1", "s2", "s3"], comps, w)
    data = aff.restrict(["l2"], ["s3", "s1"]).as_json()
    assert list(data) == ["l2"] and list(data["l2"]) == ["s3", "s1"]
    cell = data["l2"]["s1"]
    assert set(cell) == {"total", *COMPONENTS}
    expected = sum(w.normalized()[n] * comps[n][1, 0] for n in COMPONENTS)
    assert cell["total"] == pytest.approx(expected, abs=1e-4)
    with pytest.raises(InvalidInputError, match="unknown learner"):
        aff.restrict(["nobody"])
