"""The LLM generator against a real endpoint: the live_llm tier.

Skipped unless ``HUDDLE_AI_TEST_LLM_URL`` names an OpenAI-compatible endpoint
(``HUDDLE_AI_TEST_LLM_MODEL`` and ``HUDDLE_AI_TEST_LLM_API_KEY`` when it needs
them). Everything else in the suite talks to the shipped fake server only.
"""

from __future__ import annotations

import os

import pytest

from huddle_ai.suggest.generators.llm import LLMGenerator

from .test_llm import HUDDLE, make_context


def test_a_real_model_drafts_valid_cited_feedback(live_llm_url: str) -> None:
    gen = LLMGenerator(
        live_llm_url,
        os.environ.get("HUDDLE_AI_TEST_LLM_MODEL", "gpt-4o-mini"),
        os.environ.get("HUDDLE_AI_TEST_LLM_API_KEY"),
        timeout_s=60.0,
    )
    context = make_context()
    s = gen.generate(context)
    assert s.generator == "llm" and not s.degraded
    assert s.text.strip() and s.next_step.strip()
    assert set(s.citations) <= context.item_ids()
    assert {r.criterion_id for r in s.rubric} <= {c.id for c in HUDDLE.rubric}


def test_without_an_endpoint_the_tier_is_skipped(request: pytest.FixtureRequest) -> None:
    if os.environ.get("HUDDLE_AI_TEST_LLM_URL"):
        pytest.skip("an endpoint is set: the live test runs instead")
    found = [i for i in request.session.items if i.name.startswith("test_a_real_model")]
    if not found:
        pytest.skip("the live_llm test was deselected (-m)")
    live = found[0]
    assert live.get_closest_marker("live_llm") is not None
    skip = live.get_closest_marker("skip")
    assert skip is not None and "HUDDLE_AI_TEST_LLM_URL" in skip.kwargs["reason"]
    assert request.node.get_closest_marker("unit") is not None
