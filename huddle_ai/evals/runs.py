"""The runs directory: one folder per run (run.json, report.md, report.html)
and ``history.jsonl`` with one summary line per run, for trends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huddle_ai.errors import InvalidInputError, NotFoundError

__all__ = ["history", "load_run", "save_run"]


def save_run(runs_dir: Path, run: dict[str, Any], reports: dict[str, str]) -> Path:
    """Write a run and its reports; append its summary to the history."""
    folder: Path = runs_dir / str(run["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(run, indent=1, ensure_ascii=False), "utf-8")
    for name, text in reports.items():
        (folder / name).write_text(text, "utf-8")
    summary = {
        "run_id": run["run_id"],
        "created_at": run["created_at"],
        "suite": run["suite"],
        "leave_one_huddle_out": bool(run.get("leave_one_huddle_out")),
        "variants": run["variants"],
        "metrics": {v: {m: s["mean"] for m, s in ms.items()} for v, ms in run["metrics"].items()},
        "passed": run.get("passed"),
    }
    with (runs_dir / "history.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(summary, ensure_ascii=False) + "\n")
    return folder


def history(runs_dir: Path, suite: str | None = None) -> list[dict[str, Any]]:
    """Run summaries, oldest first (optionally of one suite)."""
    path = runs_dir / "history.jsonl"
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path} line {n}: not valid JSON: {exc.msg}") from None
        if suite is None or row.get("suite") == suite:
            rows.append(row)
    return rows


def load_run(
    runs_dir: Path, ref: str, suite: str | None = None, *, leave_one_huddle_out: bool = False
) -> dict[str, Any]:
    """A run by id, by path to its ``run.json`` or folder, or ``latest`` (of ``suite``).

    ``latest`` is the latest run of the same kind: leave-one-huddle-out or not.
    """
    path = Path(ref)
    if ref == "latest":
        rows = [
            r
            for r in history(runs_dir, suite)
            if bool(r.get("leave_one_huddle_out")) == leave_one_huddle_out
        ]
        if not rows:
            raise NotFoundError(
                f"no earlier runs{f' of suite {suite!r}' if suite else ''} in {runs_dir}"
            )
        path = runs_dir / rows[-1]["run_id"]
    elif not path.exists():
        path = runs_dir / ref
    if path.is_dir():
        path = path / "run.json"
    if not path.is_file():
        raise NotFoundError(f"baseline run {ref!r} not found (looked in {runs_dir})")
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise InvalidInputError(f"{path}: not a run file (no 'metrics')")
    return data
