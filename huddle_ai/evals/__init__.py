"""The evaluation harness: suites -> cases -> variants -> scorers -> reports -> gate.

Scorers are plain functions ``scorer(sample, *, embedder=None) -> Score``
(see :mod:`huddle_ai.evals.scorers`), usable without the harness.
"""

from __future__ import annotations

from huddle_ai.evals.cache import Cache
from huddle_ai.evals.gate import Finding, apply_gate
from huddle_ai.evals.judge import Judge
from huddle_ai.evals.page import render_html
from huddle_ai.evals.report import render_json, render_markdown
from huddle_ai.evals.runner import RunResult, run_suite
from huddle_ai.evals.runs import history, load_run, save_run
from huddle_ai.evals.sample import Sample
from huddle_ai.evals.scorers import SCORERS, Score, Scorer, get_scorer
from huddle_ai.evals.suite import Case, Suite, load_suite, resolve_suite, shipped_suites
from huddle_ai.evals.variants import Variant, generator_factory, parse_variants

__all__ = [
    "SCORERS",
    "Cache",
    "Case",
    "Finding",
    "Judge",
    "RunResult",
    "Sample",
    "Score",
    "Scorer",
    "Suite",
    "Variant",
    "apply_gate",
    "generator_factory",
    "get_scorer",
    "history",
    "load_run",
    "load_suite",
    "parse_variants",
    "render_html",
    "render_json",
    "render_markdown",
    "resolve_suite",
    "run_suite",
    "save_run",
    "shipped_suites",
]
