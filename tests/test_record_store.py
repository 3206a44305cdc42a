"""The record database is the system of record; Chroma is an index rebuilt from it.

The crash test runs the real ``huddle-ai ingest`` in a subprocess and SIGKILLs
it twice: inside the import's database transaction (nothing may be left) and
after the commit, while the index is written (everything must be there, and
the next start must bring the index into agreement). On SQLite and on the
machine's real PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import text

from huddle_ai import FakeEmbedder, HuddleAI, Store
from huddle_ai.index.database import Database
from huddle_ai.index.database import records as rows
from huddle_ai.index.store import KINDS
from huddle_ai.records import RecordAdapter
from huddle_ai.suggest.context import ContextCache
from tests.sample_data import ALL, write_jsonl

ORG = "crash-org"


def big_import(path: Path, solutions: int) -> tuple[Path, dict[str, int]]:
    """A JSONL import of every kind; returns it and its record count per kind."""
    when = datetime(2025, 3, 1, tzinfo=UTC).isoformat()
    lines: list[dict[str, object]] = []
    lines += [
        {
            "kind": "huddle",
            "id": f"h{i}",
            "title": f"Topic {i}",
            "prompt": "Improve it",
            "goal": "g",
        }
        for i in range(8)
    ]
    lines += [{"kind": "learner", "id": f"l{i}", "display_name": f"L {i}"} for i in range(60)]
    for i in range(solutions):
        lines.append(
            {
                "kind": "solution",
                "id": f"s{i}",
                "huddle_id": f"h{i % 8}",
                "learner_id": f"l{i % 60}",
                "text": f"solution {i}: we measured step {i % 13} against a baseline",
                "created_at": when,
            }
        )
        if i % 2 == 0:
            lines.append(
                {
                    "kind": "feedback",
                    "id": f"f{i}",
                    "solution_id": f"s{i}",
                    "author_id": f"l{(i + 1) % 60}",
                    "author_role": "peer",
                    "text": f"name the metric of step {i % 13}",
                    "helpfulness": (i % 5) / 4,
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    counts = {kind: sum(1 for line in lines if line["kind"] == kind) for kind in KINDS}
    return path, counts


def db_counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {kind: rows.count(s, ORG, kind) for kind in KINDS}


def pending(db: Database) -> int:
    with db.session() as s:
        return len(rows.pending(s, ORG))


def writer_active(db: Database) -> bool:
    """Whether another connection holds an open write transaction on ``db``."""
    if db.is_sqlite:
        probe = sqlite3.connect(db.url.split(":///", 1)[1], timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return True
            raise
        finally:
            if probe.in_transaction:
                probe.execute("ROLLBACK")
            probe.close()
        return False
    with db.engine.connect() as c:
        q = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return bool(c.execute(q).scalar())


def committed(db: Database) -> bool:
    with db.session() as s:
        return rows.generation(s, ORG) is not None


def kill_when(
    file: Path, data_dir: Path, db: Database, condition: Callable[[Database], bool]
) -> None:
    """Start ``huddle-ai ingest`` and SIGKILL it as soon as ``condition`` holds."""
    env = {
        **os.environ,
        "HUDDLE_AI_EMBEDDING_BACKEND": "fake",
        "HUDDLE_AI_DATABASE_URL": db.url,
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [sys.executable, "-m", "huddle_ai", "ingest", str(file), "--org", ORG, "--json"]
    log = data_dir.parent / "ingest.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*cmd, "--data-dir", str(data_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        deadline = time.monotonic() + 180
        try:
            while not condition(db):
                if proc.poll() is not None:
                    tail = log.read_text()[-800:]
                    pytest.fail(f"the import ended before the kill ({proc.returncode}): {tail}")
                if time.monotonic() > deadline:
                    pytest.fail("the import never reached the kill point")
                time.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def index_of(store: Store) -> dict[str, dict[str, str]]:
    return {kind: store.index_hashes(ORG, kind) for kind in KINDS}


def records_of(db: Database) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with db.session() as s:
        for kind in KINDS:
            got = rows.page(s, ORG, kind, None, 10**9)
            out[kind] = {rid: h for _, rid, h, _ in got}
    return out


@pytest.mark.integration  # real subprocesses
def test_sigkill_during_a_large_import_leaves_nothing_or_everything(
    db: Database, tmp_path: Path
) -> None:
    file, expected = big_import(tmp_path / "big.jsonl", solutions=1500)
    data_dir = tmp_path / "data"
    db.migrate()  # the schema exists before the import: the only writer is the import
    zero = dict.fromkeys(KINDS, 0)

    # 1. killed inside the import's transaction: nothing is left
    kill_when(file, data_dir, db, writer_active)
    assert db_counts(db) == zero
    assert pending(db) == 0

    # 2. killed after the commit, while the index is written: every record is there
    kill_when(file, data_dir, db, committed)
    assert db_counts(db) == expected
    assert pending(db) > 0  # the outbox names what the index may lack

    # 3. the next start brings the index into agreement with the records
    embedder = FakeEmbedder()
    restarted = HuddleAI(embedder=embedder, store=Store.embedded(data_dir, embedder.id, db))
    repaired = restarted.sync_index()
    assert set(repaired) == {ORG}
    assert pending(db) == 0
    assert index_of(restarted.store) == records_of(db)
    assert sum(len(v) for v in records_of(db).values()) == sum(expected.values())
    assert restarted.sync_index() == {}  # idempotent: nothing left to do
    again = restarted.ingest(ORG, file)
    assert again.embedded == 0 and again.unchanged == sum(expected.values())
    hits = restarted.similar(ORG, solution_id="s10", k=3).neighbors
    assert hits and all(n.solution.id != "s10" for n in hits)


def test_the_index_holds_vectors_hashes_and_filter_fields_not_records(
    tmp_path: Path,
) -> None:
    embedder = FakeEmbedder()
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl"))
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    got = client.get_collection("hai-acme-feedback").get(include=["metadatas", "documents"])
    assert got["ids"] and all(d is None for d in got["documents"] or [])
    keys = set().union(*(m.keys() for m in got["metadatas"] or []))
    assert "record" not in keys and {"hash", "solution_id", "author_id"} <= keys
    # the records themselves are in the database, with their hashes
    assert hai.database is hai.store.database
    with hai.store.database.session() as s:  # type: ignore[union-attr]
        stored = rows.hashes(s, "acme", "feedback", ["f-1"])
    assert stored == {"f-1": hai.store.get("acme", "feedback", ["f-1"])["f-1"].content_hash()}


def exported(hai: HuddleAI, org: str) -> str:
    out = io.StringIO()
    hai.export(org, out)
    return out.getvalue()


def test_reindex_rebuilds_a_lost_index_from_the_database_alone(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl"))
    before = exported(hai, "acme")
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    for col in client.list_collections():
        client.delete_collection(col.name)

    fresh = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    assert fresh.similar("acme", solution_id="s-1").neighbors == []  # no index left
    report = fresh.reindex("acme")
    assert report.previous == [] and report.reindexed == len(ALL)
    assert exported(fresh, "acme") == before
    result = fresh.similar("acme", solution_id="s-1", k=2)
    assert result.neighbors[0].solution.id == "s-2"
    assert index_of_org(fresh.store, "acme") == {
        r.id: r.content_hash() for r in fresh.records("acme")
    }


def index_of_org(store: Store, org: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for kind in KINDS:
        out.update(store.index_hashes(org, kind))
    return out


def test_a_data_directory_of_an_older_version_is_copied_into_the_database(
    tmp_path: Path,
) -> None:
    """Older versions kept each record as JSON in the Chroma metadata, nothing in SQL."""
    embedder = FakeEmbedder()
    records = [RecordAdapter.validate_python(r) for r in ALL]
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    for kind in KINDS:
        recs = [r for r in records if r.kind == kind]
        col = client.create_collection(
            f"hai-acme-{kind}",
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": embedder.id, "org": "acme", "kind": kind},
            embedding_function=None,
        )
        col.add(
            ids=[r.id for r in recs],
            embeddings=embedder.embed([r.embed_text() for r in recs]),
            documents=[r.embed_text() for r in recs],
            metadatas=[
                {"record": json.dumps(r.model_dump(mode="json")), "hash": r.content_hash()}
                | ({"huddle_id": r.huddle_id} if r.kind == "solution" else {})
                for r in recs
            ],
        )
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    assert hai.store.orgs() == ["acme"]
    assert {(r.kind, r.id) for r in hai.records("acme")} == {(r["kind"], r["id"]) for r in ALL}
    assert hai.similar("acme", solution_id="s-1", k=2).neighbors[0].solution.id == "s-2"
    # hashes came along: re-importing the same records embeds nothing
    assert hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl")).embedded == 0
    marks = {c.name: (c.metadata or {}).get("records") for c in client.list_collections()}
    assert set(marks.values()) == {"sql"}
    generation = hai.store.generation("acme")
    Store.embedded(tmp_path, embedder.id)  # opened again: nothing is copied twice
    assert hai.store.generation("acme") == generation


def test_every_write_renews_the_generation_and_a_rejected_one_does_not(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    store = fake_hai.store
    assert store.generation("acme") == "none"
    fake_hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl"))
    cache = ContextCache()
    scope = cache.scope(store, "acme")
    assert cache.scope(store, "acme") is scope
    first = store.generation("acme")
    with pytest.raises(Exception, match="unknown huddle_id"):
        fake_hai.ingest(
            "acme",
            [
                RecordAdapter.validate_python(
                    {
                        "kind": "solution",
                        "id": "s-x",
                        "huddle_id": "nope",
                        "learner_id": "l-ana",
                        "text": "t",
                        "created_at": "2025-01-01T00:00:00Z",
                    }
                )
            ],
        )
    assert store.generation("acme") == first
    fake_hai.delete_learner("acme", "l-bo")
    assert store.generation("acme") != first
    assert cache.scope(store, "acme") is not scope


def test_deletion_removes_from_the_database_and_the_index_of_one_org_only(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl")
    fake_hai.ingest("org-a", path)
    fake_hai.ingest("org-b", path)
    store = fake_hai.store
    fake_hai.delete_learner("org-a", "l-ana")
    for kind, rid in (("learner", "l-ana"), ("solution", "s-1"), ("feedback", "f-1")):
        assert store.get("org-a", kind, [rid]) == {}
        assert rid not in store.index_hashes("org-a", kind)
        assert set(store.get("org-b", kind, [rid])) == {rid}  # the other org keeps its own
    assert store.find("org-a", "feedback", {"author_id": "l-ana"}) == []
    fake_hai.delete_org("org-a")
    assert store.orgs() == ["org-b"]
    assert all(store.ids("org-a", "solution", {"huddle_id": h}) == [] for h in ("h-int", "h-pm"))
    assert index_of_org(store, "org-a") == {}
    assert index_of_org(store, "org-b") == {
        r.id: r.content_hash() for r in fake_hai.records("org-b")
    }


def test_a_deletion_the_index_missed_is_finished_by_the_next_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = FakeEmbedder()
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    hai.ingest("acme", write_jsonl(tmp_path / "a.jsonl"))

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies after the commit, before the index

    monkeypatch.setattr(hai.store, "_unindex", crash)
    with pytest.raises(KeyboardInterrupt):
        hai.delete_learner("acme", "l-ana")
    assert hai.store.get("acme", "solution", ["s-1"]) == {}  # committed
    assert "s-1" in hai.store.index_hashes("acme", "solution")  # the index lags

    restarted = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    assert restarted.similar("acme", huddle_id="h-int", text="onboarding", k=5).neighbors
    assert all(
        n.solution.id != "s-1" for n in restarted.similar("acme", solution_id="s-2").neighbors
    )
    assert restarted.sync_index() == {"acme": 6}  # l-ana, s-1, f-1..f-4 leave the index
    assert index_of_org(restarted.store, "acme") == {
        r.id: r.content_hash() for r in restarted.records("acme")
    }


def test_the_ci_postgresql_file_list_names_test_files_that_exist() -> None:
    """.ci/run runs tests/postgres_files.txt again on PostgreSQL: a renamed file must not
    silently drop out of that run."""
    here = Path(__file__).resolve().parent
    listed = [ln.strip() for ln in (here / "postgres_files.txt").read_text().splitlines()]
    assert listed and all(ln.startswith("tests/test_") for ln in listed)
    assert [ln for ln in listed if not (here.parent / ln).is_file()] == []
    assert "postgres_files.txt" in (here.parent / ".ci" / "run").read_text()
