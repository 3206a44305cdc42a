"""Property-based fuzzing (hypothesis) of imports and of HTTP bodies: no
traceback, no 5xx and no partial write, whatever the input.

- JSONL and CSV text, mostly near-valid records with one field mutated, go
  through parsing and an atomic ingest into real embedded Chroma: only
  :class:`InvalidInputError` may come out, and a rejected ingest writes nothing.
- Bodies and paths go to a real uvicorn server (the protocol and limits of
  `huddle-ai serve`) over a real Redis-protocol server: every answer is below
  500, the keep-alive connection survives, and a refused request enqueues nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huddle_ai import FakeEmbedder, HuddleAI, Store
from huddle_ai.errors import ImportRejectedError, InvalidInputError
from huddle_ai.index.formats import Parsed, parse_csv, parse_jsonl
from huddle_ai.service.api import create_app
from tests.jobs_helpers import flushed, serving
from tests.sample_data import ALL, HUDDLE, LEARNERS, SOLUTIONS
from tests.test_hardening import ACME, api_settings, auth, queued

ORG = "fuzz"
KINDS = ("huddle", "learner", "solution", "feedback")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "2026-09-01T10:00:00",  # naive
            "2026-09-01T10:00:00Z",
            "h-int",
            "l-ana",
            "s-1",
            "s-404",
            "met",
            "partial",
            "peer",
            "a\nb",
            "\ud800",
            "\u200b",
            "",
            " ",
            "x" * 300,
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = sorted({k for r in ALL for k in r} | {"rubric", "extra", "c-plan"})


@st.composite
def records(draw: st.DrawFn) -> Any:
    """A sample record with a field or two changed, dropped or added; now and then
    something that is not a record at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    record = dict(draw(st.sampled_from(ALL)))
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(FIELDS))
        if draw(st.booleans()) and field in record:
            del record[field]
        else:
            record[field] = draw(json_values)
    return record


def _line(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=True)
    except (ValueError, UnicodeEncodeError):
        return str(value)


jsonl_lines = st.lists(
    records().map(_line)
    | st.text(max_size=60)
    | st.sampled_from(["[" * 5000, '{"kind": "huddle"', "NaN", "{}" * 3]),
    max_size=8,
)


@pytest.fixture(scope="module")
def hai(tmp_path_factory: pytest.TempPathFactory) -> HuddleAI:
    embedder = FakeEmbedder()
    path = tmp_path_factory.mktemp("fuzz-store")
    engine = HuddleAI(embedder=embedder, store=Store.embedded(path, embedder.id))
    engine.ingest(ORG, parse_jsonl(json.dumps(r) for r in [HUDDLE, *LEARNERS, SOLUTIONS[0]]))
    return engine


def _counts(hai: HuddleAI) -> dict[str, int]:
    return {k: hai.store.count(ORG, k) for k in KINDS}


def _ingest_atomically(hai: HuddleAI, parsed: Parsed) -> None:
    before = _counts(hai)
    try:
        report = hai.ingest(ORG, parsed)
    except ImportRejectedError as exc:
        assert exc.errors and "\n" not in str(exc)
        assert _counts(hai) == before, "a rejected import wrote something"
        return
    assert not report.errors
    assert sum(_counts(hai).values()) - sum(before.values()) == report.added


@FUZZ
@given(lines=jsonl_lines)
def test_jsonl_imports_never_crash_or_write_partly(hai: HuddleAI, lines: list[str]) -> None:
    parsed = parse_jsonl(lines)
    for error in parsed.errors:
        assert "\n" not in str(error)
    _ingest_atomically(hai, parsed)


