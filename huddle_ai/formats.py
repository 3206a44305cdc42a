"""Import and export formats: JSONL of all kinds, CSV of solutions or feedback.

Parsing never raises on a bad line: it returns the good records with their
line numbers and a :class:`LineError` per bad line, so the caller can report
every problem at once and decide whether to write anything.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from huddle_ai.errors import InvalidInputError, LineError
from huddle_ai.records import Feedback, Huddle, Learner, RecordAdapter, Solution

__all__ = ["Parsed", "parse_csv", "parse_jsonl", "read_file", "write_jsonl"]

AnyRecord = Huddle | Learner | Solution | Feedback
_CSV_KINDS = ("solution", "feedback")


@dataclass
class Parsed:
    """Records read from a source, each with its line number, plus the bad lines."""

    source: str
    records: list[tuple[int, AnyRecord]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


_ALL_KINDS = ("huddle", "learner", "solution", "feedback")


def describe(exc: ValidationError) -> str:
    """One line naming each bad field and why."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] in _ALL_KINDS:  # the union's tag, not a field
            loc = loc[1:]
        parts.append(f"field '{'.'.join(loc) or 'record'}': {err['msg']}")
    return "; ".join(parts)


def _validate(source: str, line: int, data: Any, parsed: Parsed) -> None:
    rid = data.get("id") if isinstance(data, dict) else None
    rid = rid if isinstance(rid, str) else None
    if not isinstance(data, dict):
        parsed.errors.append(LineError(line, "expected a JSON object", rid))
        return
    kind = data.get("kind")
    if kind not in _ALL_KINDS:
        parsed.errors.append(
            LineError(
                line, f"field 'kind' must be one of {', '.join(_ALL_KINDS)}, got {kind!r}", rid
            )
        )
        return
    try:
        parsed.records.append((line, RecordAdapter.validate_python(data)))
    except ValidationError as exc:
        parsed.errors.append(LineError(line, f"invalid {kind}: {describe(exc)}", rid))


def parse_jsonl(lines: Iterable[str], source: str = "<jsonl>") -> Parsed:
    parsed = Parsed(source)
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            parsed.errors.append(
                LineError(number, f"not valid JSON: {exc.msg} at column {exc.colno}")
            )
            continue
        _validate(source, number, data, parsed)
    return parsed


def _csv_row(row: dict[str, str], kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": row.get("kind") or kind}
    rubric: dict[str, str] = {}
    for key, value in row.items():
        if key is None or key == "kind":
            continue
        value = (value or "").strip()
        if key.startswith("rubric."):
            if value:
                rubric[key[len("rubric.") :]] = value
        elif key == "rubric":
            if value:
                data["rubric"] = json.loads(value)
        elif key == "skills":
            data["skills"] = [s.strip() for s in value.split(";") if s.strip()]
        elif value != "":
            data[key] = float(value) if key == "helpfulness" else value
    if rubric:
        data.setdefault("rubric", {}).update(rubric)
    return data


def parse_csv(stream: IO[str], kind: str | None, source: str = "<csv>") -> Parsed:
    """CSV with a header row; ``kind`` applies when the file has no ``kind`` column.

    Rubric levels come as ``rubric.<criterion_id>`` columns or one ``rubric``
    column holding a JSON object.
    """
    parsed = Parsed(source)
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    if "kind" not in header and kind not in _CSV_KINDS:
        raise InvalidInputError(f"{source}: CSV needs a 'kind' column or --kind solution|feedback")
    for row in reader:
        line = reader.line_num
        try:
            data = _csv_row(row, kind or "")
        except (ValueError, json.JSONDecodeError) as exc:
            parsed.errors.append(LineError(line, f"bad value: {exc}", row.get("id") or None))
            continue
        if data.get("kind") not in _CSV_KINDS:
            parsed.errors.append(
                LineError(line, f"CSV rows must be solution or feedback, got {data.get('kind')!r}")
            )
            continue
        _validate(source, line, data, parsed)
    return parsed


def read_file(path: Path, kind: str | None = None) -> Parsed:
    """Parse a ``.jsonl`` / ``.json`` / ``.csv`` file (by extension)."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if suffix == ".csv":
                return parse_csv(fh, kind, source=str(path))
            if suffix in (".jsonl", ".ndjson", ".json"):
                return parse_jsonl(fh, source=str(path))
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    raise InvalidInputError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv")


def dump_line(record: AnyRecord) -> str:
    return json.dumps(record.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


def write_jsonl(records: Iterable[AnyRecord], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(dump_line(record) + "\n")
        count += 1
    return count
