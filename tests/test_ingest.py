"""Ingestion against real embedded Chroma: atomicity, idempotency, references, CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from huddle_ai import FakeEmbedder, HuddleAI, ImportRejectedError, Solution, Store
from huddle_ai.errors import InvalidInputError, InvalidOrganizationError
from tests.sample_data import ALL, FEEDBACK, HUDDLE, LEARNERS, SOLUTIONS, write_jsonl

ORG = "acme"


def counts(hai: HuddleAI, org: str = ORG) -> dict[str, int]:
    return {k: hai.store.count(org, k) for k in ("huddle", "learner", "solution", "feedback")}


def test_first_ingest_adds_everything(fake_hai: HuddleAI, tmp_path: Path) -> None:
    report = fake_hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl"))
    assert (report.added, report.updated, report.unchanged, report.rejected) == (len(ALL), 0, 0, 0)
    assert report.embedded == len(ALL)
    assert counts(fake_hai) == {"huddle": 2, "learner": 3, "solution": 3, "feedback": 4}


def test_reingest_is_a_no_op_without_embedding(fake_hai: HuddleAI, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl")
    fake_hai.ingest(ORG, path)
    embedder = fake_hai.embedder
    assert isinstance(embedder, FakeEmbedder)
    before = embedder.texts_embedded
    report = fake_hai.ingest(ORG, path)
    assert report.embedded == 0 and report.added == 0 and report.unchanged == len(ALL)
    assert embedder.texts_embedded == before, "unchanged records must not be re-embedded"
    assert counts(fake_hai)["solution"] == 3


def test_changed_content_updates_and_reembeds_only_that_record(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    fake_hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl"))
    changed = [dict(r) for r in ALL]
    s1 = next(r for r in changed if r["id"] == "s-1")
    s1["text"] = "I interviewed five customers about onboarding checklists and pricing pages."
    report = fake_hai.ingest(ORG, write_jsonl(tmp_path / "b.jsonl", changed))
    assert (report.added, report.updated, report.unchanged, report.embedded) == (
        0,
        1,
        len(ALL) - 1,
        1,
    )
    stored = fake_hai.solution(ORG, "s-1")
    assert stored.text.startswith("I interviewed five customers")
    # the vector changed too: the new text is now the nearest neighbour of itself
    hits = fake_hai.similar(ORG, huddle_id="h-int", text=s1["text"], k=1)  # type: ignore[arg-type]
    assert hits.neighbors[0].solution.id == "s-1"
    assert hits.neighbors[0].score > 0.99


def test_bad_lines_reject_whole_file_and_write_nothing(fake_hai: HuddleAI, tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in ALL]
    lines.insert(3, "{not json")
    bad_solution = dict(SOLUTIONS[0], id="s-bad", huddle_id="h-missing")
    lines.append(json.dumps(bad_solution))
    lines.append(json.dumps(dict(FEEDBACK[0], id="f-bad", helpfulness=1.5)))
    lines.append(json.dumps({"kind": "badge", "id": "x"}))
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRejectedError) as info:
        fake_hai.ingest(ORG, path)
    errors = {e.line: e for e in info.value.errors}
    assert set(errors) == {4, len(lines) - 2, len(lines) - 1, len(lines)}
    assert "not valid JSON" in errors[4].reason
    assert (
        "h-missing" in errors[len(lines) - 2].reason and errors[len(lines) - 2].record_id == "s-bad"
    )
    assert "helpfulness" in errors[len(lines) - 1].reason
    assert "kind" in errors[len(lines)].reason
    assert "nothing written" in str(info.value)
    assert counts(fake_hai) == {"huddle": 0, "learner": 0, "solution": 0, "feedback": 0}
    assert fake_hai.store.orgs() == []


def test_skip_invalid_writes_good_lines_and_reports_the_rest(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    rows = [*ALL, dict(SOLUTIONS[0], id="s-bad", learner_id="l-ghost")]
    report = fake_hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl", rows), skip_invalid=True)
    assert report.added == len(ALL) and report.rejected == 1
    assert report.errors[0].record_id == "s-bad" and "l-ghost" in report.errors[0].reason
    assert counts(fake_hai)["solution"] == 3


def test_feedback_on_rejected_solution_is_rejected_too(fake_hai: HuddleAI, tmp_path: Path) -> None:
    rows = [
        HUDDLE,
        *LEARNERS,
        dict(SOLUTIONS[0], huddle_id="h-nope"),
        FEEDBACK[0],
    ]
    report = fake_hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl", rows), skip_invalid=True)
    assert {e.record_id for e in report.errors} == {"s-1", "f-1"}
    assert counts(fake_hai)["feedback"] == 0


def test_references_resolve_against_the_store(fake_hai: HuddleAI, tmp_path: Path) -> None:
    fake_hai.ingest(ORG, write_jsonl(tmp_path / "base.jsonl", [HUDDLE, *LEARNERS]))
    report = fake_hai.ingest(ORG, write_jsonl(tmp_path / "more.jsonl", SOLUTIONS[:2]))
    assert report.added == 2
    fb = dict(FEEDBACK[0])
    report = fake_hai.ingest(ORG, write_jsonl(tmp_path / "fb.jsonl", [fb]))
    assert report.added == 1


def test_references_do_not_resolve_across_organizations(fake_hai: HuddleAI, tmp_path: Path) -> None:
    fake_hai.ingest("other-org", write_jsonl(tmp_path / "base.jsonl", [HUDDLE, *LEARNERS]))
    with pytest.raises(ImportRejectedError, match="h-int"):
        fake_hai.ingest(ORG, write_jsonl(tmp_path / "s.jsonl", SOLUTIONS[:1]))


def test_conflicting_duplicate_ids_in_one_file(fake_hai: HuddleAI, tmp_path: Path) -> None:
    rows = [*ALL, dict(LEARNERS[0], display_name="Someone Else")]
    with pytest.raises(ImportRejectedError, match="duplicate learner id, first defined on line"):
        fake_hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl", rows))


def test_csv_solutions_and_feedback(fake_hai: HuddleAI, tmp_path: Path) -> None:
    fake_hai.ingest(ORG, write_jsonl(tmp_path / "base.jsonl", [HUDDLE, *LEARNERS]))
    sol = tmp_path / "solutions.csv"
    sol.write_text(
        "id,huddle_id,learner_id,text,created_at\n"
        's-9,h-int,l-ana,"I ran three interviews, with quotes",2026-10-01T09:00:00Z\n'
    )
    fb = tmp_path / "feedback.csv"
    fb.write_text(
        "id,solution_id,author_id,author_role,text,helpfulness,rubric.c-plan,assessment\n"
        "f-9,s-9,l-bo,peer,Add a recruiting plan,0.75,partial,partial\n"
    )
    assert fake_hai.ingest(ORG, sol, kind="solution").added == 1
    assert fake_hai.ingest(ORG, fb, kind="feedback").added == 1
    stored = fake_hai.store.get(ORG, "feedback", ["f-9"])["f-9"]
    assert stored.model_dump()["rubric"] == {"c-plan": "partial"}
    assert stored.model_dump()["helpfulness"] == 0.75


def test_csv_without_kind_is_a_clear_error(fake_hai: HuddleAI, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,text\n1,hello\n")
    with pytest.raises(InvalidInputError, match="needs a 'kind' column"):
        fake_hai.ingest(ORG, path)


@pytest.mark.parametrize("org", ["A", "Acme", "ac me", "a__b", "-acme", "x" * 41, "../etc"])
def test_invalid_organization_ids_are_rejected(
    fake_hai: HuddleAI, tmp_path: Path, org: str
) -> None:
    with pytest.raises(InvalidOrganizationError):
        fake_hai.ingest(org, write_jsonl(tmp_path / "a.jsonl"))


def test_batches_not_one_record_at_a_time(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    embedder.batch_size = 4
    hai = HuddleAI(embedder=embedder, store=Store.embedded(tmp_path, embedder.id))
    rows: list[dict[str, object]] = [HUDDLE, *LEARNERS]
    rows += [
        dict(SOLUTIONS[0], id=f"s-{i}", text=f"solution number {i} about interviews")
        for i in range(150)
    ]
    hai.ingest(ORG, write_jsonl(tmp_path / "a.jsonl", rows))
    # 154 texts in chunks of batch_size*16 = 64: three embed calls, not 154
    assert embedder.calls == 3
    assert isinstance(hai.store.get(ORG, "solution", ["s-149"])["s-149"], Solution)


def test_csv_and_jsonl_with_a_byte_order_mark_import(tmp_path: Path) -> None:
    """Excel saves CSV with a UTF-8 byte-order mark; it is not part of the first field name."""
    from huddle_ai.index.formats import read_file

    csv_path = tmp_path / "s.csv"
    csv_path.write_bytes(
        b"\xef\xbb\xbfkind,id,huddle_id,learner_id,text,created_at\n"
        b"solution,s1,h1,l1,hello,2026-01-01T00:00:00Z\n"
    )
    got = read_file(csv_path)
    assert got.errors == [] and [r.id for _, r in got.records] == ["s1"]
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"kind": "learner", "id": "l1", "display_name": "Ana"}\n')
    got = read_file(jsonl)
    assert got.errors == [] and [r.id for _, r in got.records] == ["l1"]
