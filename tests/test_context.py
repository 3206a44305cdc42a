"""Context building: neighbours, feedback value, exclusion of own feedback, token budget."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from huddle_ai import HuddleAI
from huddle_ai.errors import InvalidInputError, NotFoundError
from huddle_ai.records import Criterion, Feedback, Huddle, Learner, Level, Solution
from huddle_ai.suggest.context import build_context

ORG = "ctx-org"
T0 = datetime(2025, 1, 1)


def _org(hai: HuddleAI) -> None:
    huddle = Huddle(
        id="h1",
        title="Cache design",
        prompt="Design a cache for the product API.",
        goal="Choose a cache strategy and justify its invalidation.",
        rubric=[
            Criterion(
                id="c-inval",
                name="Invalidation",
                description="Explains how stale entries are invalidated.",
                exemplar="Entries expire after a TTL, writes evict the key, events purge keys.",
            ),
            Criterion(id="c-metrics", name="Metrics", description="Names the hit-rate target."),
        ],
    )
    other = Huddle(id="h2", title="Other", prompt="Other prompt.", goal="Other goal.")
    recs: list[object] = [huddle, other]
    recs += [Learner(id=f"l{i}", display_name=f"Learner Number{i}") for i in range(6)]
    recs.append(Learner(id="fac", display_name="Fay Cilitator", role="facilitator"))
    texts = [
        "cache product api ttl writes evict key events purge related keys hit rate",
        "cache product api ttl expiry only",
        "cache product api with no invalidation at all",
        "cache product api ttl writes evict key",
        "cache product api events purge keys hit rate target",
    ]
    for i, text in enumerate(texts):
        recs.append(
            Solution(
                id=f"s{i}",
                huddle_id="h1",
                learner_id=f"l{i}",
                text=text,
                created_at=T0 + timedelta(days=i),
            )
        )
    recs.append(
        Solution(id="x0", huddle_id="h2", learner_id="l5", text="cache api other", created_at=T0)
    )
    for i in range(5):
        recs.append(
            Feedback(
                id=f"f{i}-peer",
                solution_id=f"s{i}",
                author_id="l5",
                author_role="peer",
                text=f"Peer note on solution {i}: consider invalidation events.",
                helpfulness=0.6,
                assessment=Level.PARTIAL,
            )
        )
        recs.append(
            Feedback(
                id=f"f{i}-fac",
                solution_id=f"s{i}",
                author_id="fac",
                author_role="facilitator",
                text=f"Facilitator note on solution {i}: name the hit-rate target.",
                helpfulness=0.6,
                assessment=Level.MET if i in (0, 4) else Level.NOT_MET,
                rubric={"c-inval": Level.MET if i in (0, 3) else Level.NOT_MET},
            )
        )
    hai.ingest(ORG, recs)  # type: ignore[arg-type]


@pytest.fixture
def hai(fake_hai: HuddleAI) -> HuddleAI:
    _org(fake_hai)
    return fake_hai


def test_goal_rubric_neighbours_and_feedback_are_gathered(hai: HuddleAI) -> None:
    ctx = build_context(hai.store, hai.embedder, ORG, solution_id="s1", k=3)
    ids = ctx.item_ids()
    assert {"goal", "criterion:c-inval", "criterion:c-metrics"} <= ids
    assert "Exemplar: Entries expire after a TTL" in next(
        i.text for i in ctx.items if i.id == "criterion:c-inval"
    )
    sols = [i for i in ctx.items if i.kind == "solution"]
    assert len(sols) == 3 and all(i.id.startswith("solution:") for i in sols)
    for fb in (i for i in ctx.items if i.kind == "feedback"):
        assert f"solution:{fb.meta['solution_id']}" in ids  # generous budget keeps parents
        assert fb.meta["author_role"] in ("peer", "facilitator")
        assert isinstance(fb.meta["similarity"], float)
    assert ctx.learner_id == "l1" and ctx.learner_name == "Learner Number1"
    assert ctx.tokens == sum(i.tokens for i in ctx.items) and ctx.dropped == 0


def test_a_stored_solution_never_sees_itself_or_its_feedback(hai: HuddleAI) -> None:
    for sid in ("s0", "s2", "s4"):
        ctx = build_context(hai.store, hai.embedder, ORG, solution_id=sid, k=10)
        assert f"solution:{sid}" not in ctx.item_ids()
        assert not [i for i in ctx.items if i.meta.get("solution_id") == sid]
        assert not [
            i for i in ctx.items if i.id in (f"feedback:f{sid[1]}-peer", f"feedback:f{sid[1]}-fac")
        ]
        assert sid not in {h.id for h in ctx.history}
        # everything else of the huddle that is labelled is in the history
        assert {h.id for h in ctx.history} == {f"s{i}" for i in range(5)} - {sid}


def test_facilitator_feedback_outranks_peer_and_labels_history(hai: HuddleAI) -> None:
    ctx = build_context(hai.store, hai.embedder, ORG, solution_id="s1", k=4)
    value = {i.id: i.value for i in ctx.items}
    for nb in (i for i in ctx.items if i.kind == "solution" and i.meta["same_huddle"]):
        n = nb.id.split(":")[1][1:]
        assert value[f"feedback:f{n}-fac"] > value[f"feedback:f{n}-peer"]
    labels = {h.id: h for h in ctx.history}
    # the facilitator's judgement wins over the peer's, and carries more weight
    assert labels["s0"].assessment == Level.MET and labels["s2"].assessment == Level.NOT_MET
    assert labels["s3"].rubric == {"c-inval": Level.MET} and labels["s0"].weight > 1.0


def test_token_budget_drops_least_valuable_first(hai: HuddleAI) -> None:
    full = build_context(hai.store, hai.embedder, ORG, solution_id="s1", k=5, token_budget=5000)
    fixed = sum(i.tokens for i in full.items if i.kind in ("goal", "criterion"))
    budget = fixed + (full.tokens - fixed) // 2
    tight = build_context(hai.store, hai.embedder, ORG, solution_id="s1", k=5, token_budget=budget)
    assert tight.tokens <= budget < full.tokens
    assert tight.dropped == len(full.items) - len(tight.items) > 0
    kept = tight.item_ids()
    assert {"goal", "criterion:c-inval", "criterion:c-metrics"} <= kept
    dropped = [i for i in full.items if i.id not in kept]
    survivors = [i for i in full.items if i.id in kept and i.kind not in ("goal", "criterion")]
    assert survivors, "a budget of half the droppable tokens keeps something"
    assert min(i.value for i in survivors) >= max(i.value for i in dropped)


def test_budget_too_small_for_goal_and_rubric_is_a_clear_error(hai: HuddleAI) -> None:
    with pytest.raises(InvalidInputError, match="token_budget 10 cannot hold the huddle goal"):
        build_context(hai.store, hai.embedder, ORG, solution_id="s1", token_budget=10)


def test_new_text_needs_a_huddle_and_unknown_records_are_named(hai: HuddleAI) -> None:
    ctx = build_context(hai.store, hai.embedder, ORG, text="ttl and eviction", huddle_id="h1")
    assert ctx.solution_id is None and ctx.learner_name is None
    assert len(ctx.history) == 5  # every labelled solution of h1, none of h2
    with pytest.raises(InvalidInputError, match="huddle"):
        build_context(hai.store, hai.embedder, ORG, text="ttl and eviction")
    with pytest.raises(NotFoundError, match="nope"):
        build_context(hai.store, hai.embedder, ORG, solution_id="nope")


def test_history_reads_only_the_most_recently_stored_solutions(fake_hai: HuddleAI) -> None:
    huddle = Huddle(id="h1", title="T", prompt="P", goal="G")
    recs: list[object] = [huddle, Learner(id="l0", display_name="Ann Example")]
    for i in range(8):
        recs.append(
            Solution(
                id=f"s{i}",
                huddle_id="h1",
                learner_id="l0",
                text=f"text {i}",
                created_at=T0 + timedelta(days=i),
            )
        )
        recs.append(
            Feedback(
                id=f"f{i}",
                solution_id=f"s{i}",
                author_id="l0",
                author_role="peer",
                text="ok",
                assessment=Level.MET,
            )
        )
    for rec in recs:  # one at a time: the store's order is the ingest order
        fake_hai.ingest(ORG, [rec])  # type: ignore[list-item]
    ctx = build_context(fake_hai.store, fake_hai.embedder, ORG, solution_id="s7", history_limit=3)
    assert sorted(h.id for h in ctx.history) == ["s4", "s5", "s6"]
