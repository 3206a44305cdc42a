"""Store behaviour on real Chroma: isolation, deletion, export round trip, server mode."""

from __future__ import annotations

import io
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from huddle_ai import (
    BackendMismatchError,
    ConfigurationError,
    FakeEmbedder,
    HuddleAI,
    NotFoundError,
    Store,
    parse_jsonl,
)
from huddle_ai.index.database import Database
from tests.sample_data import ALL, write_jsonl


def all_ids_in_chroma(path: Path) -> set[str]:
    """Every item id in every collection, read with a separate raw Chroma client."""
    client = chromadb.PersistentClient(
        path=str(path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    ids: set[str] = set()
    for col in client.list_collections():
        ids.update(client.get_collection(col.name).get()["ids"])
    return ids


def test_organizations_are_isolated(fake_hai: HuddleAI, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl")
    fake_hai.ingest("org-a", path)
    # org-b gets the same ids with different text
    other = [dict(r) for r in ALL]
    for r in other:
        if r["kind"] == "solution":
            r["text"] = "ORG B SECRET " + str(r["text"])
    fake_hai.ingest("org-b", write_jsonl(tmp_path / "b.jsonl", other))
    for sid in ("s-1", "s-2", "s-3"):
        result = fake_hai.similar("org-a", solution_id=sid, k=10)
        assert result.neighbors, sid
        assert all("ORG B SECRET" not in n.solution.text for n in result.neighbors)
    result = fake_hai.similar("org-a", huddle_id="h-int", text="ORG B SECRET interviews", k=10)
    assert all("ORG B SECRET" not in n.solution.text for n in result.neighbors)
    exported = io.StringIO()
    fake_hai.export("org-a", exported)
    assert "ORG B SECRET" not in exported.getvalue()
    assert sorted(fake_hai.store.orgs()) == ["org-a", "org-b"]


def test_export_round_trip_is_lossless(fake_hai: HuddleAI, tmp_path: Path) -> None:
    fake_hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl"))
    first = io.StringIO()
    assert fake_hai.export("acme", first) == len(ALL)
    embedder = FakeEmbedder()
    fresh = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path / "fresh", embedder.id))
    report = fresh.ingest("acme", parse_jsonl(first.getvalue().splitlines()))
    assert report.added == len(ALL) and report.rejected == 0
    second = io.StringIO()
    fresh.export("acme", second)
    assert first.getvalue() == second.getvalue()
    original = {(r["kind"], r["id"]): r for r in ALL}
    assert set(original) == {(r.kind, r.id) for r in fresh.records("acme")}
    # every field survives, including optional ones
    fb = fresh.store.get("acme", "feedback", ["f-1"])["f-1"].model_dump(mode="json")
    assert fb["rubric"] == {"c-plan": "partial", "c-synth": "met"}
    assert fb["helpfulness"] == 0.9 and fb["assessment"] == "partial"


def test_delete_learner_removes_everything_of_theirs_from_the_vector_store(
    tmp_path: Path,
) -> None:
    embedder = FakeEmbedder()
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path / "s", embedder.id))
    hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl"))
    report = hai.delete_learner("acme", "l-ana")
    # s-1 (hers), f-1/f-2 (on her solution), f-3/f-4 (written by her)
    assert (report.learners, report.solutions, report.feedback) == (1, 1, 4)
    remaining = all_ids_in_chroma(tmp_path / "s")
    for gone in ("l-ana", "s-1", "f-1", "f-2", "f-3", "f-4"):
        assert gone not in remaining
    assert {"l-bo", "l-cy", "s-2", "s-3", "h-int"} <= remaining
    result = hai.similar("acme", huddle_id="h-int", text="customers onboarding wizard", k=10)
    assert [n.solution.id for n in result.neighbors if n.same_huddle] == ["s-2"]
    assert all(f.author_id != "l-ana" for n in result.neighbors for f in n.feedback)
    with pytest.raises(NotFoundError):
        hai.delete_learner("acme", "l-ana")


def test_delete_org_removes_its_collections_only(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path / "s", embedder.id))
    path = write_jsonl(tmp_path / "a.jsonl")
    hai.ingest("org-a", path)
    hai.ingest("org-b", path)
    hai.delete_org("org-a")
    assert hai.store.orgs() == ["org-b"]
    assert hai.store.count("org-a", "solution") == 0
    assert hai.store.count("org-b", "solution") == 3
    client = chromadb.PersistentClient(
        path=str(tmp_path / "s" / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    assert not [c.name for c in client.list_collections() if "org-a" in c.name]
    with pytest.raises(NotFoundError):
        hai.delete_org("org-a")


def test_store_refuses_vectors_from_another_backend(tmp_path: Path) -> None:
    a = FakeEmbedder(dim=64)
    HuddleAI(embedder=a, store=Store.embedded(tmp_path, a.id)).ingest(
        "acme", write_jsonl(tmp_path / "a.jsonl")
    )
    b = FakeEmbedder(dim=32)
    other = HuddleAI(embedder=b, store=Store.embedded(tmp_path, b.id))
    with pytest.raises(BackendMismatchError, match="reindex"):
        other.similar("acme", solution_id="s-1")


def test_server_mode_against_a_real_chroma_server(
    chroma_url: str, tmp_path: Path, db: Database
) -> None:
    embedder = FakeEmbedder()
    with pytest.raises(ConfigurationError, match="record database"):
        Store.server(chroma_url, embedder.id)
    hai = HuddleAI(embedder=embedder, store=Store.server(chroma_url, embedder.id, db))
    report = hai.ingest("srv-org", write_jsonl(tmp_path / "a.jsonl"))
    assert report.added == len(ALL)
    assert hai.ingest("srv-org", write_jsonl(tmp_path / "a.jsonl")).embedded == 0
    result = hai.similar("srv-org", solution_id="s-1", k=2)
    assert result.neighbors[0].solution.id == "s-2" and result.neighbors[0].same_huddle
    assert all(n.solution.id != "s-1" for n in result.neighbors)
    # a second client (another worker) sees the same data
    other_db = Database(db.url)
    second = HuddleAI(embedder=embedder, store=Store.server(chroma_url, embedder.id, other_db))
    out = io.StringIO()
    assert second.export("srv-org", out) == len(ALL)
    second.delete_learner("srv-org", "l-ana")
    assert hai.store.get("srv-org", "solution", ["s-1"]) == {}
    hai.delete_org("srv-org")
    assert "srv-org" not in second.store.orgs()
    other_db.dispose()
