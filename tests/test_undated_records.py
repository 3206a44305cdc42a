"""Records without ``created_at`` (a platform that keeps no time), end to end.

Solutions and feedback without a time import from JSONL and CSV on SQLite and
on the machine's real PostgreSQL (the ``db`` fixture), hash the same whatever
the format, re-import as unchanged, export and re-import to the same records,
and reach the index without a ``created_at`` key. A database made before
``created_at`` became optional takes them after ``migrate()``, and its dated
records keep their hashes. Matching weighs an undated exchange as neither
recent nor old, and context history ranks undated solutions after dated ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chromadb
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from chromadb.config import Settings as ChromaSettings

from huddle_ai import FakeEmbedder, HuddleAI, Store
from huddle_ai.index.database import Database
from huddle_ai.index.database import records as rows
from huddle_ai.index.database.engine import MIGRATIONS
from huddle_ai.index.database.models import UTCDateTime
from huddle_ai.matching.explain import _novelty
from huddle_ai.matching.history import UNDATED_WEIGHT, load_history
from huddle_ai.records import RecordAdapter, Solution
from huddle_ai.suggest.context import build_context
from tests.sample_data import HUDDLE, LEARNERS, write_jsonl

ORG = "acme"
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
Rec = dict[str, object]

UNDATED: list[Rec] = [
    {
        "kind": "solution",
        "id": "s-u1",
        "huddle_id": "h-int",
        "learner_id": "l-ana",
        "text": "I interviewed three trial users about onboarding; two got stuck in the wizard.",
    },
    {
        "kind": "solution",
        "id": "s-u2",
        "huddle_id": "h-int",
        "learner_id": "l-bo",
        "text": "Two onboarding interviews: billing surprises came up in both.",
    },
]
UNDATED_FEEDBACK: Rec = {
    "kind": "feedback",
    "id": "f-u1",
    "solution_id": "s-u1",
    "author_id": "l-bo",
    "author_role": "peer",
    "text": "Quote the user who got stuck; it is your strongest finding.",
    "rubric": {"c-plan": "partial"},
    "assessment": "partial",
}


def hai_on(db: Database, path: Path) -> HuddleAI:
    embedder = FakeEmbedder()
    return HuddleAI(embedder=embedder, store=Store.embedded(path, embedder.id, database=db))


def write_csv(path: Path, records: list[dict[str, object]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, columns)
        out.writeheader()
        for r in records:
            out.writerow({c: r.get(c, "") for c in columns})
    return path


def exported(hai: HuddleAI, org: str) -> str:
    out = io.StringIO()
    hai.export(org, out)
    return out.getvalue()


def stored_hashes(db: Database, org: str, kind: str) -> dict[str, str]:
    with db.session() as s:
        return {rid: h for _, rid, h, _ in rows.page(s, org, kind, None, 10**6)}


def test_undated_solutions_import_from_jsonl_and_csv_and_reimport_unchanged(
    db: Database, tmp_path: Path
) -> None:
    hai = hai_on(db, tmp_path / "store")
    base = write_jsonl(tmp_path / "base.jsonl", [HUDDLE, *LEARNERS])
    assert hai.ingest(ORG, base).added == 1 + len(LEARNERS)
    jsonl = write_jsonl(tmp_path / "undated.jsonl", [UNDATED[0], UNDATED_FEEDBACK])
    # the CSV has no created_at column at all; a CSV with an empty cell means the same
    no_column = write_csv(
        tmp_path / "a.csv", [UNDATED[1]], ["id", "huddle_id", "learner_id", "text"]
    )
    empty_cell = write_csv(
        tmp_path / "b.csv", [UNDATED[1]], ["id", "huddle_id", "learner_id", "text", "created_at"]
    )

    first = hai.ingest(ORG, jsonl)
    assert (first.added, first.rejected, first.errors) == (2, 0, [])
    assert hai.ingest(ORG, no_column, kind="solution").added == 1
    sols = {r.id: r for r in hai.records(ORG) if isinstance(r, Solution)}
    assert {sid: s.created_at for sid, s in sols.items()} == {"s-u1": None, "s-u2": None}

    generation = hai.store.generation(ORG)
    hashes = {k: stored_hashes(db, ORG, k) for k in ("solution", "feedback")}
    for source, kind in ((jsonl, None), (no_column, "solution"), (empty_cell, "solution")):
        again = hai.ingest(ORG, source, kind=kind)
        assert (again.added, again.updated, again.embedded) == (0, 0, 0), source.name
        assert again.unchanged > 0
    assert hai.store.generation(ORG) == generation  # nothing was written
    assert {k: stored_hashes(db, ORG, k) for k in hashes} == hashes
    # the hash is the record's, not the format's: the stored one is recomputed exactly
    assert hashes["solution"] == {sid: s.content_hash() for sid, s in sols.items()}

    # the index holds no created_at key (Chroma stores no None) and matches the database
    assert hai.store.index_hashes(ORG, "solution") == hashes["solution"]
    client = chromadb.PersistentClient(
        path=str(tmp_path / "store" / "chroma"),
        settings=ChromaSettings(anonymized_telemetry=False),
    )
    for kind in ("solution", "feedback"):
        metas = client.get_collection(f"hai-{ORG}-{kind}").get(include=["metadatas"])["metadatas"]
        assert metas and all("created_at" not in m and None not in m.values() for m in metas)

    # a time given later is a change
    dated = {**UNDATED[0], "created_at": "2026-09-14T10:00:00Z"}
    later = hai.ingest(ORG, write_jsonl(tmp_path / "dated.jsonl", [dated]))
    assert (later.updated, later.embedded) == (1, 1)
    assert stored_hashes(db, ORG, "solution")["s-u1"] != hashes["solution"]["s-u1"]
    assert hai.store.generation(ORG) != generation


def test_export_then_import_gives_the_same_undated_records(db: Database, tmp_path: Path) -> None:
    hai = hai_on(db, tmp_path / "store")
    hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl", [HUDDLE, *LEARNERS, *UNDATED]))
    hai.ingest(ORG, write_jsonl(tmp_path / "f.jsonl", [UNDATED_FEEDBACK]))
    text = exported(hai, ORG)
    lines = [json.loads(line) for line in text.splitlines()]
    undated = [r for r in lines if r["kind"] in ("solution", "feedback")]
    assert len(undated) == 3 and all("created_at" not in r for r in undated)

    out = tmp_path / "export.jsonl"
    out.write_text(text, encoding="utf-8")
    report = hai.ingest("beta", out)
    assert (report.added, report.rejected) == (len(lines), 0)
    assert hai.records("beta") == hai.records(ORG)
    assert exported(hai, "beta") == text
    assert hai.ingest(ORG, out).unchanged == len(lines)  # the export is what is stored


def _given_hash(record: dict[str, object]) -> str:
    """The hash of exactly the fields given: what an older release stored for a
    solution that names every field (it had no optional ones)."""
    payload = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def test_a_database_of_the_previous_schema_takes_undated_solutions(
    db: Database, tmp_path: Path
) -> None:
    """The solution table keeps ``created_at`` only inside the record JSON, so no
    column changes; a database an older release made (every solution dated) is
    brought up to date by ``migrate()`` and its dated records keep their hashes."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = db.engine
    command.upgrade(cfg, "0002_records")  # the record tables as the older release made them
    dated = {**UNDATED[0], "id": "s-old", "created_at": "2026-09-01T10:00:00Z"}
    old_rows: list[tuple[str, Rec]] = [
        ("huddle", HUDDLE),
        *(("learner", r) for r in LEARNERS),
        ("solution", dated),
    ]
    with db.engine.begin() as c:
        org_table = sa.table(
            "organization",
            sa.column("org"),
            sa.column("generation"),
            sa.column("created_at", UTCDateTime()),
        )
        c.execute(sa.insert(org_table).values(org=ORG, generation="g0", created_at=NOW))
        for seq, (kind, rec) in enumerate(old_rows, start=1):
            row: Rec = {"org": ORG, "id": rec["id"], "seq": seq, "record": json.dumps(rec)}
            if kind == "solution":
                row |= {"huddle_id": rec["huddle_id"], "learner_id": rec["learner_id"]}
                row["hash"] = _given_hash(rec)
            else:
                row["hash"] = RecordAdapter.validate_python(rec).content_hash()
            c.execute(sa.insert(sa.table(kind, *(sa.column(n) for n in row))).values(row))
    hai = hai_on(db, tmp_path / "store")
    old_file = write_jsonl(tmp_path / "old.jsonl", [HUDDLE, *LEARNERS, dated])
    again = hai.ingest(ORG, old_file)  # the first session runs the remaining migrations
    with db.engine.connect() as c:
        heads = {r[0] for r in c.execute(sa.text("SELECT version_num FROM alembic_version"))}
    assert "0002_records" in heads and len(heads) == 2  # both branches at their heads
    # a dated solution hashes as before: re-importing the older release's data rewrites nothing
    assert (again.added, again.updated) == (0, 0)
    assert again.unchanged == 2 + len(LEARNERS)
    report = hai.ingest(ORG, write_jsonl(tmp_path / "new.jsonl", UNDATED))
    assert (report.added, report.rejected) == (2, 0)
    got = {r.id: r.created_at for r in hai.records(ORG) if isinstance(r, Solution)}
    assert got == {"s-old": datetime(2026, 9, 1, 10, tzinfo=UTC), "s-u1": None, "s-u2": None}
    assert hai.ingest(ORG, write_jsonl(tmp_path / "new.jsonl", UNDATED)).unchanged == 2


