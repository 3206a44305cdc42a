"""Jobs end to end on a real Redis-protocol server, drained by an in-process
burst worker: idempotency keys, results, failure reasons, retries only for
transient errors, org-scoped look-ups, cancel and requeue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from huddle_ai import HuddleAI
from huddle_ai.errors import InvalidInputError, NotFoundError, TransientError
from huddle_ai.records import RecordAdapter
from huddle_ai.requests import (
    DeleteLearnerRequest,
    DeleteOrgRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
    ReindexRequest,
    SimilarRequest,
    SuggestRequest,
)
from huddle_ai.service import jobs
from huddle_ai.settings import Settings
from tests.jobs_helpers import drain, flushed, ingest_request
from tests.sample_data import ALL, SOLUTIONS

RECORDS = [RecordAdapter.validate_python(r) for r in ALL]


@pytest.fixture
def conn(redis_url: str) -> redis.Redis:
    return flushed(redis_url)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, data_dir=tmp_path, embedding_backend="fake")


def test_idempotency_key_returns_the_same_job(conn: redis.Redis) -> None:
    s1, s2 = SuggestRequest(solution_id="s-1"), SuggestRequest(solution_id="s-2")
    a = jobs.submit(conn, "acme", s1, idempotency_key="k1")
    b = jobs.submit(conn, "acme", s2, idempotency_key="k1")
    other_org = jobs.submit(conn, "beta", s1, idempotency_key="k1")
    fresh = jobs.submit(conn, "acme", s1)
    assert a.created and not b.created and b.job_id == a.job_id
    assert other_org.created and other_org.job_id != a.job_id
    assert fresh.job_id not in (a.job_id, other_org.job_id)
    assert len(conn.lrange("rq:queue:interactive", 0, -1)) == 3
    assert jobs.status(conn, a.job_id)["queue"] == "interactive"


def test_a_request_of_no_job_and_a_bad_org_are_rejected(conn: redis.Redis) -> None:
    with pytest.raises(InvalidInputError, match="SimilarRequest is not a job request"):
        jobs.enqueue(conn, "acme", SimilarRequest(solution_id="s-1"))
    with pytest.raises(InvalidInputError, match="organization"):
        jobs.enqueue(conn, "Bad Org!", DeleteOrgRequest())
    assert conn.dbsize() == 0


def test_ingest_then_suggest_results_are_json(
    conn: redis.Redis, settings: Settings, fake_hai: HuddleAI
) -> None:
    ingest = jobs.enqueue(conn, "acme", ingest_request(ALL))
    drain(settings, fake_hai)
    suggest = jobs.enqueue(conn, "acme", SuggestRequest(solution_id=SOLUTIONS[0]["id"]))
    drain(settings, fake_hai)

    done = jobs.status(conn, ingest)
    assert done["status"] == "finished" and done["op"] == "ingest" and done["org"] == "acme"
    assert done["result"]["added"] == len(ALL) and done["result"]["rejected"] == 0
    got = jobs.result(conn, suggest, org="acme")
    assert got["status"] == "finished" and got["retries"] == 0
    assert got["result"]["generator"] == "grounded" and got["result"]["next_step"]
    # Re-running the same ingest writes nothing new (idempotent writes).
    again = jobs.enqueue(conn, "acme", ingest_request(ALL))
    drain(settings, fake_hai)
    assert jobs.status(conn, again)["result"]["unchanged"] == len(ALL)
    assert fake_hai.store.count("acme", "solution") == len(SOLUTIONS)


def test_invalid_input_fails_once_with_its_reason_and_writes_nothing(
    conn: redis.Redis, settings: Settings, fake_hai: HuddleAI
) -> None:
    orphan = {**SOLUTIONS[0], "huddle_id": "h-missing"}
    job_id = jobs.enqueue(conn, "acme", ingest_request([orphan]), retries=3, backoff_s=0)
    drain(settings, fake_hai)
    info = jobs.status(conn, job_id)
    assert info["status"] == "failed" and info["retries"] == 0
    assert "unknown huddle_id 'h-missing'" in info["error"]
    assert fake_hai.store.count("acme", "solution") == 0
    assert [f["id"] for f in jobs.failed(conn)] == [job_id]


def test_transient_errors_are_retried(
    conn: redis.Redis, settings: Settings, fake_hai: HuddleAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_hai.ingest("acme", RECORDS)
    calls: list[SuggestRequest] = []
    real = fake_hai.suggest

    def flaky(org: str, request: SuggestRequest, **kw: Any) -> Any:
        calls.append(request)
        if len(calls) < 3:
            raise TransientError("LLM answered 503")
        return real(org, request)

    monkeypatch.setattr(fake_hai, "suggest", flaky)
    target = SuggestRequest(solution_id=SOLUTIONS[0]["id"])
    job_id = jobs.enqueue(conn, "acme", target, retries=3, backoff_s=0)
    drain(settings, fake_hai)
    info = jobs.status(conn, job_id)
    assert info["status"] == "finished" and info["result"]["generator"] == "grounded"
    assert info["retries"] == 2 and calls == [target] * 3  # re-validated, equal each time

    # Out of retries: failed, with the last reason kept.
    calls.clear()

    def down(org: str, request: SuggestRequest, **kw: Any) -> Any:
        raise TransientError("down")

    monkeypatch.setattr(fake_hai, "suggest", down)
    job_id = jobs.enqueue(conn, "acme", target, retries=2, backoff_s=0)
    drain(settings, fake_hai)
    info = jobs.status(conn, job_id)
    assert info["status"] == "failed" and info["retries"] == 2 and "down" in info["error"]


def test_lookups_are_scoped_to_the_organization(conn: redis.Redis) -> None:
    job_id = jobs.enqueue(conn, "acme", DeleteLearnerRequest(learner_id="l-ana"))
    assert jobs.status(conn, job_id, org="acme")["status"] == "queued"
    for fn in (jobs.status, jobs.result, jobs.cancel):
        with pytest.raises(NotFoundError):
            fn(conn, job_id, org="beta")  # type: ignore[operator]
    assert jobs.status(conn, job_id)["status"] == "queued"  # the failed cancel changed nothing
    with pytest.raises(NotFoundError):
        jobs.status(conn, "hai-nope")


def test_cancel_and_requeue(conn: redis.Redis, settings: Settings, fake_hai: HuddleAI) -> None:
    queued = jobs.enqueue(conn, "acme", ReindexRequest())
    assert jobs.cancel(conn, queued, org="acme")["status"] == "canceled"

    missing = jobs.enqueue(conn, "acme", SuggestRequest(solution_id="s-1"))
    drain(settings, fake_hai)  # the organization has no records yet: fails, not retried
    assert jobs.status(conn, missing)["status"] == "failed"
    assert jobs.status(conn, queued)["status"] == "canceled"  # never ran
    fake_hai.ingest("acme", RECORDS)
    assert jobs.requeue(conn, missing) == [missing]
    drain(settings, fake_hai)
    info = jobs.status(conn, missing)
    assert info["status"] == "finished" and info["result"]["generator"] == "grounded"
    assert jobs.failed(conn) == []
    with pytest.raises(NotFoundError):
        jobs.requeue(conn, missing)


def test_delete_jobs_are_idempotent(
    conn: redis.Redis, settings: Settings, fake_hai: HuddleAI
) -> None:
    fake_hai.ingest("acme", RECORDS)
    first = jobs.enqueue(conn, "acme", DeleteLearnerRequest(learner_id="l-ana"))
    second = jobs.enqueue(conn, "acme", DeleteLearnerRequest(learner_id="l-ana"))
    drain(settings, fake_hai)
    one, two = jobs.status(conn, first)["result"], jobs.status(conn, second)["result"]
    assert one["found"] is True and one["solutions"] >= 1
    assert two == {"found": False, "org": "acme", "learner_id": "l-ana"}
    assert not fake_hai.store.find("acme", "solution", {"learner_id": "l-ana"})


def test_matching_jobs_call_the_engine(
    conn: redis.Redis, settings: Settings, fake_hai: HuddleAI
) -> None:
    fake_hai.ingest("acme", RECORDS)
    huddle = SOLUTIONS[0]["huddle_id"]
    match = jobs.enqueue(conn, "acme", MatchRequest(huddle_id=huddle, k=1, max_load=5))
    pairs = jobs.enqueue(conn, "acme", PartnersRequest(group_size=2))
    pick = jobs.enqueue(conn, "acme", NextReviewersRequest(solution_id=SOLUTIONS[0]["id"]))
    drain(settings, fake_hai)
    assert jobs.status(conn, match)["queue"] == "bulk"
    assert jobs.status(conn, pick)["queue"] == "interactive"
    for job_id in (match, pairs, pick):
        info = jobs.status(conn, job_id)
        assert info["status"] == "finished", info
        assert json.dumps(info["result"])  # plain JSON
    authors = {s["id"]: s["learner_id"] for s in SOLUTIONS if s["huddle_id"] == huddle}
    reviews = jobs.status(conn, match)["result"]["reviews"]
    assert sorted(r["solution_id"] for r in reviews) == sorted(authors)  # k=1 each
    assert all(r["reviewer_id"] != authors[r["solution_id"]] and r["reason"] for r in reviews)
