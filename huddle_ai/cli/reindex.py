"""``huddle-ai reindex``: re-embed an organization after switching embedding backends."""

from __future__ import annotations

from typing import Annotated

import typer

from huddle_ai.cli.app import app
from huddle_ai.cli.common import DataDirOpt, JsonOpt, OrgOpt, engine, print_json, progress_bar


@app.command()
def reindex(
    org: OrgOpt,
    force: Annotated[
        bool, typer.Option("--force", help="Re-embed even if the backend is unchanged.")
    ] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Re-embed every stored text with the configured backend (HUDDLE_AI_EMBEDDING_BACKEND).

    Records are kept as they are; only their vectors change. Safe to interrupt:
    running it again completes it.
    """
    hai = engine(data_dir)
    with progress_bar("re-embedding", as_json) as progress:
        report = hai.reindex(org, force=force, progress=progress)
    if as_json:
        print_json(report.as_dict())
    elif report.reindexed == 0:
        typer.echo(f"organization {org!r} already uses {report.embedder}; nothing to do")
    else:
        typer.echo(
            f"reindexed {report.reindexed} records of {org!r} "
            f"({', '.join(report.previous)} -> {report.embedder}) in {report.seconds:.1f}s"
        )
