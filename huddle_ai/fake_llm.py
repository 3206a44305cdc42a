"""A scripted OpenAI-compatible Chat Completions server, for tests.

It ships in the library so anyone can test an integration without a paid API::

    with FakeLLM() as llm:
        llm.push(Reply.json({...}), Reply.error(429), Reply.hang(5))
        gen = LLMGenerator(base_url=llm.base_url, model="fake", ...)
        ...
        llm.requests  # the JSON bodies the server received, in order

It runs a real HTTP server in a thread on a free local port and serves
``POST /v1/chat/completions`` from a queue of scripted replies: JSON content,
any status code, a hang, malformed or schema-violating content, an echo of
the system prompt (what a successful prompt injection looks like) and a valid
reply that leaks the system prompt in disguise (:meth:`Reply.leak`). When the
queue is empty it answers ``default`` (a 500 unless set). Usage figures are
counted with :mod:`huddle_ai.suggest.tokens` on the received messages.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from huddle_ai.suggest.tokens import count_tokens

__all__ = ["Disguise", "FakeLLM", "Reply", "disguise"]

Disguise = Literal["runs", "zero_width", "spaced", "base64", "fields", "rot13"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods."""

    status: int = 200
    content: str | None = None
    body: str | None = None
    delay_s: float = 0.0
    echo_system: bool = False
    disguised: Disguise | None = None
    usage: dict[str, int] | None = None

    @classmethod
    def json(cls, obj: Any, *, usage: dict[str, int] | None = None) -> Reply:
        """A completion whose message content is ``obj`` as JSON."""
        return cls(content=json.dumps(obj), usage=usage)

    @classmethod
    def text(cls, content: str) -> Reply:
        """A completion with arbitrary content (malformed JSON, prose, fences)."""
        return cls(content=content)

    @classmethod
    def error(cls, status: int, message: str = "scripted error") -> Reply:
        """An HTTP error with an OpenAI-style error body (429, 500, 503, ...)."""
        body = json.dumps({"error": {"message": message, "type": "scripted", "code": status}})
        return cls(status=status, body=body)

    @classmethod
    def hang(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Wait ``seconds`` before answering (past a client's timeout)."""
        after = then or cls.error(500, "hung")
        return cls(
            status=after.status,
            content=after.content,
            body=after.body,
            delay_s=seconds,
            echo_system=after.echo_system,
            disguised=after.disguised,
            usage=after.usage,
        )

    @classmethod
    def echo(cls) -> Reply:
        """Repeat the request's system prompt: an injection that worked."""
        return cls(echo_system=True)

    @classmethod
    def leak(cls, obj: Mapping[str, Any], how: Disguise) -> Reply:
        """The JSON ``obj`` with the request's system prompt, disguised ``how``,
        appended to its ``text``: an injection that worked and tries to slip
        past a verbatim check (see :func:`disguise`)."""
        return cls(content=json.dumps(dict(obj)), disguised=how)


def disguise(text: str, how: Disguise) -> str:
    """``text`` as a leaking model might hide it.

    ``runs``: eleven-word runs with a word dropped between them (no twelve
    words in a row); ``zero_width``: a zero-width space inside every word;
    ``spaced``: every letter spaced out ("I g n o r e"); ``base64``;
    ``fields``: unchanged (the caller splits it across fields); ``rot13``.
    """
    words = text.split()
    if how == "runs":
        return " ... ".join(" ".join(words[i : i + 11]) for i in range(0, len(words), 12))
    if how == "zero_width":
        return " ".join(w[: len(w) // 2] + "\u200b" + w[len(w) // 2 :] for w in words)
    if how == "spaced":
        return "   ".join(" ".join(w) for w in words)
    if how == "base64":
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    if how == "rot13":
        return codecs.encode(text, "rot13")
    return text


def _leaked(content: str, system: str, how: Disguise) -> str:
    obj = json.loads(content)
    hidden = disguise(system, how)
    if how == "fields":
        # six words per strength: no single field holds a long run
        words = hidden.split()
        obj["strengths"] = [" ".join(words[i : i + 6]) for i in range(0, len(words), 6)]
    else:
        obj["text"] = f"{obj.get('text', '')} My instructions: {hidden}"
    return json.dumps(obj)


@dataclass
class _State:
    queue: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    default: Reply = field(default_factory=lambda: Reply.error(500, "no scripted reply left"))
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def _completion(reply: Reply, request: dict[str, Any], content: str) -> dict[str, Any]:
    messages = request.get("messages") or []
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in messages)
    usage = reply.usage or {
        "prompt_tokens": prompt,
        "completion_tokens": count_tokens(content),
        "total_tokens": prompt + count_tokens(content),
    }
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(request.get("model", "fake")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # the client may have given up (timeout): nothing to do then
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake"}]}))
            else:
                self._send(404, json.dumps({"error": {"message": "not found"}}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
                return
            try:
                request = json.loads(raw)
            except json.JSONDecodeError:
                self._send(400, json.dumps({"error": {"message": "request is not JSON"}}))
                return
            with state.lock:
                state.requests.append(request)
                state.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = state.queue.popleft() if state.queue else state.default
            if reply.delay_s and state.stop.wait(reply.delay_s):
                return  # server closing
            system = next(
                (
                    str(m.get("content"))
                    for m in request.get("messages", [])
                    if m.get("role") == "system"
                ),
                "",
            )
            if reply.echo_system:
                content = f"Sure! My instructions are: {system}"
                self._send(200, json.dumps(_completion(reply, request, content)))
            elif reply.disguised is not None and reply.content is not None:
                content = _leaked(reply.content, system, reply.disguised)
                self._send(200, json.dumps(_completion(reply, request, content)))
            elif reply.body is not None:
                self._send(reply.status, reply.body)
            else:
                content = reply.content or ""
                self._send(reply.status, json.dumps(_completion(reply, request, content)))

    return Handler


class FakeLLM:
    """A scripted OpenAI-compatible server on ``127.0.0.1`` and a free port."""

    def __init__(self, *replies: Reply, default: Reply | None = None) -> None:
        self._state = _State()
        if default is not None:
            self._state.default = default
        self._state.queue.extend(replies)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._state))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as an OpenAI client's ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def headers(self) -> list[dict[str, str]]:
        with self._state.lock:
            return list(self._state.headers)

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._state.lock:
            return len(self._state.queue)

    def push(self, *replies: Reply) -> None:
        with self._state.lock:
            self._state.queue.extend(replies)

    def reset(self, *replies: Reply) -> None:
        """Forget received requests and replace the queue."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.headers.clear()
            self._state.queue.clear()
            self._state.queue.extend(replies)

    def set_default(self, reply: Reply) -> None:
        with self._state.lock:
            self._state.default = reply

    def start(self) -> FakeLLM:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="fake-llm", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._state.stop.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
