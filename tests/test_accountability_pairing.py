"""Pairing suggestions for isolated learners through the partner matcher, on
the demo organization in a real embedded Chroma store: each isolated learner
is paired with a connected one (never two isolated, never across
organizations), with the matcher's reason; learners the store does not know
fall back to the most generous givers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from huddle_ai import FakeEmbedder, HuddleAI, Store
from huddle_ai.accountability import Accountability, ManualClock
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.index.database import Database

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
CONNECTED = ("l-tomas", "l-mei", "l-sofia", "l-kwame", "l-aisha")
ISOLATED = ("l-jonah", "l-priya", "l-lukas", "l-noor")


def _feedback(giver: str, receiver: str, days: int) -> str:
    at = (NOW - timedelta(days=days)).isoformat()
    return json.dumps(
        {
            "kind": "event",
            "learner_id": giver,
            "type": "feedback_given",
            "at": at,
            "peer_id": receiver,
        }
    )


def test_isolated_learners_get_partners_from_the_matcher(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    db = Database(f"sqlite:///{tmp_path / 'acct.db'}")
    hai = HuddleAI(
        embedder=embedder, store=Store.embedded(tmp_path / "s", embedder.id), database=db
    )
    hai.ingest(DEMO_ORG, demo_path())
    acct = Accountability(db, clock=ManualClock(NOW))
    people = [*CONNECTED, *ISOLATED, "l-zed"]  # l-zed: enrolled, unknown to the store
    lines = [json.dumps({"kind": "enrollment", "learner_id": x, "cohort": "c"}) for x in people]
    lines += [_feedback("l-tomas", "l-mei", 3), _feedback("l-tomas", "l-sofia", 2)]
    lines += [_feedback("l-mei", "l-tomas", 2), _feedback("l-kwame", "l-aisha", 1)]
    acct.import_lines(DEMO_ORG, lines)

    health = acct.health(DEMO_ORG, store=hai.store)
    assert health.isolated == sorted([*ISOLATED, "l-zed"])
    by = {p.learner_id: p for p in health.pairing_suggestions}
    assert set(by) == set(health.isolated)
    for lid in ISOLATED:
        p = by[lid]
        assert p.method == "partner_matcher" and p.partner_id in CONNECTED, p
        assert p.reason  # the matcher's words
    matched_partners = [by[lid].partner_id for lid in ISOLATED]
    assert len(set(matched_partners)) == len(ISOLATED)  # a matching: one isolated each
    assert by["l-zed"].method == "generous_giver" and by["l-zed"].partner_id == "l-tomas"
    assert health.pairing_degraded and "(l-zed)" in (health.pairing_degraded_reason or "")

    # without the store: everyone gets a generous giver, by how much they gave
    plain = acct.health(DEMO_ORG).pairing_suggestions
    assert {p.method for p in plain} == {"generous_giver"}
    assert [p.partner_id for p in plain] == ["l-tomas", "l-kwame", "l-mei", "l-tomas", "l-kwame"]
    assert not acct.health(DEMO_ORG).pairing_degraded  # the matcher was not asked for

    # another organization with the same learner ids: nothing of the demo org is used
    acct.import_lines("other-org", lines[: len(people)])  # enrollments only
    other = acct.health("other-org", store=hai.store)
    assert other.isolated == sorted(people) and other.pairing_suggestions == []
    db.dispose()
