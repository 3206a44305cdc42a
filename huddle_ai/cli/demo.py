"""``huddle-ai demo``: ingest the demo organization and show what the engine does."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from huddle_ai.accountability import CommitmentDraft, ManualClock
from huddle_ai.cli.app import app
from huddle_ai.cli.common import engine, print_json, settings
from huddle_ai.cli.records import _summary, show_similar
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.engine import HuddleAI
from huddle_ai.records import Solution
from huddle_ai.requests import MatchRequest, PartnersRequest
from huddle_ai.suggest.suggestion import SuggestionBody


def _showcase_solution(hai: HuddleAI) -> Solution:
    """A partial solution of the first huddle: the most instructive to show."""
    records = hai.records(DEMO_ORG)
    solutions = [r for r in records if isinstance(r, Solution)]
    first_huddle = solutions[0].huddle_id
    return next(s for s in solutions if s.huddle_id == first_huddle)


def run_demo(hai: HuddleAI, as_json: bool) -> dict[str, object]:
    report = hai.ingest(DEMO_ORG, demo_path())
    solution = _showcase_solution(hai)
    result = hai.similar(DEMO_ORG, solution_id=solution.id, k=4)
    out: dict[str, object] = {
        "ingest": report.as_dict(),
        "solution": solution.model_dump(mode="json"),
        "similar": result.model_dump(mode="json"),
    }
    if not as_json:
        typer.echo(f"Ingested the demo organization '{DEMO_ORG}': {_summary(report)}")
        typer.echo(f"\nSolution {solution.id} by {solution.learner_id}:\n  {solution.text}\n")
        typer.echo("Most similar past solutions and their most helpful feedback:")
        show_similar(result)
    suggestion = _demo_suggestion(hai, solution, out, as_json)
    _demo_matching(hai, solution, out, as_json)
    if suggestion is not None:
        _demo_commitment(hai, solution, suggestion, out, as_json)
    return out


def _demo_matching(hai: HuddleAI, solution: Solution, out: dict[str, object], quiet: bool) -> None:
    """Review assignment and partners for the showcased huddle, each pair explained."""
    from huddle_ai.cli.match import show_assignment, show_partners

    assignment = hai.match_reviewers(
        DEMO_ORG, MatchRequest(huddle_id=solution.huddle_id, k=3, max_load=3)
    )
    partners = hai.match_partners(DEMO_ORG, PartnersRequest(huddle_id=solution.huddle_id))
    out["matching"] = assignment.model_dump(mode="json")
    out["partners"] = partners.model_dump(mode="json")
    if not quiet:
        typer.echo(f"\nPeer review assignment for huddle {solution.huddle_id} (first 4 solutions):")
        shown = dict(list(assignment.by_solution.items())[:4])
        show_assignment(assignment.model_copy(update={"by_solution": shown}))
        typer.echo(f"\nLearning partners among the learners of {solution.huddle_id}:")
        show_partners(partners)


def _demo_suggestion(
    hai: HuddleAI, solution: Solution, out: dict[str, object], quiet: bool
) -> SuggestionBody | None:
    """A feedback suggestion on the showcased solution (skipped until a generator exists)."""
    from importlib.util import find_spec

    from huddle_ai.cli.suggest import show_suggestion

    if find_spec("huddle_ai.suggest.generators.grounded") is None and not hai.settings.llm_base_url:
        return None
    suggestion = hai.suggest(DEMO_ORG, solution.id)
    out["suggestion"] = suggestion.model_dump(mode="json")
    if not quiet:
        typer.echo(f"\nSuggested feedback for {solution.id}:\n")
        show_suggestion(suggestion)
    return suggestion


def _demo_commitment(
    hai: HuddleAI,
    solution: Solution,
    suggestion: SuggestionBody,
    out: dict[str, object],
    quiet: bool,
) -> None:
    """The suggestion's next step as the learner's commitment, due in a week, and its check
    (drafted offline; nothing is stored)."""
    due = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=7)
    draft = hai.accountability().draft_from_suggestion(
        suggestion,
        learner_id=solution.learner_id,
        huddle_id=solution.huddle_id,
        solution_id=solution.id,
        due_at=due,
    )
    out["commitment_draft"] = draft.as_dict()
    if not quiet:
        typer.echo(f"\nThe next step as {solution.learner_id}'s commitment (draft):")
        typer.echo(f"  {draft.text}")
        typer.echo(f"  due {due:%Y-%m-%d %H:%M} UTC")
        if draft.ready:
            typer.echo("  check: ready (owned, dated, a concrete action)")
        for issue in draft.issues:
            typer.echo(f"  check: {issue.message}")
    if draft.ready:
        _demo_loop(hai, solution, draft, out, quiet)


def _demo_loop(
    hai: HuddleAI,
    solution: Solution,
    draft: CommitmentDraft,
    out: dict[str, object],
    quiet: bool,
) -> None:
    """The commitment stored and followed up as time passes on an injected clock (not
    slept): check-ins requested before it is due, then, with no check-in, missed and
    the learner at risk; a peer's kept commitment whose partner stayed silent escalates
    that partner on its own. Sweeps run in-process; the webhooks they would send are shown."""
    start = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(start)
    acct = hai.accountability(clock=clock)
    peers = sorted(
        {
            r.learner_id
            for r in hai.records(DEMO_ORG)
            if isinstance(r, Solution)
            and r.huddle_id == solution.huddle_id
            and r.learner_id != solution.learner_id
        }
    )
    if len(peers) < 1 or draft.due_at is None:
        return
    learner, partner, peer = solution.learner_id, peers[0], peers[-1]
    people = sorted({learner, partner, peer})
    acct.import_lines(
        DEMO_ORG,
        [
            json.dumps({"kind": "enrollment", "learner_id": x, "cohort": "demo-loop"})
            for x in people
        ],
    )
    mine = acct.commit(DEMO_ORG, replace(draft, partner_id=partner))
    kept = None
    if peer != partner:
        kept = acct.commit(
            DEMO_ORG,
            acct.draft(
                "Send the revised plan to the huddle",
                learner_id=peer,
                huddle_id=solution.huddle_id,
                due_at=draft.due_at,
                partner_id=learner,
            ),
            allow_vague=True,
        )
    ours = {mine.id, *([kept.id] if kept else [])}
    timeline: list[dict[str, object]] = []

    def sweep(label: str) -> None:
        for e in acct.sweep(None, DEMO_ORG):
            if e["commitment"]["id"] in ours:
                to = e["recipient"]
                who = f"{to['learner_id']} ({to['role']})" if to["learner_id"] else to["role"]
                timeline.append({"at": label, "type": e["type"], "to": who, "event": e})

    policy = acct.policy
    clock.set(draft.due_at - policy.remind_before)
    sweep("1 day before due")
    if kept is not None:
        clock.advance(policy.remind_before)
        acct.checkin(DEMO_ORG, kept.id, author="self", status="done", reflection="sent it")
    clock.set(draft.due_at + max(policy.grace, policy.partner_grace))
    sweep("2 days after due")
    out["accountability_loop"] = timeline
    if quiet:
        return
    typer.echo(
        f"\nThe loop, on a clock moved forward (no waiting): {learner} commits, "
        f"{partner} is their partner"
        + (f"; {peer} keeps a commitment {learner} partners" if kept else "")
    )
    for t in timeline:
        e = t["event"]
        assert isinstance(e, dict)
        line = f"  {t['at']:<17} {t['type']:<18} -> {t['to']}"
        if t["type"] == "learner.at_risk":
            line += f"  (risk {e['risk']['score']:.2f}: {e['risk']['explanation']})"
        elif t["type"] == "partner.silent":
            line += (
                f"  ({e['partner_id']} never checked in on {e['learner_id']}'s commitment,"
                f" {e['hours_overdue']:.0f} h after it was due)"
            )
        typer.echo(line)


@app.command()
def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Keep the demo store here instead of a temporary one."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ingest the demo org; show retrieval, a feedback draft, matching, partners, a commitment."""
    if data_dir is not None:
        out = run_demo(engine(data_dir), as_json)
    else:
        with tempfile.TemporaryDirectory(prefix="huddle-ai-demo-") as tmp:
            out = run_demo(engine(base=settings(Path(tmp))), as_json)
    if as_json:
        print_json(out)
