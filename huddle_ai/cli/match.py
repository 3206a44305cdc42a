"""Peer-matching commands: ``match`` (review assignment), ``partners``, ``next-reviewers``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from huddle_ai.cli.app import app
from huddle_ai.cli.common import DataDirOpt, JsonOpt, OrgOpt, engine, print_json
from huddle_ai.errors import InvalidInputError
from huddle_ai.matching import (
    Affinity,
    NextReviewers,
    PartnerMatching,
    ReviewAssignment,
    Weights,
)
from huddle_ai.requests import (
    AffinityRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
    validated,
)

WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Component weights, e.g. 'expertise=0.5,diversity=0.2' (others keep defaults).",
    ),
]
AvoidOpt = Annotated[
    list[str] | None,
    typer.Option("--avoid", help="Do-not-pair 'A:B' (learner ids; repeatable)."),
]
SameTeamOpt = Annotated[
    bool, typer.Option("--same-team-conflict", help="Never pair people from the same team.")
]


def _weights(spec: str | None) -> dict[str, float] | None:
    return None if spec is None else Weights.parse(spec).as_dict()


# request fields by the options that set them, for error messages
_OPTIONS = {
    "huddle_id": "--huddle",
    "solution_id": "--solution",
    "k": "--reviewers-per-solution",
    "min_load": "--min-load",
    "max_load": "--max-load",
    "reviewers": "--reviewers",
    "do_not_pair": "--avoid",
    "forced": "--force",
    "floor": "--floor",
    "learners": "--learners",
    "solutions": "--solutions",
    "group_size": "--group-size",
    "past_pairs": "--past",
    "open_loads": "--load",
    "exclude": "--exclude",
    "weights": "--weights",
}


def _ids(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _pairs(values: list[str] | None, option: str, sep: str = ":") -> list[tuple[str, str]]:
    out = []
    for v in values or []:
        a, found, b = v.partition(sep)
        if not found or not a.strip() or not b.strip():
            raise InvalidInputError(f"{option} {v!r}: expected 'A{sep}B'")
        out.append((a.strip(), b.strip()))
    return out


def write_scores(aff: Affinity, path: Path) -> None:
    """Write ``{learner: {solution: {"total": x, ...}}}`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(aff.as_json(), fh, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def show_assignment(result: ReviewAssignment) -> None:
    typer.echo(
        f"huddle {result.huddle_id}: {len(result.by_solution)} solutions × "
        f"{result.reviewers_per_solution} reviewers, loads {result.min_load}..{result.max_load}; "
        f"total affinity {result.objective:.3f} (lowest solution {result.min_solution_total:.3f}), "
        f"{'optimal' if result.optimal else 'best found'} by {result.method} "
        f"in {result.seconds:.2f}s"
    )
    by_pair = {(r.solution_id, r.reviewer_id): r for r in result.reviews}
    for sid, reviewers in result.by_solution.items():
        typer.echo(f"- {sid}")
        for rid in reviewers:
            rv = by_pair[(sid, rid)]
            typer.echo(f"    {rid} ({rv.score:.2f}): {rv.reason}")


def show_partners(result: PartnerMatching) -> None:
    typer.echo(
        f"{len(result.groups)} groups of {result.group_size}, total affinity "
        f"{result.objective:.3f} ({result.method})"
    )
    for g in result.groups:
        typer.echo(f"- {' + '.join(g.members)} ({g.score:.2f})")
        for pair, reason in g.reasons.items():
            typer.echo(f"    {pair}: {reason}")
    if result.note:
        typer.echo(f"note: {result.note}")


def show_picks(result: NextReviewers) -> None:
    typer.echo(f"next reviewers for {result.solution_id}:")
    for p in result.picks:
        typer.echo(f"- {p.reviewer_id} ({p.score:.2f}, open load {p.open_load}): {p.reason}")
    if result.note:
        typer.echo(f"note: {result.note}")


@app.command()
def match(
    org: OrgOpt,
    huddle: Annotated[str, typer.Option("--huddle", help="Huddle whose solutions get reviewers.")],
    reviewers_per_solution: Annotated[int, typer.Option(min=1)] = 3,
    max_load: Annotated[int, typer.Option(min=1, help="Most reviews per reviewer.")] = 3,
    min_load: Annotated[int, typer.Option(min=0, help="Fewest reviews per reviewer.")] = 0,
    reviewers: Annotated[
        str | None, typer.Option(help="Comma-separated reviewer pool (default: all learners).")
    ] = None,
    same_team_conflict: SameTeamOpt = False,
    avoid: AvoidOpt = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Forced 'REVIEWER:SOLUTION' (repeatable).")
    ] = None,
    fairness: Annotated[
        bool, typer.Option("--fairness", help="Raise the worst-off solution's total first.")
    ] = False,
    floor: Annotated[
        float | None, typer.Option(help="Every solution's total affinity at least this.")
    ] = None,
    weights: WeightsOpt = None,
    scores_out: Annotated[
        Path | None, typer.Option("--scores-out", help="Write the affinity matrix as JSON here.")
    ] = None,
    learners: Annotated[
        str | None, typer.Option(help="Restrict --scores-out to these learner ids (comma list).")
    ] = None,
    solutions: Annotated[
        str | None, typer.Option(help="Restrict --scores-out to these solution ids (comma list).")
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Assign exactly k reviewers to each solution of a huddle, optimally and explained."""
    w = _weights(weights)
    with validated(_OPTIONS):
        request = MatchRequest(
            huddle_id=huddle,
            k=reviewers_per_solution,
            min_load=min_load,
            max_load=max_load,
            reviewers=_ids(reviewers),
            weights=w,
            same_team_conflict=same_team_conflict,
            do_not_pair=_pairs(avoid, "--avoid"),
            forced=_pairs(force, "--force"),
            fairness=fairness,
            floor=floor,
        )
        sols = _ids(solutions)
        scores = AffinityRequest(
            huddle_id=None if sols else huddle,
            solutions=sols,
            learners=_ids(learners) or _ids(reviewers),
            weights=w,
        )
    hai = engine(data_dir)
    result = hai.match_reviewers(org, request)
    if scores_out is not None:
        write_scores(hai.affinity_scores(org, scores), scores_out)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        show_assignment(result)
        if scores_out is not None:
            typer.echo(f"affinity scores written to {scores_out}")


@app.command()
def partners(
    org: OrgOpt,
    huddle: Annotated[
        str | None, typer.Option("--huddle", help="Pair the learners who worked on this huddle.")
    ] = None,
    learners: Annotated[str | None, typer.Option(help="Comma-separated learner ids.")] = None,
    group_size: Annotated[int, typer.Option(min=2, help="2 for pairs.")] = 2,
    same_team_conflict: SameTeamOpt = False,
    avoid: AvoidOpt = None,
    past: Annotated[
        list[str] | None, typer.Option("--past", help="A past pairing 'A:B' to avoid (repeatable).")
    ] = None,
    allow_repeats: Annotated[
        bool, typer.Option("--allow-repeats", help="Past pairings only lower novelty.")
    ] = False,
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Accountability or learning partners: pairs or groups maximising affinity."""
    with validated(_OPTIONS):
        request = PartnersRequest(
            learners=_ids(learners),
            huddle_id=huddle,
            group_size=group_size,
            weights=_weights(weights),
            same_team_conflict=same_team_conflict,
            do_not_pair=_pairs(avoid, "--avoid"),
            past_pairs=_pairs(past, "--past"),
            avoid_repeats=not allow_repeats,
        )
    result = engine(data_dir).match_partners(org, request)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        show_partners(result)


@app.command("next-reviewers")
def next_reviewers(
    org: OrgOpt,
    solution: Annotated[str, typer.Option("--solution", help="The solution needing review.")],
    n: Annotated[int, typer.Option("--n", min=1, help="How many reviewers to pick.")] = 1,
    load: Annotated[
        list[str] | None, typer.Option("--load", help="Open load 'REVIEWER=N' (repeatable).")
    ] = None,
    max_load: Annotated[int, typer.Option(min=1)] = 3,
    exclude: Annotated[
        str | None, typer.Option(help="Comma-separated reviewers already on it.")
    ] = None,
    reviewers: Annotated[str | None, typer.Option(help="Comma-separated reviewer pool.")] = None,
    same_team_conflict: SameTeamOpt = False,
    avoid: AvoidOpt = None,
    weights: WeightsOpt = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Who should review this solution now, given reviewers' open loads."""
    loads: dict[str, int] = {}
    for rid, count in _pairs(load, "--load", "="):
        try:
            loads[rid] = int(count)
        except ValueError as exc:
            raise InvalidInputError(f"--load {rid}={count}: the load must be an integer") from exc
    with validated({**_OPTIONS, "n": "--n", "max_load": "--max-load"}):
        request = NextReviewersRequest(
            solution_id=solution,
            n=n,
            open_loads=loads,
            max_load=max_load,
            reviewers=_ids(reviewers),
            exclude=_ids(exclude) or [],
            weights=_weights(weights),
            same_team_conflict=same_team_conflict,
            do_not_pair=_pairs(avoid, "--avoid"),
        )
    result = engine(data_dir).next_reviewers(org, request)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        show_picks(result)
