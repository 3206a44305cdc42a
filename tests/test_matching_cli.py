"""Matching end to end: the demo organization (real model) through the API, and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from huddle_ai import HuddleAI
from huddle_ai.cli import run
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.errors import InfeasibleError
from huddle_ai.matching import COMPONENTS
from huddle_ai.records import Learner, Solution
from huddle_ai.requests import (
    AffinityRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
)


def _records(hai: HuddleAI) -> tuple[dict[str, Learner], dict[str, Solution]]:
    recs = hai.records(DEMO_ORG)
    learners = {r.id: r for r in recs if isinstance(r, Learner)}
    solutions = {r.id: r for r in recs if isinstance(r, Solution)}
    return learners, solutions


def _huddle(solutions: dict[str, Solution]) -> str:
    return Counter(s.huddle_id for s in solutions.values()).most_common(1)[0][0]


def test_demo_review_assignment_holds_every_constraint(demo_hai: HuddleAI) -> None:
    learners, solutions = _records(demo_hai)
    huddle = _huddle(solutions)
    first = sorted(s for s in solutions if solutions[s].huddle_id == huddle)[0]
    author = solutions[first].learner_id
    other = next(lid for lid in learners if learners[lid].team != learners[author].team)
    request = MatchRequest(
        huddle_id=huddle,
        k=3,
        max_load=4,
        min_load=1,
        same_team_conflict=True,
        do_not_pair=[(other, author)],
        forced=[
            (
                next(
                    lid
                    for lid in learners
                    if lid != other and learners[lid].team != learners[author].team
                ),
                first,
            )
        ],
    )
    result = demo_hai.match_reviewers(DEMO_ORG, request)
    assert result.optimal
    mine = {s for s in solutions if solutions[s].huddle_id == huddle}
    assert set(result.by_solution) == mine
    for sid, revs in result.by_solution.items():
        owner = learners[solutions[sid].learner_id]
        assert len(revs) == len(set(revs)) == 3
        assert owner.id not in revs
        assert all(learners[r].team != owner.team for r in revs)
    assert other not in result.by_solution[first]
    # each solution's reviewers are listed best first
    score = {(r.solution_id, r.reviewer_id): r.score for r in result.reviews}
    for sid, revs in result.by_solution.items():
        got = [score[(sid, r)] for r in revs]
        assert got == sorted(got, reverse=True)
    assert all(1 <= n <= 4 for n in result.loads.values())
    for rv in result.reviews:
        assert rv.reason and set(rv.components) == set(COMPONENTS)
        assert all(0.0 <= v <= 1.0 for v in rv.components.values())
        # same-team pairs are excluded, so every reviewer is from another team
        assert rv.components["diversity"] == 1.0
    assert sum(rv.score for rv in result.reviews) == pytest.approx(result.objective, abs=1e-3)
    # experts with evidence are explained by it
    assert any("similar solution" in rv.reason for rv in result.reviews)
    assert any("from another team" in rv.reason for rv in result.reviews)


def test_demo_rolling_pick_partners_and_scores(demo_hai: HuddleAI) -> None:
    learners, solutions = _records(demo_hai)
    huddle = _huddle(solutions)
    sid = sorted(s for s in solutions if solutions[s].huddle_id == huddle)[0]
    full = {lid: 3 for lid in list(learners)[:10]}
    picks = demo_hai.next_reviewers(
        DEMO_ORG, NextReviewersRequest(solution_id=sid, n=3, open_loads=full, max_load=3)
    )
    assert len(picks.picks) == 3 and picks.picks[0].score >= picks.picks[-1].score - 0.1
    assert all(p.reviewer_id not in full for p in picks.picks)
    assert all(p.reviewer_id != solutions[sid].learner_id and p.reason for p in picks.picks)
    assert set(full) - {solutions[sid].learner_id} <= set(picks.at_capacity)
    everyone = {lid: 3 for lid in learners}
    with pytest.raises(InfeasibleError, match="at max load 3"):
        demo_hai.next_reviewers(
            DEMO_ORG, NextReviewersRequest(solution_id=sid, open_loads=everyone, max_load=3)
        )

    pm = demo_hai.match_partners(
        DEMO_ORG, PartnersRequest(learners=list(learners)[:7], same_team_conflict=True)
    )
    placed = [m for g in pm.groups for m in g.members] + pm.unmatched
    assert sorted(placed) == sorted(list(learners)[:7])
    for g in pm.groups:
        teams = [learners[m].team for m in g.members]
        assert len(set(teams)) == len(teams)
        assert g.reasons and all(g.reasons.values())
    if len(pm.groups) * 2 < 7:
        assert pm.note
    # without a named list, facilitators are never proposed as partners
    staff = {lid for lid, ln in learners.items() if ln.role == "facilitator"}
    assert staff
    everyone_pm = demo_hai.match_partners(DEMO_ORG)
    paired = {m for g in everyone_pm.groups for m in g.members} | set(everyone_pm.unmatched)
    assert paired and not paired & staff
    # partners for one huddle are explained by that huddle's work
    title = next(r for r in demo_hai.records(DEMO_ORG) if r.id == huddle).title  # type: ignore[union-attr]
    cited = [
        r
        for g in demo_hai.match_partners(DEMO_ORG, PartnersRequest(huddle_id=huddle)).groups
        for r in g.reasons.values()
        if "similar problems in" in r
    ]
    assert cited and all(f"\u201c{title}\u201d" in r for r in cited)

    aff = demo_hai.affinity_scores(DEMO_ORG, AffinityRequest(huddle_id=huddle))
    exp = aff.components["expertise"]
    # a learner's own solution is in their history: their expertise on it is the maximum
    for j, s in enumerate(aff.target_ids):
        i = aff.learner_ids.index(solutions[s].learner_id)
        assert exp[i, j] >= exp[:, j].max() - 1e-9


@pytest.fixture
def fake_org(fake_hai: HuddleAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake_hai.ingest(DEMO_ORG, demo_path())
    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "fake")
    return tmp_path / "store"


def test_cli_match_scores_partners_next(
    fake_org: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--org", DEMO_ORG, "--data-dir", str(fake_org)]
    out = tmp_path / "scores.json"
    code = run(
        [
            "match",
            *base,
            "--huddle",
            "h-interviews",
            "--reviewers-per-solution",
            "3",
            "--max-load",
            "3",
            "--json",
            "--scores-out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert all(len(v) == 3 for v in result["by_solution"].values())
    scores = json.loads(out.read_text())
    assert set(next(iter(next(iter(scores.values())).values()))) == {"total", *COMPONENTS}
    assert set(next(iter(scores.values()))) == set(result["by_solution"])

    code = run(
        [
            "match",
            *base,
            "--huddle",
            "h-interviews",
            "--scores-out",
            str(out),
            "--learners",
            "l-mei,l-ines",
            "--solutions",
            "s-brief-01",
        ]
    )
    assert code == 0
    assert "affinity scores written" in capsys.readouterr().out
    scores = json.loads(out.read_text())
    assert sorted(scores) == ["l-ines", "l-mei"] and list(scores["l-mei"]) == ["s-brief-01"]

    assert run(["partners", *base, "--group-size", "2"]) == 0
    text = capsys.readouterr().out
    assert "groups of 2" in text and "+" in text

    assert (
        run(
            [
                "next-reviewers",
                *base,
                "--solution",
                "s-brief-01",
                "--n",
                "2",
                "--load",
                "l-ines=3",
                "--json",
            ]
        )
        == 0
    )
    picks = json.loads(capsys.readouterr().out)["picks"]
    assert len(picks) == 2 and all(p["reviewer_id"] not in ("l-mei", "l-ines") for p in picks)


def test_cli_infeasible_is_one_line(fake_org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--org", DEMO_ORG, "--data-dir", str(fake_org)]
    code = run(
        [
            "match",
            *base,
            "--huddle",
            "h-interviews",
            "--reviewers-per-solution",
            "3",
            "--max-load",
            "2",
            "--reviewers",
            "l-mei,l-ines,l-aisha,l-grace,l-noor",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err == (
        "error: 20 solutions × 3 reviewers need 60 reviews, but 5 eligible reviewers × max 2 = 10"
    )
    assert run(["match", *base, "--huddle", "h-interviews", "--force", "bad"]) == 2
    assert "expected 'A:B'" in capsys.readouterr().err
    assert run(["match", *base, "--huddle", "nope"]) == 1
    assert "huddle 'nope' not found" in capsys.readouterr().err


def test_demo_shows_a_matching_with_explanations(
    fake_hai: HuddleAI, capsys: pytest.CaptureFixture[str]
) -> None:
    from huddle_ai.cli.demo import run_demo

    out = run_demo(fake_hai, as_json=False)
    text = capsys.readouterr().out
    assert "Peer review assignment for huddle" in text and "Learning partners" in text
    matching = out["matching"]
    assert isinstance(matching, dict) and matching["reviews"]
    assert all(r["reason"] for r in matching["reviews"])
