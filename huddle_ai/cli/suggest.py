"""``huddle-ai suggest``: a feedback draft for a stored or new solution."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from huddle_ai.cli.app import app
from huddle_ai.cli.common import TARGET_OPTIONS, DataDirOpt, JsonOpt, OrgOpt, engine, print_json
from huddle_ai.errors import InvalidInputError
from huddle_ai.requests import SuggestRequest, validated
from huddle_ai.suggest.suggestion import FeedbackSuggestion

__all__ = ["show_suggestion"]


def show_suggestion(s: FeedbackSuggestion) -> None:
    """Print a suggestion for people: the message, then how it was judged and made."""
    if s.degraded:
        typer.echo(f"(degraded: {s.degraded_reason})", err=True)
    typer.echo(s.text)
    typer.echo(f"\nNext step: {s.next_step}")
    confidence = "" if s.confidence is None else f", confidence {s.confidence:.0%}"
    review = "needs review" if s.needs_review else "ready to post"
    expected = (
        f"; drafts this confident were right {s.expected_accuracy:.0%} of the time"
        if s.expected_accuracy is not None and not s.needs_review
        else ""
    )
    judged = f", judged from the {s.judged_by}" if s.judged_by else ""
    typer.echo(f"\nAssessment: {s.assessment.value}{confidence}{judged} ({review}{expected})")
    for r in s.rubric:
        typer.echo(f"  {r.criterion_id}: {r.level.value} - {r.evidence}")
    if s.citations:
        typer.echo(f"Citations: {', '.join(s.citations)}")
    made = f"{s.generator}" + (f" ({s.model})" if s.model else "")
    prompt = f", prompt {s.prompt_id} {s.prompt_version} #{s.prompt_hash}" if s.prompt_id else ""
    typer.echo(
        f"Made by {made}{prompt} in {s.latency_ms:.0f} ms; "
        f"tokens: prompt {s.prompt_tokens}, completion {s.completion_tokens}, "
        f"context {s.context_tokens}"
    )


def _read_text(text: str | None, file: Path | None) -> str | None:
    if text is not None and file is not None:
        raise InvalidInputError("give --text or --file, not both")
    if file is None:
        return text
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}") from exc


@app.command()
def suggest(
    org: OrgOpt,
    solution: Annotated[str | None, typer.Option(help="A stored solution id.")] = None,
    huddle: Annotated[str | None, typer.Option(help="Huddle of new work.")] = None,
    text: Annotated[str | None, typer.Option(help="New solution text.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Read the new solution from a file ('-' for stdin).")
    ] = None,
    k: Annotated[
        int,
        typer.Option("--k", "-k", "--limit", min=1, max=50, help="Similar solutions to draw on."),
    ] = 5,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Draft feedback for a solution: the LLM when HUDDLE_AI_LLM_BASE_URL is set,
    else the offline grounded generator."""
    body = _read_text(text, file)
    with validated(TARGET_OPTIONS):
        request = SuggestRequest(solution_id=solution, huddle_id=huddle, text=body, k=k)
    result = engine(data_dir).suggest(org, request)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        show_suggestion(result)
