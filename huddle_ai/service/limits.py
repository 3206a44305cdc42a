"""Limits of the HTTP server: what a client may send and how slowly.

- :class:`RequestLimits` (ASGI middleware) reads the whole body before the app
  sees it: over ``max_body_bytes`` is 413, a body that does not arrive within
  ``read_timeout_s`` is 408 and the connection is closed, headers over
  ``max_header_bytes`` are 431, and a body that is not strict JSON (``NaN``,
  ``Infinity``, lone surrogates, invalid UTF-8, nested too deep) is 422.
- :class:`TimedH11Protocol` (the uvicorn protocol ``huddle-ai serve`` uses)
  closes a connection whose request line and headers do not arrive within
  ``read_timeout_s``, however slowly they trickle, and bounds the header block
  with h11's size limit.

:func:`server_config` builds the uvicorn configuration with both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from fastapi.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

from huddle_ai.errors import InvalidInputError, LineError
from huddle_ai.index.formats import loads_strict

__all__ = ["RequestLimits", "TimedH11Protocol", "record_errors", "server_config"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CLOSE = {"Connection": "close"}


class RequestLimits:
    """Bound every request before the app parses it (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        read_timeout_s: float,
        max_header_bytes: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        if sum(len(k) + len(v) + 4 for k, v in headers) > self.max_header_bytes:
            await _answer(send, 431, f"request headers over {self.max_header_bytes} bytes")
            return
        declared = dict(headers).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout_s
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                await _answer(
                    send, 408, f"request body not received within {self.read_timeout_s:g} s"
                )
                return
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await self._too_large(send)
                return
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False
        if body.strip():
            try:
                loads_strict(body)
            except InvalidInputError as exc:
                detail = [{"type": "json_invalid", "loc": ["body"], "msg": str(exc)}]
                await JSONResponse({"detail": detail}, 422)(scope, _nothing, send)
                return

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _answer(send, 413, f"request body over {self.max_body_bytes} bytes")


async def _answer(send: Send, status: int, detail: str) -> None:
    """An error answer that also closes the connection (the rest of the request is
    not read, so the connection cannot carry another one)."""
    response = JSONResponse({"detail": detail}, status, headers=_CLOSE)
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head trickles in.

    A timer runs while the server waits for a request line and headers (from
    the connection's start and again after each response); it is cancelled
    once the head is complete. uvicorn's own keep-alive timer does not do this:
    every byte received resets it.
    """

    read_timeout_s = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: object = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.read_timeout_s, self._head_too_slow)

    def _disarm(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self.cycle is not self._timed_cycle:
            self._timed_cycle = self.cycle  # a new request's head is complete
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self._arm()  # waiting for the next request's head

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    read_timeout_s: float,
    max_header_bytes: int,
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration of ``huddle-ai serve`` (and of the tests)."""
    protocol = type("TimedH11", (TimedH11Protocol,), {"read_timeout_s": read_timeout_s})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        h11_max_incomplete_event_size=max_header_bytes,
        **options,
    )


def record_errors(errors: list[LineError]) -> list[dict[str, Any]]:
    """Import errors in the shape of FastAPI's 422 details (record index, field)."""
    out = []
    for e in errors:
        loc: list[str | int] = ["body", "records", e.line - 1]
        out.append(
            {
                "type": "invalid_record",
                "loc": [*loc, e.field] if e.field else loc,
                "msg": f"record {e.line - 1}"
                + (f" (id {e.record_id!r})" if e.record_id else "")
                + f": {e.reason}",
            }
        )
    return out
