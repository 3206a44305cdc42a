"""The CLI: summaries, JSON output, one-line errors and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from huddle_ai.cli import run
from tests.sample_data import ALL, write_jsonl


@pytest.fixture(autouse=True)
def _fake_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "fake")
    monkeypatch.setenv("HUDDLE_AI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HUDDLE_AI_CHROMA_URL", raising=False)


def test_ingest_summary_then_idempotent_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl")
    assert run(["ingest", str(path), "--org", "acme"]) == 0
    out = capsys.readouterr().out
    assert f"added {len(ALL)}, updated 0, unchanged 0, rejected 0" in out and "texts/s" in out
    assert run(["ingest", str(path), "--org", "acme", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["embedded"] == 0 and report["unchanged"] == len(ALL)


def test_similar_export_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["ingest", str(write_jsonl(tmp_path / "a.jsonl")), "--org", "acme"])
    capsys.readouterr()
    assert run(["similar", "--org", "acme", "--solution", "s-1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["neighbors"][0]["solution"]["id"] == "s-2"
    out = tmp_path / "export.jsonl"
    assert run(["export", "--org", "acme", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == len(ALL)
    assert run(["delete-learner", "--org", "acme", "--learner", "l-ana", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["solutions"] == 1
    assert run(["delete-org", "--org", "acme", "--yes"]) == 0
    assert run(["export", "--org", "acme"]) == 1
    assert "not found" in capsys.readouterr().err


def test_bad_file_reports_every_line_and_exits_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "learner", "id": "l-1"}\nnope\n')
    assert run(["ingest", str(bad), "--org", "acme"]) == 2
    err = capsys.readouterr().err
    assert "line 1 (id 'l-1'): invalid learner: field 'display_name'" in err
    assert "line 2: not valid JSON" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ingest", "/nonexistent.jsonl", "--org", "acme"], "no such file"),
        (["ingest", "{file}", "--org", "Bad Org"], "invalid organization id"),
        (["similar", "--org", "acme"], "give --solution"),
        (["similar", "--org", "acme", "--solution", "s-404"], "not found"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl")
    code = run([a.replace("{file}", str(path)) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "quantum")
    assert run(["ingest", str(write_jsonl(tmp_path / "a.jsonl")), "--org", "acme"]) == 2
    assert "invalid setting embedding_backend" in capsys.readouterr().err


def test_real_subprocess_exit_code_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "solution", "id": "s-1"}\n')
    env = dict(os.environ, HUDDLE_AI_EMBEDDING_BACKEND="fake", HUDDLE_AI_DATA_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "huddle_ai", "ingest", str(bad), "--org", "acme"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "line 1 (id 's-1')" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv", [["ingest"], ["similar", "--org", "acme", "--bogus"], ["nope"]])
def test_usage_errors_exit_2_without_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Usage: huddle-ai" in captured.err + captured.out
