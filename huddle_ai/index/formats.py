"""Import and export formats: JSONL of all kinds, CSV of solutions or feedback.

Parsing never raises on a bad line: it returns the good records with their
line numbers and a :class:`LineError` per bad line, so the caller can report
every problem at once and decide whether to write anything.

Untrusted text is bounded before it is trusted: JSON must be strict (no
``NaN``/``Infinity``, no lone surrogates) and at most :data:`MAX_DEPTH` deep,
a JSONL line at most :data:`MAX_LINE_CHARS` long; a CSV field over the csv
module's limit ends the import with the line and column named.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from huddle_ai.errors import InvalidInputError, LineError
from huddle_ai.index.plausibility import kind_ignored
from huddle_ai.records import AnyRecord, RecordAdapter

__all__ = [
    "MAX_DEPTH",
    "MAX_LINE_CHARS",
    "Parsed",
    "loads_strict",
    "parse_csv",
    "parse_jsonl",
    "read_file",
    "write_jsonl",
]

_CSV_KINDS = ("solution", "feedback")


@dataclass
class Parsed:
    """Records read from a source, each with its line number, plus the bad lines and
    the warnings about the source itself (see :mod:`huddle_ai.index.plausibility`)."""

    source: str
    records: list[tuple[int, AnyRecord]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    warnings: list[LineError] = field(default_factory=list)


_ALL_KINDS = ("huddle", "learner", "solution", "feedback")

MAX_DEPTH = 32  # records nest 4 levels; anything far deeper is an attack or a bug
MAX_LINE_CHARS = 2_000_000


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_tree(data: Any, max_depth: int) -> None:
    """Depth and text checks without recursion (the input may be adversarial)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not valid JSON (numbers must be finite)")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise ValueError(f"nested more than {max_depth} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((item, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text holds a lone surrogate (not valid Unicode)") from None


def loads_strict(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted input; raises :class:`InvalidInputError` (one line)
    for invalid UTF-8, ``NaN``/``Infinity``, lone surrogates and deep nesting."""
    try:
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        data = json.loads(raw, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column" if exc.lineno > 1 else "column"
        raise InvalidInputError(f"not valid JSON: {exc.msg} at {where} {exc.colno}") from None
    except RecursionError:
        raise InvalidInputError(
            f"not valid JSON: nested more than {max_depth} levels deep"
        ) from None
    except ValueError as exc:
        raise InvalidInputError(f"not valid JSON: {exc}") from None
    try:
        _check_tree(data, max_depth)
    except ValueError as exc:
        raise InvalidInputError(f"not valid JSON: {exc}") from None
    return data


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
    rid = rid if isinstance(rid, str) and len(rid) <= 128 else None
    try:
        _check_tree(data, MAX_DEPTH)
    except ValueError as exc:
        parsed.errors.append(LineError(line, str(exc), rid))
        return
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
        if len(raw) > MAX_LINE_CHARS:
            parsed.errors.append(LineError(number, f"line over {MAX_LINE_CHARS} characters"))
            continue
        text = raw.strip()
        if not text:
            continue
        try:
            data = loads_strict(text)
        except InvalidInputError as exc:
            parsed.errors.append(LineError(number, str(exc)))
            continue
        _validate(source, number, data, parsed)
    return parsed


def _csv_row(row: dict[str | None, Any], kind: str) -> dict[str, Any]:
    """One CSV row as a record dict; ValueError names the bad column."""
    extra = row.get(None)
    if extra:
        raise ValueError(f"{len(extra)} more field(s) than the header has")
    data: dict[str, Any] = {"kind": row.get("kind") or kind}
    rubric: dict[str, str] = {}
    for key, raw in row.items():
        if key is None or key == "kind":
            continue
        value = (raw or "").strip()
        if key.startswith("rubric."):
            if value:
                rubric[key[len("rubric.") :]] = value
        elif key == "rubric":
            if value:
                try:
                    levels = loads_strict(value)
                except InvalidInputError as exc:
                    raise ValueError(f"column 'rubric': {exc}") from None
                if not isinstance(levels, dict):
                    raise ValueError(
                        "column 'rubric' must hold a JSON object of criterion levels, "
                        f"got {type(levels).__name__}"
                    )
                data["rubric"] = levels
        elif key == "skills":
            data["skills"] = [s.strip() for s in value.split(";") if s.strip()]
        elif key == "helpfulness" and value:
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"column 'helpfulness' is not a number: {value[:40]!r}") from None
            if not math.isfinite(number):
                raise ValueError(f"column 'helpfulness' is not a finite number: {value[:40]!r}")
            data[key] = number
        elif value != "":
            data[key] = value
    if rubric:
        given = data.setdefault("rubric", {})
        for cid, level in rubric.items():
            if cid in given and given[cid] != level:
                raise ValueError(
                    f"column 'rubric.{cid}' ({level!r}) conflicts with column 'rubric' "
                    f"({given[cid]!r})"
                )
            given[cid] = level
    return data


class _Lines:
    """The lines a csv reader consumes, remembering those of the current record
    (to name the column of a field the reader refused)."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._it = iter(stream)
        self.current: list[str] = []
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.current.append(line)
        self.count += 1
        return line

    @property
    def record_start(self) -> int:
        """The line number the current record starts on."""
        return self.count - len(self.current) + 1


def _field_index(text: str, limit: int) -> int | None:
    """Index of the first field of a CSV record longer than ``limit`` (quote-aware)."""
    index, size, quoted, i = 0, 0, False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text[i + 1 : i + 2] == '"':
                size, i = size + 1, i + 1
            elif ch == '"':
                quoted = False
            else:
                size += 1
        elif ch == '"':
            quoted = True
        elif ch == ",":
            index, size = index + 1, 0
        elif ch not in "\r\n":
            size += 1
        if size > limit:
            return index
        i += 1
    return None


def _csv_failure(source: str, lines: _Lines, line: int, header: list[str], exc: Exception) -> str:
    where = f"{source}: line {line}"
    if "field larger than field limit" in str(exc):
        limit = csv.field_size_limit()
        index = _field_index("".join(lines.current), limit)
        column = header[index] if index is not None and index < len(header) else None
        name = f" '{column}'" if column else ""
        return f"{where}: field{name} is over {limit} characters; nothing written"
    return f"{where}: not valid CSV ({exc}); nothing written"


def parse_csv(stream: IO[str], kind: str | None, source: str = "<csv>") -> Parsed:
    """CSV with a header row; ``kind`` applies when the file has no ``kind`` column.

    Rubric levels come as ``rubric.<criterion_id>`` columns or one ``rubric``
    column holding a JSON object (both may be given if they agree). A field the
    csv module refuses (over its size limit, or malformed) ends the import with
    :class:`InvalidInputError` naming the line and column.
    """
    parsed = Parsed(source)
    lines = _Lines(stream)
    reader = csv.DictReader(lines)
    header: list[str] = []
    try:
        header = list(reader.fieldnames or [])
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            names = ", ".join(repr(h) for h in twice)
            raise InvalidInputError(f"{source}: line 1: column(s) {names} appear twice")
        if "kind" not in header and kind not in _CSV_KINDS:
            raise InvalidInputError(
                f"{source}: CSV needs a 'kind' column or --kind solution|feedback"
            )
        lines.current = []
        for row in reader:
            line = reader.line_num
            lines.current = []
            try:
                data = _csv_row(row, kind or "")
            except ValueError as exc:
                rid = row.get("id")
                parsed.errors.append(
                    LineError(line, str(exc), rid if rid and len(rid) <= 128 else None)
                )
                continue
            if data.get("kind") not in _CSV_KINDS:
                parsed.errors.append(
                    LineError(
                        line, f"CSV rows must be solution or feedback, got {data.get('kind')!r}"
                    )
                )
                continue
            _validate(source, line, data, parsed)
    except csv.Error as exc:
        raise InvalidInputError(
            _csv_failure(source, lines, lines.record_start, header, exc)
        ) from None
    return parsed


def read_file(path: Path, kind: str | None = None) -> Parsed:
    """Parse a ``.jsonl`` / ``.json`` / ``.csv`` file (by extension)."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        # utf-8-sig: Excel writes CSV with a byte-order mark, which is not part of a field name
        with path.open(encoding="utf-8-sig", newline="") as fh:
            if suffix == ".csv":
                return parse_csv(fh, kind, source=str(path))
            if suffix in (".jsonl", ".ndjson", ".json"):
                parsed = parse_jsonl(fh, source=str(path))
                if kind is not None:
                    parsed.warnings.append(kind_ignored(kind))
                return parsed
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    raise InvalidInputError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv")


def dump_line(record: AnyRecord) -> str:
    return json.dumps(record.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


def write_jsonl(records: Iterable[AnyRecord], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(dump_line(record) + "\n")
        count += 1
    return count
