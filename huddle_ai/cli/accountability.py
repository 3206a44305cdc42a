"""``huddle-ai accountability``: import records, draft and check commitments,
schedule follow-ups, risk and community health; the risk-model evaluation and
the bulk-ingest benchmark."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from redis import Redis

from huddle_ai.accountability import Accountability, evaluate_risk
from huddle_ai.accountability.llm_drafter import build_drafter
from huddle_ai.accountability.requests import (
    CheckinRequest,
    CommitRequest,
    FollowupRequest,
    StatusRequest,
)
from huddle_ai.accountability.synthetic import evaluate_risk_seeds, generate_cohorts
from huddle_ai.cli.app import app
from huddle_ai.cli.common import DataDirOpt, JsonOpt, OrgOpt, engine, print_json, settings
from huddle_ai.errors import InvalidInputError
from huddle_ai.index.database import Database, resolve_url, scratch_database

M = TypeVar("M", bound=BaseModel)

group = typer.Typer(
    help="Commitments, check-ins, follow-ups and early warning.", no_args_is_help=True
)
app.add_typer(group, name="accountability")

UrlOpt = Annotated[
    str | None, typer.Option("--database-url", help="Database (HUDDLE_AI_DATABASE_URL).")
]


def _service(data_dir: Path | None, url: str | None) -> Accountability:
    conf = settings(data_dir)
    return Accountability(
        Database(resolve_url(url or conf.database_url, conf.data_dir)),
        drafter=build_drafter(conf),
    )


@group.command("import")
def import_(
    file: Path,
    org: OrgOpt,
    allow_past_due: Annotated[
        bool, typer.Option("--allow-past-due", help="Import history: past due dates allowed.")
    ] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Import enrollments, commitments, check-ins and events (JSONL, all or nothing)."""
    report = _service(data_dir, database_url).import_file(org, file, allow_past_due=allow_past_due)
    if as_json:
        print_json(report.as_dict())
    else:
        typer.echo(report.summary())


