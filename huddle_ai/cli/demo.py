"""``huddle-ai demo``: ingest the demo organization and show what the engine does."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

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
