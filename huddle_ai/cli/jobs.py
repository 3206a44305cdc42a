"""Commands for the job queue: ``huddle-ai worker`` and ``huddle-ai jobs ...``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from redis import Redis

from huddle_ai.cli.app import app
from huddle_ai.cli.common import DataDirOpt, JsonOpt, OrgOpt, print_json, settings
from huddle_ai.errors import ConfigurationError, InvalidInputError
from huddle_ai.service import broker, jobs, webhooks

jobs_app = typer.Typer(help="Inspect, requeue and cancel background jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

QueuesOpt = Annotated[
    str,
    typer.Option(
        "--queues",
        help="Comma-separated queues, served in this order.",
    ),
]


def _conn(data_dir: DataDirOpt = None) -> Redis:
    conf = settings(data_dir)
    return broker.connect(broker.resolve_url(conf.redis_url, conf.data_dir))


def _queues(text: str) -> list[str]:
    names = [q.strip() for q in text.split(",") if q.strip()]
    unknown = sorted(set(names) - set(jobs.QUEUES))
    if unknown or not names:
        raise InvalidInputError(
            f"unknown queue(s) {', '.join(unknown) or '(none)'}; use {', '.join(jobs.QUEUES)}"
        )
    return names


@app.command()
def worker(
    queues: QueuesOpt = ",".join(jobs.QUEUES),
    burst: Annotated[bool, typer.Option("--burst", help="Quit when the queues are empty.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Run jobs. The embedding model and clients are loaded once, at start."""
    from huddle_ai.service.worker import run

    run(settings(data_dir), _queues(queues), burst=burst)


def _show(info: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    line = f"{info['id']}  {info['op']}  org={info['org']}  {info['status']}"
    if info.get("retries"):
        line += f"  retries={info['retries']}"
    typer.echo(line)
    if info.get("error"):
        typer.echo(f"  reason: {info['error']}")


@jobs_app.command("status")
def status_cmd(job_id: str, as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """A job's state (and its failure reason)."""
    _show(jobs.status(_conn(data_dir), job_id), as_json)


@jobs_app.command("result")
def result_cmd(
    job_id: str,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the job to end.")] = 0.0,
    data_dir: DataDirOpt = None,
) -> None:
    """Print a job's result as JSON (exit 1 if it failed, 3 if it has not ended)."""
    info = jobs.result(_conn(data_dir), job_id, wait=wait)
    if info["status"] == "finished":
        print_json(info["result"])
        return
    _show(info, False)
    raise typer.Exit(1 if info["status"] in ("failed", "stopped", "canceled") else 3)


@jobs_app.command("cancel")
def cancel_cmd(job_id: str, data_dir: DataDirOpt = None) -> None:
    """Cancel a queued job or stop a running one."""
    _show(jobs.cancel(_conn(data_dir), job_id), False)


@jobs_app.command("failed")
def failed_cmd(as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """Failed jobs with their reasons."""
    items = jobs.failed(_conn(data_dir))
    if as_json:
        print_json(items)
        return
    for info in items:
        _show(info, False)
    typer.echo(f"{len(items)} failed job(s)", err=True)


@jobs_app.command("requeue")
def requeue_cmd(
    job_id: Annotated[
        str | None, typer.Argument(help="A failed job; all of them with --all.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Requeue every failed job.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Retry failed jobs (their retry budget is restored)."""
    if (job_id is None) == (not all_):
        raise InvalidInputError("give one JOB_ID or --all")
    done = jobs.requeue(_conn(data_dir), job_id)
    typer.echo(f"requeued {len(done)} job(s)")


@jobs_app.command("webhooks-failed")
def webhooks_failed_cmd(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization.")] = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Webhook deliveries that failed for good, newest first."""
    items = webhooks.failed_deliveries(_conn(data_dir), org)
    if as_json:
        print_json(items)
        return
    for e in items:
        typer.echo(f"{e['failed_at']}  {e['org']}  job {e['job_id']}  {e['url']}: {e['reason']}")
    typer.echo(f"{len(items)} failed deliver(ies)", err=True)


@jobs_app.command("webhook-secret")
def webhook_secret_cmd(org: OrgOpt, data_dir: DataDirOpt = None) -> None:
    """The key an organization's receiver verifies signatures with (hex)."""
    conf = settings(data_dir)
    if conf.webhook_secret is None:
        raise ConfigurationError("set HUDDLE_AI_WEBHOOK_SECRET first")
    typer.echo(webhooks.org_secret(conf.webhook_secret.get_secret_value(), org).hex())


@jobs_app.command("broker")
def broker_cmd(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the embedded server.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the Redis URL in use (starting the embedded server if needed)."""
    conf = settings(data_dir)
    if stop:
        typer.echo("stopped" if broker.stop_embedded(conf.data_dir) else "not running")
        return
    typer.echo(json.dumps({"url": broker.resolve_url(conf.redis_url, conf.data_dir)}))