@group.command("draft")
def draft(
    step: Annotated[str, typer.Argument(help="A next step or the learner's own plan.")],
    learner: Annotated[str | None, typer.Option("--learner", help="Who commits.")] = None,
    huddle: Annotated[str | None, typer.Option("--huddle")] = None,
    due: Annotated[str | None, typer.Option("--due", help="ISO 8601 due date and time.")] = None,
    partner: Annotated[str | None, typer.Option("--partner")] = None,
    cue: Annotated[str | None, typer.Option("--cue", help='The "When ..." situation.')] = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a commitment as "When ..., I will ..." and say what it still lacks."""
    due_at = _due(due)
    acct = Accountability(Database("sqlite://"), drafter=build_drafter(settings(None)))
    d = acct.draft(
        step, learner_id=learner, huddle_id=huddle, due_at=due_at, partner_id=partner, cue=cue
    )
    if as_json:
        print_json(d.as_dict())
        return
    typer.echo(d.text)
    if d.degraded:
        typer.echo(f"  (offline draft: {d.degraded_reason})")
    for issue in d.issues:
        typer.echo(f"  missing: {issue.message}")


def _due(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        due_at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"--due: not an ISO 8601 date and time: {value!r}") from exc
    return due_at if due_at.tzinfo is not None else due_at.replace(tzinfo=UTC)


def _redis(data_dir: Path | None) -> Redis:
    from huddle_ai.service import broker

    conf = settings(data_dir)
    return broker.connect(broker.resolve_url(conf.redis_url, conf.data_dir))


def _request(model: type[M], **fields: object) -> M:
    """A request model from the options, an invalid one as one line naming the option."""
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        raise InvalidInputError(f"--{where.replace('_', '-')}: {first['msg']}") from exc


@group.command("commit")
def commit(
    step: Annotated[str, typer.Argument(help="A next step or the learner's own plan.")],
    org: OrgOpt,
    learner: Annotated[str, typer.Option("--learner", help="Who commits.")],
    huddle: Annotated[str, typer.Option("--huddle")],
    due: Annotated[str, typer.Option("--due", help="ISO 8601 due date and time.")],
    partner: Annotated[str | None, typer.Option("--partner")] = None,
    cue: Annotated[str | None, typer.Option("--cue", help='The "When ..." situation.')] = None,
    commitment_id: Annotated[str | None, typer.Option("--id", help="Its id.")] = None,
    allow_vague: Annotated[bool, typer.Option("--allow-vague")] = False,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="Do not schedule its follow-ups.")
    ] = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Draft, check and store a commitment, and schedule its follow-ups."""
    req = _request(
        CommitRequest,
        step=step,
        learner_id=learner,
        huddle_id=huddle,
        due_at=_due(due),
        partner_id=partner,
        cue=cue,
        commitment_id=commitment_id,
        allow_vague=allow_vague,
        schedule=not no_schedule,
    )
    conn = _redis(data_dir) if req.schedule else None
    rec, _, jobs = _service(data_dir, database_url).commit_request(org, req, conn)
    if as_json:
        print_json({"commitment": rec.model_dump(mode="json"), "scheduled": jobs})
        return
    typer.echo(f"{rec.id}: {rec.text} (due {rec.due_at.isoformat()})")


@group.command("checkin")
def checkin(
    commitment_id: Annotated[str, typer.Argument(help="The commitment.")],
    org: OrgOpt,
    status: Annotated[str, typer.Option("--status", help="done|partly|missed|dropped|on_track")],
    author: Annotated[str, typer.Option("--author", help="self or partner")] = "self",
    reflection: Annotated[str, typer.Option("--reflection")] = "",
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Record a check-in on a commitment by the learner or their partner."""
    req = _request(CheckinRequest, author=author, status=status, reflection=reflection)
    rec = _service(data_dir, database_url).checkin_request(org, commitment_id, req)
    typer.echo(f"{rec.id}: {rec.author} check-in on {commitment_id}: {rec.status}")


@group.command("status")
def set_status(
    commitment_id: Annotated[str, typer.Argument(help="The commitment.")],
    status: Annotated[str, typer.Argument(help="open|done|partly|missed|dropped")],
    org: OrgOpt,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Set a commitment's status."""
    c = _service(data_dir, database_url).set_status(
        org, commitment_id, _request(StatusRequest, status=status)
    )
    typer.echo(f"{c['id']}: {c['status']}")


@group.command("commitments")
def commitments(
    org: OrgOpt,
    learner: Annotated[str | None, typer.Option("--learner")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """List commitments, soonest due first."""
    print_json(_service(data_dir, database_url).commitments(org, learner_id=learner, status=status))


@group.command("subscribe")
def subscribe(
    org: OrgOpt,
    url: Annotated[str, typer.Option("--url", help="Webhook URL ('' to stop).")],
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Send this organization's accountability webhooks to URL."""
    _service(data_dir, database_url).subscribe(org, url or None)
    typer.echo(f"{org}: accountability webhooks -> {url or 'nowhere'}")


@group.command("schedule")
def schedule(
    org: OrgOpt,
    huddle: Annotated[str | None, typer.Option("--huddle", help="Only this huddle's.")] = None,
    every: Annotated[
        float, typer.Option("--every", help="Periodic sweep every N seconds (0: none).")
    ] = 3600.0,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Put every open commitment's follow-ups on rq's scheduler and keep a periodic
    sweep running (idempotent: run it again after a deploy or an outage)."""
    req = _request(FollowupRequest, huddle_id=huddle, sweep_every_s=every or None)
    out = _service(data_dir, database_url).followups(_redis(data_dir), org, req)
    sweep = f"; sweep every {every:g}s ({out['sweep_job']})" if out["sweep_job"] else ""
    typer.echo(f"scheduled follow-ups of {out['scheduled']} open commitments of {org!r}{sweep}")


@group.command("risk")
def risk(
    org: OrgOpt,
    cohort: Annotated[str | None, typer.Option("--cohort")] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Drop-out risk of current learners, riskiest first, with the reasons in words."""
    scored = _service(data_dir, database_url).risk(org, cohort=cohort)
    if as_json:
        print_json([r.as_dict() for r in scored])
        return
    for r in scored:
        flag = "AT RISK" if r.at_risk else "       "
        typer.echo(f"{flag} {r.score:.2f} {r.learner_id}: {', '.join(r.reasons) or '-'}")


@group.command("health")
def health(
    org: OrgOpt,
    cohort: Annotated[str | None, typer.Option("--cohort")] = None,
    match: Annotated[
        bool,
        typer.Option("--match", help="Pair the isolated through the partner matcher (store)."),
    ] = False,
    data_dir: DataDirOpt = None,
    database_url: UrlOpt = None,
) -> None:
    """Community health: reciprocity, isolated learners, time to first feedback,
    commitment completion, pairing suggestions for the isolated."""
    store = engine(data_dir).store if match else None
    report = _service(data_dir, database_url).health(org, cohort=cohort, store=store)
    print_json(report.as_dict())


@group.command("risk-eval")
def risk_eval(
    seed: Annotated[int, typer.Option("--seed")] = 7,
    train: Annotated[int, typer.Option("--train", help="Synthetic cohorts to fit on.")] = 4,
    test: Annotated[int, typer.Option("--test", help="Held-out synthetic cohorts.")] = 2,
    learners: Annotated[int, typer.Option("--learners")] = 200,
    seeds: Annotated[
        str | None,
        typer.Option("--seeds", help="Comma-separated seeds: each run, then mean and sd."),
    ] = None,
) -> None:
    """AUC (and Brier score, calibration error) of the risk model, the heuristic and
    two baselines on held-out synthetic cohorts."""
    if seeds:
        try:
            chosen = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError as exc:
            raise InvalidInputError(
                f"--seeds: integers separated by commas, got {seeds!r}"
            ) from exc
        print_json(evaluate_risk_seeds(chosen, train=train, test=test, learners=learners))
        return
    print_json(evaluate_risk(seed=seed, train=train, test=test, learners=learners))


@group.command("bench-ingest")
def bench_ingest(
    learners: Annotated[int, typer.Option("--learners", help="Learners per cohort.")] = 1000,
    cohorts: Annotated[int, typer.Option("--cohorts")] = 3,
    database_url: UrlOpt = None,
) -> None:
    """Import synthetic cohorts' events into a fresh database and report events per
    minute, parsing included: a temporary SQLite file, or with --database-url
    (PostgreSQL) a temporary database created on that server and dropped after."""
    lines = [line for c in generate_cohorts(1, cohorts, learners=learners) for line in c.jsonl()]
    with tempfile.TemporaryDirectory() as tmp, scratch_database(database_url, Path(tmp)) as db:
        acct = Accountability(db)
        acct.db.migrate()
        report = acct.import_lines("bench", lines, allow_past_due=True)
        print_json(
            {
                "database": db.engine.dialect.name,
                "events": report.events,
                "lines": len(lines),
                "seconds": round(report.seconds, 2),
                "events_per_minute": round(report.events / report.seconds * 60),
            }
        )
