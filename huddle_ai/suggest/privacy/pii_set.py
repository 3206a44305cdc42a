"""The labelled PII set: items of text with the spans that must be redacted.

Items are authored one a line in ``*.txt`` with inline marks
(``Call [[phone:+33 6 12 34 56 78]] today``) and stored as JSONL
(``{"text": ..., "spans": [{"start", "end", "category", "text"}]}``) next to
them; :func:`parse_marked` turns one into the other. ``roster.json`` holds
the organization's learner names every item is redacted against.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CATEGORIES",
    "SPLITS",
    "GoldSpan",
    "LabelledItem",
    "Roster",
    "load",
    "load_roster",
    "marked_lines",
    "parse_marked",
    "pii_set_dir",
    "to_json",
    "write_jsonl",
]

CATEGORIES = (
    "email", "phone", "address", "iban", "card", "national_id", "ip", "url", "learner", "person",
)  # fmt: skip
SPLITS = ("tuning", "heldout", "probe")
_MARK = re.compile(r"\[\[(\w+):(.*?)\]\]")


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    category: str


@dataclass(frozen=True)
class LabelledItem:
    text: str
    spans: tuple[GoldSpan, ...]


@dataclass(frozen=True)
class Roster:
    names: tuple[str, ...]
    keep: str | None


def parse_marked(line: str) -> LabelledItem:
    """One authored line (``[[category:text]]`` marks) as a labelled item."""
    out: list[str] = []
    spans: list[GoldSpan] = []
    last = 0
    length = 0
    for m in _MARK.finditer(line):
        out.append(line[last : m.start()])
        length += m.start() - last
        category, value = m.group(1), m.group(2)
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r} in {line!r}")
        spans.append(GoldSpan(length, length + len(value), category))
        out.append(value)
        length += len(value)
        last = m.end()
    out.append(line[last:])
    return LabelledItem("".join(out), tuple(spans))


def marked_lines(path: Path) -> list[str]:
    """The item lines of an authored ``.txt`` file (comments and blanks skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [x for x in lines if x.strip() and not x.startswith("#")]


def to_json(item: LabelledItem) -> str:
    spans = [
        {"start": s.start, "end": s.end, "category": s.category, "text": item.text[s.start : s.end]}
        for s in item.spans
    ]
    return json.dumps({"text": item.text, "spans": spans}, ensure_ascii=False)


def load(directory: Path, split: str) -> list[LabelledItem]:
    """The items of ``split`` ("tuning" or "heldout") from ``directory``."""
    items = []
    for line in (directory / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            spans = tuple(GoldSpan(s["start"], s["end"], s["category"]) for s in data["spans"])
            items.append(LabelledItem(data["text"], spans))
    return items


def load_roster(directory: Path) -> Roster:
    data = json.loads((directory / "roster.json").read_text(encoding="utf-8"))
    return Roster(names=tuple(data["names"]), keep=data.get("keep"))


def pii_set_dir() -> Path:
    """The set in the wheel (``huddle_ai/_evals/pii_set``) or in the checkout."""
    package = Path(__file__).resolve().parents[2]  # huddle_ai/
    for candidate in (package / "_evals" / "pii_set", package.parent / "evals" / "pii_set"):
        if (candidate / "roster.json").exists():
            return candidate
    raise FileNotFoundError("the labelled PII set (evals/pii_set) is not installed")


def write_jsonl(directory: Path) -> None:
    """Regenerate ``<split>.jsonl`` from the authored ``<split>.txt`` files."""
    for split in SPLITS:
        items = [parse_marked(x) for x in marked_lines(directory / f"{split}.txt")]
        text = "".join(to_json(i) + "\n" for i in items)
        (directory / f"{split}.jsonl").write_text(text, encoding="utf-8")
