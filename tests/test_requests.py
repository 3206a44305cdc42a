"""Typed requests end to end: the same model through the HuddleAI method, the
CLI, the HTTP body and the rq job argument (JSON in a real Redis, validated
again on the worker); a bad request is one line naming its field."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job

from huddle_ai import HuddleAI
from huddle_ai.cli import run
from huddle_ai.errors import ConfigurationError, InvalidInputError
from huddle_ai.requests import (
    DeleteLearnerRequest,
    DeleteOrgRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
    ReindexRequest,
    Request,
    SuggestRequest,
)
from huddle_ai.service import jobs
from huddle_ai.service.api import create_app
from huddle_ai.service.runtime import ContextJob
from huddle_ai.settings import Settings
from tests.jobs_helpers import drain, flushed, ingest_request, serving
from tests.sample_data import ALL, SOLUTIONS

KEY = "acme-key-123"

# every job request, with fields away from their defaults where there are any
REQUESTS: list[Request] = [
    ingest_request(ALL, skip_invalid=True),
    SuggestRequest(huddle_id="h-int", text="We interviewed five customers.", k=7),
    MatchRequest(
        huddle_id="h-int",
        k=2,
        max_load=4,
        weights={"expertise": 0.7, "novelty": 0.3},
        do_not_pair=[("l-a", "l-b")],
        forced=[("l-c", "s-1")],
        floor=0.25,
        now=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        time_limit=5.5,
    ),
    PartnersRequest(learners=["l-a", "l-b", "l-c"], group_size=3, past_pairs=[("l-a", "l-c")]),
    NextReviewersRequest(solution_id="s-1", n=2, open_loads={"l-a": 2}, exclude=["l-b"]),
    DeleteLearnerRequest(learner_id="l-ana"),
    DeleteOrgRequest(),
    ReindexRequest(force=True),
]


@pytest.fixture
def conn(redis_url: str) -> redis.Redis:
    return flushed(redis_url)


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_every_job_request_round_trips_through_redis(conn: redis.Redis, request_: Request) -> None:
    job_id = jobs.enqueue(conn, "acme", request_)
    stored = Job.fetch(job_id, connection=conn, serializer=jobs.SERIALIZER)
    op, org, data = stored.args
    spec = jobs.OPS[op]
    assert org == "acme" and type(request_) is spec.request
    assert json.loads(json.dumps(data)) == data  # plain JSON in Redis, no pickles
    assert spec.request.model_validate(data) == request_  # the worker sees the same request
    assert stored.func_name == "huddle_ai.service.jobs.run_job" and stored.origin == spec.queue


def test_an_http_body_is_its_request_and_queues_without_the_callback(
    conn: redis.Redis, tmp_path: Path, fake_hai: HuddleAI, redis_url: str
) -> None:
    settings = Settings(
        redis_url=redis_url, data_dir=tmp_path, embedding_backend="fake", api_keys=f"acme:{KEY}"
    )
    auth = {"Authorization": f"Bearer {KEY}"}
    with serving(create_app(settings, conn=conn), settings) as (base, _):
        body = {"solution_id": SOLUTIONS[0]["id"], "k": 4}
        reply = httpx.post(f"{base}/v1/orgs/acme/suggestions", json=body, headers=auth)
        assert reply.status_code == 202, reply.text
        job_id = reply.json()["job_id"]
        stored = Job.fetch(job_id, connection=conn, serializer=jobs.SERIALIZER)
        assert stored.args[2] == SuggestRequest(**body).model_dump(mode="json")

        # bad bodies: 422 naming the field, nothing queued
        before = conn.dbsize()
        too_many = httpx.post(
            f"{base}/v1/orgs/acme/suggestions", json={**body, "k": 999}, headers=auth
        )
        assert too_many.status_code == 422
        assert too_many.json()["detail"][0]["loc"] == ["body", "k"]
        both = httpx.post(
            f"{base}/v1/orgs/acme/suggestions",
            json={"solution_id": "s-1", "huddle_id": "h-int", "text": "x"},
            headers=auth,
        )
        assert both.status_code == 422
        assert "give solution_id, or huddle_id with text, not both" in both.text
        weights = httpx.post(
            f"{base}/v1/orgs/acme/matches",
            json={"huddle_id": "h-int", "weights": {"charisma": 1.0}},
            headers=auth,
        )
        assert weights.status_code == 422 and "charisma" in weights.text
        assert weights.json()["detail"][0]["loc"] == ["body", "weights"]
        assert conn.dbsize() == before

    # the queued job runs on the worker with the request validated again
    fake_hai.ingest("acme", ingest_request(ALL))
    drain(settings, fake_hai)
    info = jobs.status(conn, job_id)
    assert info["status"] == "finished" and info["result"]["generator"] == "grounded"


def test_a_tampered_job_argument_fails_once_naming_the_field(
    conn: redis.Redis, tmp_path: Path, fake_hai: HuddleAI, redis_url: str
) -> None:
    # what a client that skipped validation (or an older one) might queue
    queue = Queue(jobs.INTERACTIVE, connection=conn, serializer=jobs.SERIALIZER)
    job_id = queue.enqueue_call(
        "huddle_ai.service.jobs.run_job",
        args=["suggest", "acme", {"solution_id": "s-1", "k": 0}],
        meta={"org": "acme", "op": "suggest", "max_retries": 3},
        retry=Retry(max=3, interval=[0, 0, 0]),
    ).id
    settings = Settings(redis_url=redis_url, data_dir=tmp_path, embedding_backend="fake")
    drain(settings, fake_hai)
    info = jobs.status(conn, job_id)
    assert info["status"] == "failed" and info["retries"] == 0  # invalid input: no retry
    assert info["error"].endswith(
        "InvalidInputError: k: Input should be greater than or equal to 1"
    )
    assert "\n" not in info["error"]


def test_a_job_outside_a_huddle_worker_has_no_context(conn: redis.Redis) -> None:
    job_id = jobs.enqueue(conn, "acme", ReindexRequest(), retries=0)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # rq's own worker with huddle_ai's job class, but no context given to it
        plain = SimpleWorker(
            [jobs.BULK], connection=conn, serializer=jobs.SERIALIZER, job_class=ContextJob
        )
        plain.work(burst=True, logging_level="WARNING")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    info = jobs.status(conn, job_id)
    assert info["status"] == "failed" and "needs a worker context" in info["error"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["suggest", "--solution", "s-1", "--huddle", "h-int", "--text", "x"],
            "error: give --solution ID, or --huddle ID with --text, not both",
        ),
        (["similar", "--huddle", "h-int"], "error: give --solution ID, or --huddle ID with --text"),
        (
            ["next-reviewers", "--solution", "s-1", "--load", "l-a=-1"],
            "error: --load.l-a: Input should be greater than or equal to 0",
        ),
        (
            ["match", "--huddle", "h-int", "--max-load", "500"],
            "error: --max-load: Input should be less than or equal to 100",
        ),
    ],
)
def test_a_bad_cli_request_is_one_line_naming_the_option(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run([*argv, "--org", "acme", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == message, err


def test_methods_take_the_request_or_its_fields(fake_hai: HuddleAI) -> None:
    fake_hai.ingest("acme", ingest_request(ALL))
    sid = SOLUTIONS[0]["id"]
    by_request = fake_hai.suggest("acme", SuggestRequest(solution_id=sid, k=3))
    by_keywords = fake_hai.suggest("acme", sid, k=3)
    assert by_request.citations == by_keywords.citations and by_request.text == by_keywords.text
    with pytest.raises(InvalidInputError, match=r"^k: "):
        fake_hai.similar("acme", solution_id=sid, k=0)
    with pytest.raises(InvalidInputError, match="not both"):
        fake_hai.suggest("acme", SuggestRequest(solution_id=sid), text="more")


def test_no_hidden_defaults(fake_hai: HuddleAI) -> None:
    with pytest.raises(ConfigurationError, match="needs settings"):
        HuddleAI()
    # the generators are built with the engine, not on first use
    assert "generators" in vars(fake_hai)
    assert fake_hai.generators.primary.name == "grounded" and fake_hai.generators.fallback is None
