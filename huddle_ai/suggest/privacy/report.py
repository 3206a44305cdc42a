"""Measuring the redactor and the instruction detector on labelled text.

``python -m huddle_ai.suggest.privacy.report`` prints, per split of the labelled set
in ``evals/pii_set`` (``tuning``: developed against; ``heldout``: written
first and not looked at while tuning), each category's recall and
false-positive rate, how many ordinary sentences lost any text, the time
per KB, and how many ordinary texts (the set's, the demo org's and the
eval suites') the instruction detector flags.

A gold span counts as found when predicted spans of any category cover at
least :data:`COVERED` of its characters: a phone number hidden as
``[national_id]`` is still hidden. A predicted span that touches no gold
span is a false positive of its category; a category's false-positive rate
is the share of items with at least one.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from huddle_ai.suggest.privacy.analyzer import Analyzer, default_recognizers
from huddle_ai.suggest.privacy.pii_set import (
    CATEGORIES,
    SPLITS,
    LabelledItem,
    Roster,
    load,
    load_roster,
    pii_set_dir,
)
from huddle_ai.suggest.privacy.recognizer import Span

__all__ = ["COVERED", "CategoryScore", "SplitReport", "instruction_false_positives", "measure"]

COVERED = 0.7


@dataclass
class CategoryScore:
    gold: int = 0
    found: int = 0
    false_positive_items: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0


@dataclass
class SplitReport:
    split: str
    items: int
    categories: dict[str, CategoryScore] = field(default_factory=dict)
    ordinary: int = 0
    ordinary_flagged: int = 0
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)

    def false_positive_rate(self, category: str) -> float:
        return self.categories[category].false_positive_items / self.items if self.items else 0.0

    @property
    def overall_recall(self) -> float:
        gold = sum(c.gold for c in self.categories.values())
        return sum(c.found for c in self.categories.values()) / gold if gold else 1.0


def _coverage(start: int, end: int, predicted: Sequence[Span]) -> float:
    covered = sum(max(0, min(end, p.end) - max(start, p.start)) for p in predicted)
    return covered / max(1, end - start)


def measure(items: Iterable[LabelledItem], roster: Roster, split: str = "") -> SplitReport:
    analyzer = Analyzer(default_recognizers(names=roster.names, keep=roster.keep))
    items = list(items)
    report = SplitReport(split, len(items), {c: CategoryScore() for c in CATEGORIES})
    for item in items:
        predicted = analyzer.analyze(item.text)
        for gold in item.spans:
            score = report.categories[gold.category]
            score.gold += 1
            if _coverage(gold.start, gold.end, predicted) >= COVERED:
                score.found += 1
            else:
                report.missed.append(f"{gold.category}: {item.text[gold.start : gold.end]!r}")
        wrong = {
            p.category
            for p in predicted
            if not any(g.start < p.end and p.start < g.end for g in item.spans)
        }
        for p in predicted:
            if p.category in wrong and not any(
                g.start < p.end and p.start < g.end for g in item.spans
            ):
                report.spurious.append(
                    f"{p.category}: {item.text[p.start : p.end]!r} in {item.text!r}"
                )
        for category in wrong:
            report.categories.setdefault(category, CategoryScore()).false_positive_items += 1
        if not item.spans:
            report.ordinary += 1
            report.ordinary_flagged += bool(predicted)
    return report


def ms_per_kb(texts: Sequence[str], roster: Roster, repeat: int = 3) -> float:
    """Redaction time per 1,000 characters over ``texts`` (best of ``repeat``)."""
    analyzer = Analyzer(default_recognizers(names=roster.names, keep=roster.keep))
    analyzer.analyze("warm-up Ana Ruiz +33 6 12 34 56 78")
    size = sum(len(t) for t in texts)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            analyzer.analyze(text)
        best = min(best, time.perf_counter() - start)
    return best * 1000 / (size / 1000)


def ordinary_texts(root: Path) -> dict[str, list[str]]:
    """Texts that hold no injection: the demo org's records and the eval suites' data."""
    sources: dict[str, list[str]] = {}
    paths = [
        root / "huddle_ai" / "demo" / "org.jsonl",
        *sorted((root / "evals").glob("*/data.jsonl")),
    ]
    for path in paths:
        if not path.exists():
            continue
        texts = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts += [
                    v
                    for k, v in record.items()
                    if k in ("text", "prompt", "goal") and isinstance(v, str)
                ]
        sources[str(path.relative_to(root))] = texts
    return sources


def instruction_false_positives(texts: Iterable[str]) -> list[str]:
    """The sentences of ``texts`` that the detector takes for instructions."""
    from huddle_ai.suggest.privacy.injection import instruction_sentences

    return [s for t in texts for s in instruction_sentences(t)]


def _print_split(report: SplitReport, verbose: bool) -> None:
    print(f"\n== {report.split}: {report.items} items ==")
    print(f"{'category':<12} {'gold':>5} {'found':>6} {'recall':>7} {'FP items':>9} {'FP rate':>8}")
    for category, score in report.categories.items():
        print(
            f"{category:<12} {score.gold:>5} {score.found:>6} {score.recall:>7.1%} "
            f"{score.false_positive_items:>9} {report.false_positive_rate(category):>8.1%}"
        )
    print(
        f"overall recall {report.overall_recall:.1%}; ordinary sentences with any redaction: "
        f"{report.ordinary_flagged}/{report.ordinary}"
    )
    if verbose:
        for line in report.missed:
            print("  missed", line)
        for line in report.spurious:
            print("  false positive", line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m huddle_ai.suggest.privacy.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="the labelled set (default: evals/pii_set)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list misses and false positives"
    )
    args = parser.parse_args(argv)
    directory = args.dir or pii_set_dir()
    roster = load_roster(directory)
    all_texts: list[str] = []
    ordinary: list[str] = []
    for split in SPLITS:
        items = load(directory, split)
        all_texts += [i.text for i in items]
        ordinary += [i.text for i in items if not i.spans]
        _print_split(measure(items, roster, split), args.verbose)
    print(f"\nredaction speed: {ms_per_kb(all_texts, roster):.2f} ms per KB of text")
    print("\n== instruction detection on ordinary text ==")
    flagged = instruction_false_positives(ordinary)
    print(f"pii_set ordinary sentences: {len(flagged)} flagged of {len(ordinary)}")
    root = directory.resolve().parent.parent
    for source, texts in ordinary_texts(root).items():
        hits = instruction_false_positives(texts)
        print(f"{source}: {len(hits)} flagged of {len(texts)} texts")
        if args.verbose:
            for h in hits:
                print("  ", repr(h))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
