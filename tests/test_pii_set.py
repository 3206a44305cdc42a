"""The labelled PII set: the redactor's recall and false positives per split
stay at or above what was measured when the set was made (see
evals/pii_set/README.md), and the report command runs offline."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from huddle_ai.suggest.privacy.pii_set import (
    CATEGORIES,
    load,
    load_roster,
    marked_lines,
    parse_marked,
    pii_set_dir,
    to_json,
)
from huddle_ai.suggest.privacy.report import measure, ms_per_kb

DIR = pii_set_dir()
ROSTER = load_roster(DIR)

# Floors a little under the figures measured on 2026-12-02 (tuning and
# held-out: every category 100%, no ordinary sentence touched; probe: 89.2%
# overall, 3 of 24 ordinary sentences touched). A category with few items
# in a split has a floor that one more miss breaks.
RECALL_FLOOR = {"tuning": 0.95, "heldout": 0.9}
ORDINARY_FLAGGED_CEILING = {"tuning": 1, "heldout": 1, "probe": 4}
FP_RATE_CEILING = 0.02


def test_the_set_is_large_and_covers_every_category() -> None:
    items = [i for split in ("tuning", "heldout", "probe") for i in load(DIR, split)]
    assert len(items) >= 300
    per_category = {c: sum(s.category == c for i in items for s in i.spans) for c in CATEGORIES}
    assert min(per_category.values()) >= 10, per_category
    assert sum(not i.spans for i in items) >= 100  # hard negatives


@pytest.mark.parametrize("split", ["tuning", "heldout", "probe"])
def test_jsonl_is_generated_from_the_authored_lines(split: str) -> None:
    authored = [to_json(parse_marked(x)) for x in marked_lines(DIR / f"{split}.txt")]
    stored = (DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert stored == authored


@pytest.mark.parametrize("split", ["tuning", "heldout"])
def test_every_category_meets_its_recall_floor(split: str) -> None:
    report = measure(load(DIR, split), ROSTER, split)
    for category, score in report.categories.items():
        assert score.gold > 0, category
        assert score.recall >= RECALL_FLOOR[split], (category, report.missed)
        assert report.false_positive_rate(category) <= FP_RATE_CEILING, (
            category,
            report.spurious,
        )


@pytest.mark.parametrize("split", ["tuning", "heldout", "probe"])
def test_ordinary_sentences_stay_untouched(split: str) -> None:
    report = measure(load(DIR, split), ROSTER, split)
    assert report.ordinary_flagged <= ORDINARY_FLAGGED_CEILING[split], report.spurious


def test_probe_recall_holds() -> None:
    assert measure(load(DIR, "probe"), ROSTER, "probe").overall_recall >= 0.85


def test_redaction_is_fast_enough_to_run_on_every_suggestion() -> None:
    texts = [i.text for i in load(DIR, "tuning")]
    # measured about 3 ms per KB on 2 cores; 25 leaves room for a busy CI machine
    assert ms_per_kb(texts, ROSTER) < 25


def test_the_report_command_runs_offline_and_prints_every_category() -> None:
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "huddle_ai.suggest.privacy.report"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    ).stdout
    assert time.monotonic() - start < 60
    for split in ("tuning", "heldout", "probe"):
        assert f"== {split}:" in out
    for category in CATEGORIES:
        assert out.count(f"\n{category} ") == 3
    assert "ms per KB" in out and "flagged of" in out