CSV_COLUMNS = [
    "kind",
    "id",
    "huddle_id",
    "learner_id",
    "text",
    "created_at",
    "solution_id",
    "author_id",
    "author_role",
    "helpfulness",
    "rubric",
    "rubric.c-plan",
    "assessment",
]
CELLS = ["solution", "feedback", "s-1", "h-int", "l-ana", "peer", "met", "3", "nan", "inf"]
CELLS += ['{"c-plan": 1}', "2026-09-01T10:00:00Z", "2026-09-01T10:00:00", '"', '""', "a,b"]
cells = st.text(max_size=30) | st.sampled_from([*CELLS, "x\ny", "\0", "x" * 140_000])


@FUZZ
@given(
    header=st.lists(st.sampled_from(CSV_COLUMNS) | st.text(max_size=6), min_size=1, max_size=8),
    rows=st.lists(st.lists(cells, max_size=9), max_size=5),
    kind=st.sampled_from([None, "solution", "feedback", "huddle"]),
    raw=st.none() | st.text(max_size=200),
)
def test_csv_imports_never_crash_or_write_partly(
    hai: HuddleAI, header: list[str], rows: list[list[str]], kind: str | None, raw: str | None
) -> None:
    if raw is None:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        raw = out.getvalue()
    try:
        parsed = parse_csv(io.StringIO(raw, newline=""), kind)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
        return
    _ingest_atomically(hai, parsed)


# -- HTTP ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    spare_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, redis.Redis]]:
    url = spare_redis_url
    conn = flushed(url)
    conf = api_settings(url, tmp_path_factory.mktemp("fuzz-api"))
    with (
        serving(create_app(conf, conn=conn), conf) as (base, _),
        httpx.Client(base_url=base, timeout=20) as client,
    ):
        yield client, conn


PATHS = [
    "/v1/orgs/acme/records",
    "/v1/orgs/acme/suggestions",
    "/v1/orgs/acme/matches",
    "/v1/orgs/acme/partners",
    "/v1/orgs/acme/next-reviewers",
]


def _body(value: Any) -> bytes:
    try:
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return b"null"


bodies = (
    st.builds(lambda rs: {"records": rs}, st.lists(records(), min_size=1, max_size=6)).map(_body)
    | st.fixed_dictionaries(
        {},
        optional={
            "solution_id": json_values,
            "huddle_id": json_values,
            "text": json_values,
            "k": json_values,
            "callback_url": json_values,
            "skip_invalid": json_values,
            "max_load": json_values,
            "reviewers": json_values,
            "do_not_pair": json_values,
        },
    ).map(_body)
    | json_values.map(_body)
    | st.binary(max_size=200)
)


@FUZZ
@given(path=st.sampled_from(PATHS), body=bodies)
def test_http_bodies_never_5xx_nor_enqueue_when_refused(
    server: tuple[httpx.Client, redis.Redis], path: str, body: bytes
) -> None:
    client, conn = server
    before = queued(conn)
    reply = client.post(path, content=body, headers=auth(ACME))
    assert reply.status_code < 500, reply.text[:500]
    if reply.status_code not in (200, 202):
        assert queued(conn) == before, f"{reply.status_code} but a job was enqueued"
        assert reply.json()["detail"]


@FUZZ
@given(
    method=st.sampled_from(["GET", "DELETE"]),
    segment=st.text(min_size=1, max_size=40),
    where=st.sampled_from(["/v1/jobs/", "/v1/orgs/acme/learners/", "/v1/orgs/"]),
)
def test_http_paths_never_5xx(
    server: tuple[httpx.Client, redis.Redis], method: str, segment: str, where: str
) -> None:
    client, conn = server
    before = queued(conn)
    path = where + quote(segment.encode("utf-8", "surrogatepass"), safe="")
    reply = client.request(method, path, headers=auth(ACME))
    assert reply.status_code < 500, reply.text[:500]
    if reply.status_code >= 400:
        assert queued(conn) == before


def test_the_fuzzers_reach_valid_input_too(hai: HuddleAI) -> None:
    """A guard on the strategies: untouched sample records ingest."""
    report = hai.ingest(ORG, parse_jsonl(json.dumps(r) for r in ALL))
    assert not report.errors and report.rejected == 0
