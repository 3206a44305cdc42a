"""Reindexing after a backend switch: every record kept, vectors rebuilt, crash-safe."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from huddle_ai import (
    BackendMismatchError,
    FakeEmbedder,
    Feedback,
    Huddle,
    HuddleAI,
    Learner,
    NotFoundError,
    Solution,
    Store,
)
from huddle_ai.cli import run
from huddle_ai.index.embeddings import Vectors

TOPICS = ["retro action items", "pricing cohort test", "onboarding checklist churn"]


def org_records(n: int = 30) -> list[Huddle | Learner | Solution | Feedback]:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    out: list[Huddle | Learner | Solution | Feedback] = [
        Huddle(id=f"h{i}", title=t, prompt=f"Improve {t}", goal="Use evidence")
        for i, t in enumerate(TOPICS)
    ]
    out += [Learner(id=f"l{i}", display_name=f"L {i}") for i in range(4)]
    for i in range(n):
        out.append(
            Solution(
                id=f"s{i}",
                huddle_id=f"h{i % 3}",
                learner_id=f"l{i % 4}",
                text=f"solution {i} about {TOPICS[i % 3]} with a measured baseline",
                created_at=when,
            )
        )
        out.append(
            Feedback(
                id=f"f{i}",
                solution_id=f"s{i}",
                author_id=f"l{(i + 1) % 4}",
                author_role="peer",
                text=f"feedback {i}: name the metric for {TOPICS[i % 3]}",
                helpfulness=(i % 5) / 4,
                created_at=when,
            )
        )
    return out


def engine(path: Path, embedder: FakeEmbedder) -> HuddleAI:
    return HuddleAI(embedder=embedder, store=Store.embedded(path, embedder.id))


def exported(hai: HuddleAI, org: str) -> str:
    out = io.StringIO()
    hai.export(org, out)
    return out.getvalue()


def test_switching_backends_requires_a_reindex_that_keeps_every_record(tmp_path: Path) -> None:
    old = engine(tmp_path, FakeEmbedder(64))
    old.ingest("acme", org_records())
    old.ingest("other", org_records(5))
    before = exported(old, "acme")

    new = engine(tmp_path, FakeEmbedder(32))  # another backend, another dimension
    with pytest.raises(BackendMismatchError, match="huddle-ai reindex --org acme"):
        new.similar("acme", solution_id="s1")

    report = new.reindex("acme")
    assert report.previous == ["fake:64"] and report.embedder == "fake:32"
    assert report.counts == {"huddle": 3, "learner": 4, "solution": 30, "feedback": 30}
    assert exported(new, "acme") == before
    vectors = new.store.embeddings("acme", "solution", ["s1", "s2"])
    assert {v.shape for v in vectors.values()} == {(32,)}
    result = new.similar("acme", solution_id="s4", k=3)
    assert result.neighbors and all(n.solution.id != "s4" for n in result.neighbors)
    assert result.neighbors[0].solution.huddle_id == "h1"
    # content hashes survive: re-importing the same records embeds nothing
    again = new.ingest("acme", org_records())
    assert again.embedded == 0 and again.unchanged == 67
    # other organizations are untouched and still on their own backend
    assert new.store.backends("other") == {"fake:64"}
    assert old.similar("other", solution_id="s1").neighbors
    assert new.store.orgs() == ["acme", "other"]


def test_reindex_is_a_no_op_on_the_same_backend_unless_forced(tmp_path: Path) -> None:
    embedder = FakeEmbedder(64)
    hai = engine(tmp_path, embedder)
    hai.ingest("acme", org_records(10))
    calls = embedder.texts_embedded
    assert hai.reindex("acme").reindexed == 0
    assert embedder.texts_embedded == calls
    forced = hai.reindex("acme", force=True)
    assert forced.reindexed == 27 and embedder.texts_embedded == calls + 27
    with pytest.raises(NotFoundError, match="nope"):
        hai.reindex("nope")


class FailingEmbedder(FakeEmbedder):
    """Fails on its n-th batch, like a process killed mid-reindex."""

    def __init__(self, dim: int, fail_on: int) -> None:
        super().__init__(dim)
        self.fail_on = fail_on

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        if self.calls + 1 == self.fail_on:
            self.calls += 1
            raise RuntimeError("killed")
        return super().embed_batch(texts)


def test_an_interrupted_reindex_loses_nothing_and_a_rerun_completes_it(tmp_path: Path) -> None:
    old = engine(tmp_path, FakeEmbedder(64))
    old.ingest("acme", org_records())
    before = exported(old, "acme")

    failing = engine(tmp_path, FailingEmbedder(32, fail_on=3))
    with pytest.raises(RuntimeError, match="killed"):
        failing.reindex("acme")
    # the old backend still serves everything
    assert exported(engine(tmp_path, FakeEmbedder(64)), "acme") == before
    assert engine(tmp_path, FakeEmbedder(64)).similar("acme", solution_id="s3").neighbors

    fresh = engine(tmp_path, FakeEmbedder(32))
    assert fresh.reindex("acme").reindexed == 67
    assert exported(fresh, "acme") == before
    assert fresh.store.backends("acme") == {"fake:32"}


def test_a_crash_between_the_swap_renames_is_recovered(tmp_path: Path) -> None:
    hai = engine(tmp_path, FakeEmbedder(64))
    hai.ingest("acme", org_records(5))
    before = exported(hai, "acme")
    # reproduce the state after "live -> retired" and before "staged -> live"
    client = hai.store._client
    client.get_collection("hai-acme-solution").modify(name="hairetired-acme-solution")
    client.create_collection("haistaged-acme-solution", metadata={"embedder": "fake:32"})

    new = engine(tmp_path, FakeEmbedder(32))
    assert new.reindex("acme").counts["solution"] == 5
    assert exported(new, "acme") == before
    names = {c.name for c in client.list_collections()}
    assert not {n for n in names if n.startswith(("haistaged-", "hairetired-"))}


def test_cli_reindex_after_switching_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine(tmp_path, FakeEmbedder(16)).ingest("acme", org_records(6))
    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "fake")  # FakeEmbedder(64)
    args = ["--org", "acme", "--data-dir", str(tmp_path)]

    assert run(["similar", "--solution", "s1", *args]) == 1
    assert "huddle-ai reindex --org acme" in capsys.readouterr().err

    assert run(["reindex", *args]) == 0
    out = capsys.readouterr().out
    assert "reindexed 19 records" in out and "fake:16 -> fake:64" in out
    assert run(["similar", "--solution", "s1", *args, "--json"]) == 0
    assert '"neighbors"' in capsys.readouterr().out

    assert run(["reindex", *args]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert run(["reindex", "--org", "ghost", "--data-dir", str(tmp_path)]) == 1
    assert "not found" in capsys.readouterr().err
