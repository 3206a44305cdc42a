"""Commands on an organization's records: ingest, similar, export, delete."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from huddle_ai.cli.app import app
from huddle_ai.cli.common import (
    TARGET_OPTIONS,
    DataDirOpt,
    JsonOpt,
    OrgOpt,
    engine,
    print_json,
    progress_bar,
)
from huddle_ai.errors import ImportRejectedError, LineError
from huddle_ai.index.formats import read_file
from huddle_ai.index.ingest import IngestReport
from huddle_ai.requests import SimilarRequest, validated
from huddle_ai.suggest.retrieval import SimilarResult


def _summary(report: IngestReport) -> str:
    return (
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected}; embedded {report.embedded} texts in "
        f"{report.seconds:.2f}s ({report.texts_per_s:.1f} texts/s)"
    )


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="JSONL (any kind) or CSV (solutions, feedback).")],
    org: OrgOpt,
    kind: Annotated[
        str | None, typer.Option(help="Kind of every CSV row, when it has no 'kind' column.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Write the good lines, report the bad ones.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as errors: then nothing is written.")
    ] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Import records idempotently: unchanged records are not re-embedded."""
    parsed = read_file(file, kind)
    hai = engine(data_dir)
    try:
        with progress_bar("embedding", as_json) as progress:
            report = hai.ingest(
                org, parsed, skip_invalid=skip_invalid, strict=strict, progress=progress
            )
    except ImportRejectedError as exc:
        if as_json:
            print_json(
                {
                    "error": str(exc),
                    "errors": [
                        {"line": e.line, "id": e.record_id, "reason": e.reason} for e in exc.errors
                    ],
                }
            )
        else:
            for err in exc.errors:
                typer.echo(f"{exc.source}: {_where(err)}", err=True)
        raise
    for warning in report.warnings:
        typer.echo(f"{parsed.source}: warning: {_where(warning)}", err=True)
    if as_json:
        print_json(report.as_dict())
        return
    for err in report.errors:
        typer.echo(f"{parsed.source}: skipped {err}", err=True)
    typer.echo(_summary(report))


def _where(err: LineError) -> str:
    """``line N (id 'x'): why``, or just why for the file as a whole (line 0)."""
    return str(err) if err.line else err.reason


def show_similar(result: SimilarResult) -> None:
    if result.huddle is not None:
        typer.echo(f"huddle {result.huddle.id}: {result.huddle.title}")
        for c in result.huddle.rubric:
            typer.echo(f"  rubric {c.id}: {c.name}")
    for n in result.neighbors:
        tag = "same huddle" if n.same_huddle else f"huddle {n.solution.huddle_id}"
        typer.echo(
            f"- {n.solution.id} ({tag}, similarity {n.score:.3f}) by {n.solution.learner_id}"
        )
        typer.echo(f"    {n.solution.text[:140]}{'...' if len(n.solution.text) > 140 else ''}")
        for fb in n.feedback[:2]:
            h = "-" if fb.helpfulness is None else f"{fb.helpfulness:.2f}"
            typer.echo(
                f"    feedback {fb.id} [{fb.author_role.value}, helpful {h}]: {fb.text[:110]}"
            )


@app.command()
def similar(
    org: OrgOpt,
    solution: Annotated[str | None, typer.Option(help="A stored solution id.")] = None,
    huddle: Annotated[str | None, typer.Option(help="Huddle of new text.")] = None,
    text: Annotated[str | None, typer.Option(help="New solution text.")] = None,
    k: Annotated[
        int, typer.Option("--k", "-k", "--limit", min=1, max=100, help="How many to show.")
    ] = 5,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """The k most similar past solutions, same huddle first, with their feedback."""
    with validated(TARGET_OPTIONS):
        request = SimilarRequest(solution_id=solution, huddle_id=huddle, text=text, k=k)
    result = engine(data_dir).similar(org, request)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        show_similar(result)


@app.command()
def export(
    org: OrgOpt,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File; stdout when absent.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write an organization as JSONL in the import format (lossless)."""
    hai = engine(data_dir)
    if out is None:
        hai.export(org, sys.stdout)
        return
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        count = hai.export(org, fh)
    tmp.replace(out)
    typer.echo(f"wrote {count} records to {out}", err=True)


@app.command("delete-learner")
def delete_learner(
    org: OrgOpt,
    learner: Annotated[str, typer.Option(help="Learner id.")],
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Delete a learner, their solutions and the feedback they wrote or received."""
    report = engine(data_dir).delete_learner(org, learner)
    if as_json:
        print_json(report.as_dict())
    else:
        typer.echo(
            f"deleted learner {learner}: {report.solutions} solutions, {report.feedback} feedback"
        )


@app.command("delete-org")
def delete_org(
    org: OrgOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Delete every record of an organization."""
    if not yes and not typer.confirm(f"Delete all data of organization {org!r}?"):
        raise typer.Exit(1)
    engine(data_dir).delete_org(org)
    typer.echo(f"deleted organization {org}")
