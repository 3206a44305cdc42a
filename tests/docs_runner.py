"""Run the documentation's code blocks in one process (tests/test_docs_examples.py).

Reads a JSON list of blocks ``{"id", "lang", "code"}`` from the file named on the
command line and writes one JSON object per block, ``{"id", "ok", "detail"}``, to
the file named second. The environment (data directory, Redis, embedding backend)
is the caller's. The demo organization is ingested once, as ``demo``, before
the first block, as the docs' first session does.

Python blocks run with ``exec`` in a fresh namespace each, in this process, so the
embedding model and the Chroma client are built once for all of them. A shell line
that is a plain ``huddle-ai ...`` command runs through ``huddle_ai.cli.run`` in
this process too; any other shell line runs in bash. ``jsonl`` blocks are imported
into an organization of their own (core records with ``HuddleAI.ingest``,
accountability records with the accountability import); ``json`` blocks are parsed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

SHELL_SYNTAX = set("$|&;<>()`*?[]{}\\")
ACCOUNTABILITY_KINDS = {"enrollment", "commitment", "checkin", "event"}


def run_python(code: str, name: str) -> tuple[bool, str]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(code, name, "exec"), {"__name__": "__main__"})
    except BaseException:
        return False, out.getvalue()[-2000:] + traceback.format_exc(limit=6)
    return True, out.getvalue()[-500:]


def _commands(code: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comments dropped."""
    commands: list[str] = []
    pending = ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append(pending + line)
        pending = ""
    if pending:
        commands.append(pending)
    return commands


def run_shell(code: str) -> tuple[bool, str]:
    from huddle_ai.cli import run

    log: list[str] = []
    for command in _commands(code):
        words = command.split("#", 1)[0] if " #" in command else command
        plain = not (SHELL_SYNTAX & set(words.replace("'", "").replace('"', "")))
        argv = shlex.split(words) if plain else []
        if argv and argv[0] == "huddle-ai":
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code_ = run(argv[1:])
            log.append(f"$ {command}\n{out.getvalue()[-800:]}")
            if code_ != 0:
                return False, "\n".join(log) + f"\nexit code {code_}"
            continue
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            capture_output=True,
            text=True,
            timeout=300,
        )
        log.append(f"$ {command}\n{(proc.stdout + proc.stderr)[-800:]}")
        if proc.returncode != 0:
            return False, "\n".join(log) + f"\nexit code {proc.returncode}"
    return True, "\n".join(log)[-500:]


def run_jsonl(code: str, org: str) -> tuple[bool, str]:
    from huddle_ai import HuddleAI, Settings

    lines = [line for line in code.splitlines() if line.strip()]
    kinds = {json.loads(line).get("kind") for line in lines}
    hai = HuddleAI(Settings())
    try:
        if kinds <= ACCOUNTABILITY_KINDS:
            # allow_past_due: an example's due date must not expire with the calendar
            report: Any = hai.accountability().import_lines(org, lines, allow_past_due=True)
            return True, str(report)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "records.jsonl"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            ingested = hai.ingest(org, path)
        if ingested.rejected:
            return False, f"rejected: {ingested.errors}"
        return True, f"added {ingested.added}"
    except Exception:
        return False, traceback.format_exc(limit=4)


def run_json(code: str) -> tuple[bool, str]:
    try:
        json.loads(code)
    except ValueError as exc:
        return False, f"not valid JSON: {exc}"
    return True, "valid JSON"


def main(blocks_file: str, results_file: str) -> int:
    from huddle_ai import HuddleAI, Settings
    from huddle_ai.demo import demo_path

    HuddleAI(Settings()).ingest("demo", demo_path())
    blocks = json.loads(Path(blocks_file).read_text(encoding="utf-8"))
    home = Path.cwd()
    with open(results_file, "w", encoding="utf-8") as out:
        for i, block in enumerate(blocks):
            os.chdir(home)
            if block["lang"] == "python":
                ok, detail = run_python(block["code"], block["id"])
            elif block["lang"] == "json":
                ok, detail = run_json(block["code"])
            elif block["lang"] == "jsonl":
                ok, detail = run_jsonl(block["code"], f"docs-{i}")
            else:
                ok, detail = run_shell(block["code"])
            out.write(json.dumps({"id": block["id"], "ok": ok, "detail": detail}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
