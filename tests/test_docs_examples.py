"""Every code block in README.md and docs/ runs, or says why it cannot.

A block is marked not runnable by an HTML comment on the line right before its
fence: ``<!-- not-run: the reason -->``. Every other block must be Python, a
shell block, JSONL records (imported) or a JSON document (parsed), and must
succeed. All of them run in one
subprocess (tests/docs_runner.py) with a temporary HUDDLE_AI_DATA_DIR holding
the ingested demo organization, HF_HUB_OFFLINE=1 and the suite's Redis.

The blocks run with the deterministic fake embedder: they check that the
documented calls and commands work as written, not retrieval quality (which is
measured with the real model elsewhere), and loading MiniLM for each of them
would take minutes on two cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = {
    "python": "python",
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "jsonl": "jsonl",
    "json": "json",
}
NOT_RUN = re.compile(r"^<!-- not-run: (?P<reason>.*?) -->$")
FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    id: str
    lang: str
    code: str
    marker: str | None  # the line before the fence, when it is an HTML comment


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != m["ticks"]:
            end += 1
        before = lines[i - 1].strip() if i > 0 else ""
        code = "\n".join(line[len(m["indent"]) :] for line in lines[i + 1 : end])
        found.append(
            Block(
                id=f"{path.relative_to(ROOT)}:{i + 1}",
                lang=m["lang"].lower(),
                code=code,
                marker=before if before.startswith("<!--") else None,
            )
        )
        i = end + 1
    return found


ALL = [b for path in documents() for b in blocks(path)]
TO_RUN = [b for b in ALL if b.marker is None and b.lang in RUNNABLE]


def test_every_block_runs_or_says_why_not() -> None:
    problems = []
    for b in ALL:
        if b.marker is not None:
            m = NOT_RUN.match(b.marker)
            if m is None or len(m["reason"].strip()) < 8:
                problems.append(
                    f"{b.id}: comment before the fence is not '<!-- not-run: reason -->'"
                )
        elif b.lang not in RUNNABLE:
            problems.append(f"{b.id}: a {b.lang or 'plain'} block needs '<!-- not-run: reason -->'")
    assert not problems, "\n".join(problems)
    assert len(TO_RUN) >= 10, "the docs should carry runnable examples"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> dict[str, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("docs-examples")
    work = tmp / "work"
    work.mkdir()
    (tmp / "blocks.json").write_text(
        json.dumps([{"id": b.id, "lang": RUNNABLE[b.lang], "code": b.code} for b in TO_RUN])
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HUDDLE_AI_") or k == "HUDDLE_AI_TEST_REDIS_URL"
    }
    env.update(
        HF_HUB_OFFLINE="1",
        HUDDLE_AI_DATA_DIR=str(tmp / "data"),
        HUDDLE_AI_EMBEDDING_BACKEND="fake",
        HUDDLE_AI_REDIS_URL=redis_url,
        HUDDLE_AI_EVAL_RUNS_DIR=str(tmp / "eval-runs"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "docs_runner.py"),
            str(tmp / "blocks.json"),
            str(tmp / "results.jsonl"),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = {}
    for line in (tmp / "results.jsonl").read_text().splitlines():
        row = json.loads(line)
        out[row["id"]] = row
    return out


@pytest.mark.slow
@pytest.mark.parametrize("block", TO_RUN, ids=[b.id for b in TO_RUN])
def test_block_runs(block: Block, results: dict[str, dict[str, str]]) -> None:
    row = results[block.id]
    assert row["ok"], f"{block.id} failed:\n{row['detail']}"
