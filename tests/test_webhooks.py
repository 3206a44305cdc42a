"""Signed webhooks: signature and replay checks, and real deliveries from a real
worker to a real HTTP receiver that is down at first, or refuses for good."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from huddle_ai.requests import SuggestRequest
from huddle_ai.service import jobs, webhooks
from tests.conftest import free_port
from tests.jobs_helpers import (
    finished,
    flushed,
    ingest_request,
    start_worker,
    stop,
    wait_until,
    worker_env,
)
from tests.sample_data import ALL, SOLUTIONS

# how often the submitter asks for a delivery to be retried (it travels with the job)
POLICY = webhooks.DeliveryPolicy(timeout_s=2, retries=6, backoff_s=1)

SECRET = "test-master-secret"


def test_signature_verifies_and_rejects_tampering_replays_and_other_orgs() -> None:
    key = webhooks.org_secret(SECRET, "acme")
    body = b'{"id":"hai-1:finished","job_id":"hai-1","status":"finished"}'
    d = "hai-1:finished"
    header = webhooks.signature_header(key, body, d)
    assert webhooks.verify(key, header, body, d)
    assert not webhooks.verify(key, header, body.replace(b"finished", b"failed"), d)
    assert not webhooks.verify(webhooks.org_secret(SECRET, "beta"), header, body, d)
    old = webhooks.signature_header(key, body, d, timestamp=int(time.time()) - 301)
    assert not webhooks.verify(key, old, body, d)
    recent = webhooks.signature_header(key, body, d, int(time.time()) - 200)
    assert webhooks.verify(key, recent, body, d)
    assert not webhooks.verify(key, "garbage", body, d)


def test_the_delivery_id_is_covered_by_the_signature() -> None:
    """A replayed body under another X-Huddle-Delivery (to slip past a receiver's
    de-duplication) does not verify."""
    key = webhooks.org_secret(SECRET, "acme")
    body = b'{"id":"hai-1:finished"}'
    header = webhooks.signature_header(key, body, "hai-1:finished")
    assert webhooks.verify(key, header, body, "hai-1:finished")
    assert not webhooks.verify(key, header, body, "hai-1:finished-again")
    assert not webhooks.verify(key, header, body, "")
    assert not webhooks.verify(key, header, body, "hai-1.finished")


class Receiver:
    """A real HTTP server recording what it receives; answers ``status``."""

    def __init__(self, port: int, status: int = 200) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.got.append((dict(self.headers.items()), body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_delivery_retries_until_the_receiver_is_up_and_failures_are_recorded(
    redis_url: str, tmp_path: Path
) -> None:
    conn = flushed(redis_url)
    log = tmp_path / "worker.log"
    env = worker_env(redis_url, tmp_path, HUDDLE_AI_WEBHOOK_SECRET=SECRET)
    env["HUDDLE_AI_WEBHOOK_RETRIES"] = "6"
    proc = start_worker(env, log)
    port, refusing_port = free_port(), free_port()
    receiver = refusing = None
    try:
        ingest = jobs.enqueue(conn, "acme", ingest_request(ALL))
        wait_until(finished(conn, ingest), 60, "the ingest", log)
        url = f"http://127.0.0.1:{port}/hook"
        job_id = jobs.enqueue(
            conn,
            "acme",
            SuggestRequest(solution_id=SOLUTIONS[0]["id"]),
            callback_url=url,
            webhook=POLICY,
        )
        wait_until(finished(conn, job_id), 60, "the suggestion", log)
        delivery = f"whk-{job_id}-finished"
        # The receiver is down: the first attempt fails and is scheduled again.
        wait_until(lambda: jobs.status(conn, delivery)["retries"] >= 1, 30, "a failed try", log)
        receiver = Receiver(port)
        wait_until(lambda: bool(receiver.got), 60, "the delivery", log)
        headers, body = receiver.got[0]
        key = webhooks.org_secret(SECRET, "acme")
        delivery_id = headers[webhooks.DELIVERY_HEADER]
        assert webhooks.verify(key, headers[webhooks.HEADER], body, delivery_id)
        assert not webhooks.verify(key, headers[webhooks.HEADER], body, delivery_id + "x")
        event = json.loads(body)
        assert event["id"] == delivery_id  # inside the signed body too
        assert event["job_id"] == job_id and event["status"] == "finished"
        assert event["org"] == "acme" and event["result"]["next_step"]
        assert event["result"] == jobs.status(conn, job_id)["result"]
        wait_until(finished(conn, delivery), 30, "the delivery job", log)
        assert jobs.status(conn, delivery)["status"] == "finished"
        assert len(receiver.got) == 1

        # A receiver that refuses (HTTP 410) is not retried; the failure is listed.
        refusing = Receiver(refusing_port, status=410)
        bad_url = f"http://127.0.0.1:{refusing_port}/gone"
        other = jobs.enqueue(
            conn,
            "acme",
            SuggestRequest(solution_id=SOLUTIONS[1]["id"]),
            callback_url=bad_url,
            webhook=POLICY,
        )
        wait_until(lambda: bool(webhooks.failed_deliveries(conn)), 60, "a recorded failure", log)
        failure = webhooks.failed_deliveries(conn, "acme")[0]
        assert failure["job_id"] == other and failure["url"] == bad_url
        assert "410" in failure["reason"]
        assert len(refusing.got) == 1
        assert webhooks.failed_deliveries(conn, "beta") == []
    finally:
        stop(proc)
        for r in (receiver, refusing):
            if r is not None:
                r.close()