# -- readers of created_at: matching and context ---------------------------------------

PEOPLE: list[Rec] = [
    {"kind": "learner", "id": f"l-{n}", "display_name": n.title(), "team": t}
    for n, t in (("ada", "A"), ("bea", "B"), ("cal", "A"), ("dev", "B"), ("eve", "A"), ("fay", "B"))
]


def _exchange(
    sid: str, writer: str, reviewer: str, when: datetime | None
) -> list[dict[str, object]]:
    sol: dict[str, object] = {
        "kind": "solution",
        "id": sid,
        "huddle_id": "h-int",
        "learner_id": writer,
        "text": f"Interview notes {sid}: three users, one shared complaint about setup.",
    }
    fb: dict[str, object] = {
        "kind": "feedback",
        "id": f"f-{sid}",
        "solution_id": sid,
        "author_id": reviewer,
        "author_role": "peer",
        "text": f"Add a quote to {sid}.",
        "helpfulness": 0.6,
        "rubric": {"c-plan": "met"},
        "assessment": "met",
    }
    if when is not None:
        sol["created_at"] = when.isoformat()
    return [sol, fb]


def test_matching_weighs_an_undated_exchange_as_neither_recent_nor_old(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    half_life = 30.0
    records: list[Rec] = [
        HUDDLE,
        *PEOPLE,
        *_exchange("s-old", "l-ada", "l-bea", NOW - timedelta(days=10 * half_life)),
        *_exchange("s-und", "l-cal", "l-dev", None),
        *_exchange("s-new", "l-eve", "l-fay", NOW),
    ]
    fake_hai.ingest(ORG, write_jsonl(tmp_path / "mix.jsonl", records))
    history = load_history(fake_hai.store, ORG, now=NOW, half_life_days=half_life)
    row = history.index
    old = history.contact[row["l-ada"], row["l-bea"]]
    undated = history.contact[row["l-cal"], row["l-dev"]]
    recent = history.contact[row["l-eve"], row["l-fay"]]
    assert old < undated < recent
    assert undated == UNDATED_WEIGHT == pytest.approx(0.5**1)  # one half-life old
    assert recent == pytest.approx(1.0) and old == pytest.approx(0.5**10)
    # an old exchange is explained as long ago; an undated one may be recent, so it is not
    ada, bea, cal, dev = (row[k] for k in ("l-ada", "l-bea", "l-cal", "l-dev"))
    assert "long ago" in (_novelty(history, ada, bea, 0.99) or "")
    assert _novelty(history, cal, dev, 0.61) is None

    # without any dated record and no `now`, history and matching still work
    history = load_history(fake_hai.store, ORG, half_life_days=0.0)
    assert history.contact[row["l-cal"], row["l-dev"]] == 1.0  # no decay: every exchange counts
    partners = fake_hai.match_partners(ORG)
    placed = [m for g in partners.groups for m in g.members] + partners.unmatched
    assert sorted(placed) == sorted(row) and partners.groups


def test_context_history_ranks_undated_solutions_after_dated_ones(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    # stored in the order u1, d1, u2, d2: dated ones are newest by time, u2 by storage
    d1, d2 = NOW - timedelta(days=3), NOW - timedelta(days=1)
    records: list[Rec] = [HUDDLE, *PEOPLE]
    for sid, writer, when in (
        ("s-u1", "l-ada", None),
        ("s-d1", "l-bea", d1),
        ("s-u2", "l-cal", None),
        ("s-d2", "l-dev", d2),
    ):
        records += _exchange(sid, writer, "l-fay", when)
    fake_hai.ingest(ORG, write_jsonl(tmp_path / "ctx.jsonl", records))

    def history(limit: int) -> list[str]:
        ctx = build_context(
            fake_hai.store,
            fake_hai.embedder,
            ORG,
            text="I ran three interviews.",
            huddle_id="h-int",
            history_limit=limit,
        )
        return [h.id for h in ctx.history]

    assert history(10) == ["s-d1", "s-d2", "s-u1", "s-u2"]
    assert history(2) == ["s-d1", "s-d2"]  # the undated give way first
    assert history(3) == ["s-d1", "s-d2", "s-u2"]  # among them, the last stored stays


def test_an_eval_suite_without_times_scores_as_the_dated_one(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    from huddle_ai.evals import Variant, load_suite, run_suite
    from huddle_ai.evals.baselines import AlwaysMajority, NearestCopy
    from tests.test_eval_loho import write_suite

    (tmp_path / "dated").mkdir()
    dated = write_suite(tmp_path / "dated")
    (tmp_path / "undated").mkdir()
    undated = write_suite(tmp_path / "undated", org="eval-undated-tiny")
    data = undated.parent / "data.jsonl"
    lines = [json.loads(line) for line in data.read_text().splitlines()]
    assert sum("created_at" in r for r in lines) == 8
    for r in lines:
        r.pop("created_at", None)
    data.write_text("".join(json.dumps(r) + "\n" for r in lines))

    def outputs(path: Path, loho: bool) -> dict[str, list[object]]:
        gens = {"always_majority": AlwaysMajority(), "nn_copy": NearestCopy()}
        result = run_suite(
            load_suite(path),
            fake_hai,
            lambda v: gens[v.generator],
            variants=[Variant(g) for g in gens],
            leave_one_huddle_out=loho,
        )
        return {
            c["id"]: [c["outputs"][g][0]["assessment"] for g in sorted(gens)]
            for c in result["cases"]
        }

    for loho in (False, True):
        got = outputs(undated, loho)
        assert len(got) == 9 and got == outputs(dated, loho)
