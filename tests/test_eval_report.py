"""The eval report reads the right way: lower-is-better metrics, no empty diff column,
figures served from the cache marked as such."""

from __future__ import annotations

import re
from pathlib import Path

from huddle_ai import HuddleAI
from huddle_ai.evals import Cache, Variant, apply_gate, load_suite, render_html, run_suite
from huddle_ai.evals.report import render_markdown
from huddle_ai.suggest.context import FeedbackContext
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.suggestion import FeedbackSuggestion

from .test_eval_harness import Counting, write_suite


class Timed(Counting):
    """Counting, with a chosen generation latency."""

    def __init__(self, quality: float, latency_ms: float) -> None:
        super().__init__(quality)
        self.latency = latency_ms

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        return super().generate(context).model_copy(update={"latency_ms": self.latency})


def _make(v: Variant) -> Generator:
    return Timed(1.0, 5.0) if v.prompt is None else Timed(1.0, 900.0)


VARIANTS = [Variant("grounded"), Variant("llm", "v1")]


def _chart(html: str, metric: str) -> str:
    found = re.search(rf'<svg class="chart" data-metric="{metric}".*?</svg>', html)
    assert found, metric
    return found.group(0)


def test_latency_is_drawn_lower_is_better(fake_hai: HuddleAI, tmp_path: Path) -> None:
    run = run_suite(load_suite(write_suite(tmp_path)), fake_hai, _make, variants=VARIANTS)
    assert (
        run["metrics"]["grounded"]["latency_ms"]["mean"]
        < run["metrics"]["llm@v1"]["latency_ms"]["mean"]
    )
    html = render_html(run)
    latency = _chart(html, "latency_ms")
    assert 'data-better="lower"' in latency and "lower is better" in latency
    # the star marks the fast variant, not the long bar
    bars = re.findall(r'<rect class="(bar(?: best)?)"[^>]*><title>([^:]+):', latency)
    assert dict((name, cls) for cls, name in bars) == {"grounded": "bar best", "llm@v1": "bar"}
    assert 'data-better="higher"' in _chart(html, "specificity")
    md = render_markdown(run)
    lower = re.search(r"^Lower is better for (.*); higher", md, re.M)
    assert lower and "latency_ms" in lower.group(1).split(", ")
    assert "specificity" not in lower.group(1)


def test_diff_table_has_no_empty_column(fake_hai: HuddleAI, tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    good = run_suite(suite, fake_hai, lambda v: Counting(1.0))
    worse = run_suite(suite, fake_hai, lambda v: Counting(0.0))
    apply_gate(worse, good, fail_on_regression=True)
    table = re.search(r"<table id='diff'>(.*?)</table>", render_html(worse))
    assert table
    header = re.findall(r"<th>(.*?)</th>", table.group(1))
    assert header and all(h.strip() for h in header)
    rows = re.findall(r"<tr class=\"[a-z]*\">(.*?)</tr>", table.group(1))
    assert rows and all(len(re.findall(r"<td>", r)) == len(header) for r in rows)
    assert any("regressed" in r for r in rows)


def test_cached_latency_is_marked(fake_hai: HuddleAI, tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    fresh = run_suite(suite, fake_hai, _make, variants=VARIANTS, cache=Cache(tmp_path / "c"))
    again = run_suite(suite, fake_hai, _make, variants=VARIANTS, cache=Cache(tmp_path / "c"))
    assert again["cache"] == {"hits": 6, "misses": 0}
    for run, marked in ((fresh, False), (again, True)):
        md = render_markdown(run)
        latency = next(line for line in md.splitlines() if line.startswith("| latency_ms"))
        assert ("(cached)" in latency) is marked
        schema = next(line for line in md.splitlines() if line.startswith("| schema_validity"))
        assert "cached" not in schema  # a score of the output itself is still this run's
        assert ("(cached)" in _chart(render_html(run), "latency_ms")) is marked
