"""Imports and the CLI never crash: every bad input is a one-line error naming
the line and the field, and nothing is written (real embedded Chroma)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from huddle_ai import HuddleAI, ImportRejectedError, records
from huddle_ai.cli import run
from huddle_ai.errors import InvalidInputError, InvalidOrganizationError
from huddle_ai.index.formats import loads_strict, parse_csv, parse_jsonl, read_file
from huddle_ai.records import RecordAdapter, validate_org
from tests.sample_data import ALL, HUDDLE, LEARNERS, SOLUTIONS, write_jsonl

KINDS = ("huddle", "learner", "solution", "feedback")


def counts(hai: HuddleAI, org: str = "acme") -> dict[str, int]:
    return {k: hai.store.count(org, k) for k in KINDS}


@pytest.fixture(autouse=True)
def _fake_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "fake")
    monkeypatch.setenv("HUDDLE_AI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HUDDLE_AI_CHROMA_URL", raising=False)


@pytest.mark.parametrize("org", ["acme\n", "acme\r\n", "\nacme", "acme ", "ac\nme", "ACME"])
def test_org_ids_are_matched_in_full(org: str) -> None:
    with pytest.raises(InvalidOrganizationError):
        validate_org(org)


def test_record_ids_and_rubric_keys_reject_a_trailing_newline() -> None:
    base = {**SOLUTIONS[0], "id": "s-1\n"}
    # str_strip_whitespace strips the id itself; an inner newline is still refused
    assert RecordAdapter.validate_python(base).id == "s-1"
    with pytest.raises(ValueError, match="id"):
        RecordAdapter.validate_python({**SOLUTIONS[0], "id": "s\n1"})
    feedback = {
        "kind": "feedback",
        "id": "f-1",
        "solution_id": "s-1",
        "author_id": "l-bo",
        "author_role": "peer",
        "text": "ok",
        "rubric": {"c\nplan": "met"},
    }
    with pytest.raises(ValueError, match="criterion"):
        RecordAdapter.validate_python(feedback)
    # the pattern as Python code uses it: matched in full
    assert re.fullmatch(records._ID, "c-plan") and not re.fullmatch(records._ID, "c-plan\n")


def test_cli_org_with_a_newline_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["ingest", str(write_jsonl(tmp_path / "a.jsonl")), "--org", "acme\n"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid organization id") and "Traceback" not in err


def _csv(text: str, kind: str | None = "solution") -> tuple[list[int], list[str]]:
    parsed = parse_csv(io.StringIO(text), kind)
    return [e.line for e in parsed.errors], [str(e) for e in parsed.errors]


HEAD = "id,huddle_id,learner_id,text,created_at\n"


def test_a_csv_field_over_the_limit_names_line_and_column() -> None:
    big = "x" * 131_073
    text = HEAD + f"s-1,h-int,l-ana,ok,2026-01-01T00:00:00Z\ns-2,h-int,l-ana,{big},2026\n"
    with pytest.raises(InvalidInputError) as info:
        parse_csv(io.StringIO(text), "solution")
    message = str(info.value)
    assert "line 3" in message and "field 'text'" in message and "131072" in message
    assert "\n" not in message
    quoted = HEAD + f's-2,h-int,l-ana,"{big[:70_000]}\n{big[:70_000]}",2026\n'
    with pytest.raises(InvalidInputError, match="field 'text'"):
        parse_csv(io.StringIO(quoted), "solution")


def test_a_csv_field_over_the_limit_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(HEAD + "s-2,h-int,l-ana," + "x" * 200_000 + ",2026-01-01T00:00:00Z\n")
    assert run(["ingest", str(path), "--org", "acme", "--kind", "solution"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 2" in err and "field 'text'" in err


def test_feedback_csv_rubric_columns() -> None:
    head = "kind,id,solution_id,author_id,author_role,text,rubric,rubric.c1\n"
    lines, errors = _csv(
        head
        + "feedback,f-1,s-1,l-1,peer,ok,3,met\n"  # a number next to rubric.c1
        + 'feedback,f-2,s-1,l-1,peer,ok,"{""c1"": ""partial""}",met\n'  # they disagree
        + 'feedback,f-3,s-1,l-1,peer,ok,"{""c1"": ""met""}",met\n'  # they agree: fine
        + 'feedback,f-4,s-1,l-1,peer,ok,"{""c2"": NaN}",\n'
        + 'feedback,f-5,s-1,l-1,peer,ok,"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]",\n',
        None,
    )
    assert lines == [2, 3, 5, 6]
    assert "column 'rubric' must hold a JSON object" in errors[0] and "f-1" in errors[0]
    assert "conflicts" in errors[1] and "rubric.c1" in errors[1]
    assert "NaN" in errors[2]


def test_csv_header_and_row_shape_problems() -> None:
    with pytest.raises(InvalidInputError, match="'text' appear twice"):
        parse_csv(io.StringIO("id,text,text\n1,a,b\n"), "solution")
    lines, errors = _csv(HEAD + "s-1,h,l,t,2026-01-01T00:00:00Z,extra,more\n")
    assert lines == [2] and "2 more field(s)" in errors[0]
    lines, errors = _csv(
        "id,solution_id,author_id,author_role,text,helpfulness\n"
        "f-1,s,a,peer,t,nan\nf-2,s,a,peer,t,inf\nf-3,s,a,peer,t,lots\n",
        "feedback",
    )
    assert lines == [2, 3, 4] and all("helpfulness" in e for e in errors)


def test_csv_nul_bytes_and_odd_quoting_do_not_crash() -> None:
    for text in [HEAD + 's-1,h,l,"unterminated\n', HEAD + "s-1,h,l,a\0b,2026\n", '"\n', ""]:
        try:
            parse_csv(io.StringIO(text), "solution")
        except InvalidInputError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_naive_created_at_is_a_line_numbered_error_and_nothing_is_written(
    fake_hai: HuddleAI, tmp_path: Path, fmt: str
) -> None:
    fake_hai.ingest("acme", parse_jsonl(json.dumps(r) for r in [HUDDLE, *LEARNERS]))
    before = counts(fake_hai)
    if fmt == "csv":
        path = tmp_path / "s.csv"
        path.write_text(
            HEAD + "s-1,h-int,l-ana,ok,2026-01-01T00:00:00Z\ns-2,h-int,l-ana,ok,2026-01-01T10:00\n"
        )
        bad_line = 3
    else:
        path = tmp_path / "s.jsonl"
        rows = [SOLUTIONS[0], {**SOLUTIONS[1], "created_at": "2026-01-01T10:00:00"}]
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        bad_line = 2
    with pytest.raises(ImportRejectedError) as info:
        fake_hai.ingest("acme", read_file(path, "solution"))
    (error,) = info.value.errors
    assert error.line == bad_line and "created_at" in error.reason and "timezone" in error.reason
    assert counts(fake_hai) == before


BAD_JSONL = {
    "NaN": '{"kind": "feedback", "helpfulness": NaN}',
    "Infinity": '{"kind": "feedback", "helpfulness": Infinity}',
    "1e999": '{"kind": "feedback", "helpfulness": 1e999}',
    "surrogate": '{"kind": "solution", "text": "\\ud83d"}',
    "deep": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"a":' * 3000 + "1" + "}" * 3000,
    "huge int": '{"id": ' + "7" * 5000 + "}",
}


@pytest.mark.parametrize("name", sorted(BAD_JSONL))
def test_hostile_jsonl_lines_are_line_errors(name: str) -> None:
    lines = [json.dumps(HUDDLE), BAD_JSONL[name]]
    parsed = parse_jsonl(lines)
    assert [e.line for e in parsed.errors] == [2], parsed.errors
    assert len(parsed.records) == 1


def test_loads_strict_messages_are_one_line() -> None:
    for text in ["[" * 100_000, "NaN", '"\\udc00"', b"\xff", "{", "1e500"]:
        with pytest.raises(InvalidInputError) as info:
            loads_strict(text)
        assert "\n" not in str(info.value)
    assert loads_strict('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


def test_cli_job_ids_outside_rqs_alphabet(capsys: pytest.CaptureFixture[str]) -> None:
    import os

    os.environ.setdefault("HUDDLE_AI_REDIS_URL", "redis://127.0.0.1:6379/12")
    for job_id in ["a.b", "a\nb", "../x"]:
        code = run(["jobs", "status", job_id])
        err = capsys.readouterr().err
        assert code in (1, 2) and err.startswith("error:") and "Traceback" not in err


def test_deep_jsonl_through_a_real_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n" + json.dumps(ALL[0]) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "huddle_ai", "ingest", str(path), "--org", "acme"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "nested more than" in proc.stderr
