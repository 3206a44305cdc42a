"""The embedded Valkey server: processes started on one machine without
HUDDLE_AI_REDIS_URL share one server per data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from huddle_ai.service import broker


def _broker_url(data_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "HUDDLE_AI_REDIS_URL"}
    env["HUDDLE_AI_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "huddle_ai", "jobs", "broker"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_processes_on_one_machine_share_one_embedded_server(tmp_path: Path) -> None:
    procs = [_broker_url(tmp_path) for _ in range(3)]  # racing to start it
    urls = {json.loads(p.communicate(timeout=60)[0])["url"] for p in procs}
    try:
        assert len(urls) == 1
        url = urls.pop()
        conn = redis.Redis.from_url(url)
        conn.set("shared", "yes")
        assert broker.ensure_embedded(tmp_path) == url  # and this process too
        assert broker.embedded_url(tmp_path) == url
        assert redis.Redis.from_url(url).get("shared") == b"yes"
    finally:
        assert broker.stop_embedded(tmp_path)
    assert broker.embedded_url(tmp_path) is None
    assert broker.stop_embedded(tmp_path) is False


def test_configured_url_wins(tmp_path: Path) -> None:
    assert broker.resolve_url("redis://example:6379/2", tmp_path) == "redis://example:6379/2"
    assert not (tmp_path / "broker.json").exists()
