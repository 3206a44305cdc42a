"""Whether an endpoint is on this machine, and so whether redaction is on."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["is_local_url", "should_redact"]

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def is_local_url(url: str | None) -> bool:
    """True when ``url`` points at this machine."""
    if not url:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def should_redact(base_url: str | None, setting: bool | None) -> bool:
    """The ``redact_pii`` setting, or on unless the endpoint is local."""
    return setting if setting is not None else not is_local_url(base_url)
