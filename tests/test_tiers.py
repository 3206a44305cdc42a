"""Test tiers (unit / integration / live_llm) come from the fixtures a test uses."""

from __future__ import annotations

import pytest

from tests.conftest import tier

TIERS = ("unit", "integration", "live_llm")


def test_tier_follows_the_fixtures() -> None:
    assert tier({"tmp_path", "fake_hai"}, set(), {}) == "unit"
    assert tier({"tmp_path", "redis_url"}, set(), {}) == "integration"
    assert tier({"real_embedder"}, set(), {}) == "integration"
    assert tier({"db"}, set(), {"db": "postgresql"}) == "integration"
    assert tier({"db"}, set(), {"db": "sqlite"}) == "unit"
    assert tier(set(), {"slow"}, {}) == "integration"
    assert tier({"live_llm_url", "llm"}, set(), {}) == "live_llm"
    assert tier({"tmp_path"}, set(), {}, {"subprocess", "run"}) == "integration"
    assert tier({"tmp_path"}, set(), {}, {"cli+model"}) == "integration"


def test_every_collected_test_has_one_tier(request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        names = [t for t in TIERS if item.get_closest_marker(t) is not None]
        assert len(names) == 1, (item.nodeid, names)
    assert request.node.get_closest_marker("unit") is not None
