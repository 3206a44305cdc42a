"""``huddle-ai serve``: the HTTP API, optionally with a worker beside it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from huddle_ai import broker
from huddle_ai.api import KeyRing, create_app, hash_key
from huddle_ai.cli import app
from huddle_ai.cli.common import DataDirOpt, OrgOpt, settings
from huddle_ai.records import validate_org


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
    worker = None
    if with_worker:
        # A process of its own: rq's job timeouts use signals of the main thread.
        env = {**os.environ, "HUDDLE_AI_REDIS_URL": url, "HUDDLE_AI_DATA_DIR": str(conf.data_dir)}
        worker = subprocess.Popen([sys.executable, "-m", "huddle_ai", "worker"], env=env)
    import uvicorn

    typer.echo(f"huddle_ai API on http://{host}:{port} (Redis {url})", err=True)
    try:
        uvicorn.run(create_app(conf, conn=broker.connect(url), keys=keys), host=host, port=port)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()


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
