"""``huddle-ai serve``: the HTTP API, optionally with a worker beside it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from huddle_ai.cli.app import app
from huddle_ai.cli.common import DataDirOpt, OrgOpt, settings
from huddle_ai.records import validate_org
from huddle_ai.service import broker
from huddle_ai.service.api import KeyRing, create_app, hash_key
from huddle_ai.service.limits import server_config


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run a worker on the same Redis.")
    ] = False,
    openapi_out: Annotated[
        Path | None, typer.Option("--openapi-out", help="Write the OpenAPI document and exit.")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Serve the HTTP API (jobs are run by `huddle-ai worker`)."""
    conf = settings(data_dir)
    if openapi_out is not None:
        doc = create_app(conf, conn=broker.connect("redis://127.0.0.1:1"), keys=KeyRing()).openapi()
        openapi_out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return
    url = broker.resolve_url(conf.redis_url, conf.data_dir)
    keys = KeyRing.from_settings(conf)
    if not len(keys):
        typer.echo("warning: no API keys configured; every request will get 401", err=True)
    api = create_app(conf, conn=broker.connect(url), keys=keys)
    server = uvicorn.Server(
        server_config(
            api,
            host=host,
            port=port,
            read_timeout_s=conf.http_read_timeout_s,
            max_header_bytes=conf.max_header_bytes,
        )
    )
    env = {**os.environ, "HUDDLE_AI_REDIS_URL": url, "HUDDLE_AI_DATA_DIR": str(conf.data_dir)}
    typer.echo(f"huddle_ai API on http://{host}:{port} (Redis {url})", err=True)
    stopped_by = _serve(server, env if with_worker else None)
    if stopped_by is not None:
        raise typer.Exit(128 + stopped_by)


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def _serve(server: uvicorn.Server, worker_env: dict[str, str] | None) -> int | None:
    """Run the server (and a worker beside it); returns the signal that stopped it.

    uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal
    again for the handler that was there before it. That handler is ours, so
    the worker is stopped before this process exits, whatever stopped it.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stopped(signum)

    saved = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker = None
    try:
        if worker_env is not None:
            # A process of its own (rq's job timeouts use signals of the main thread), in
            # a session of its own: a terminal's Ctrl-C reaches the server, which stops it.
            worker = subprocess.Popen(
                [sys.executable, "-m", "huddle_ai", "worker"],
                env=worker_env,
                start_new_session=True,
            )
        server.run()
    except _Stopped as exc:
        return exc.signum
    finally:
        if worker is not None:
            _stop_worker(worker)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return None


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown of the worker and its scheduler (its process group), then kill."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)  # a scheduler child left behind
    worker.wait(5)


@app.command("api-key")
def api_key(
    org: OrgOpt,
    keys_file: Annotated[
        Path, typer.Option("--keys-file", help="Append the hash here (HUDDLE_AI_API_KEYS_FILE).")
    ],
) -> None:
    """Create an API key for an organization: prints it once, stores only its hash."""
    validate_org(org)
    key = f"hai_{secrets.token_urlsafe(32)}"
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    with keys_file.open("a", encoding="utf-8") as fh:
        fh.write(f"{org}:sha256:{hash_key(key)}\n")
    keys_file.chmod(0o600)
    typer.echo(key)
