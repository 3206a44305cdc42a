"""The eval runs' vector cache: a text embedded once is read back; no model load
when every text was seen."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from huddle_ai import FakeEmbedder
from huddle_ai.evals.vectors import CachedEmbedder


def test_seen_texts_need_no_model(tmp_path: Path) -> None:
    made: list[FakeEmbedder] = []

    def make() -> FakeEmbedder:
        made.append(FakeEmbedder())
        return made[-1]

    texts = ["a timeline from 09:02", "an owner for each action", "a timeline from 09:02"]
    first = CachedEmbedder("fake", make, tmp_path)
    got = first.embed(texts)
    assert np.allclose(got, FakeEmbedder().embed(texts)) and len(made) == 1
    assert made[0].texts_embedded == 3  # within one batch a repeat is embedded again

    again = CachedEmbedder("fake", make, tmp_path)
    assert (again.id, again.dim) == (first.id, first.dim) and len(made) == 1  # id from disk
    assert np.array_equal(again.embed(texts), got) and len(made) == 1 and again.loads == 0
    # a new text loads the model, and only that text is embedded
    again.embed(["something new"])
    assert len(made) == 2 and made[1].texts_embedded == 1


def test_vectors_are_kept_per_embedder(tmp_path: Path) -> None:
    small = CachedEmbedder("fake32", lambda: FakeEmbedder(32), tmp_path)
    large = CachedEmbedder("fake64", lambda: FakeEmbedder(64), tmp_path)
    assert small.embed(["same text"]).shape == (1, 32)
    assert large.embed(["same text"]).shape == (1, 64)
