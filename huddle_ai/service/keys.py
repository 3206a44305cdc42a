"""API keys, each scoped to one organization, and the organization scope of a request.

Keys are kept only as SHA-256 hashes. A key for organization A gets 403 on
organization B's paths (:data:`Org`); the HTTP app (:mod:`huddle_ai.service.api`) and the
accountability router both authenticate through this module.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from huddle_ai.errors import ConfigurationError, HuddleAIError
from huddle_ai.records import validate_org
from huddle_ai.settings import Settings

__all__ = ["Caller", "KeyRing", "Org", "caller_org", "hash_key", "org_scope"]

log = logging.getLogger(__name__)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """Hashed API keys, each scoped to one organization.

    Entries are ``org:sha256:<hex>`` (preferred: the key itself is never
    stored) or ``org:<key>`` (hashed on load), one per line in a file (``#``
    starts a comment) or comma-separated in ``HUDDLE_AI_API_KEYS``. The file
    is re-read when it changes (checked on each look-up, one ``stat``); while
    it is malformed (say, half written) the keys read before stay in use.
    """

    def __init__(self, entries: list[str] | None = None, *, path: Path | None = None) -> None:
        self._static = self._parse([e for e in entries or [] if e.strip()])
        self._path = path
        self._stamp = self._stat()
        self._orgs = {**self._static, **self._parse(self._file_entries())}

    @staticmethod
    def _parse(entries: list[str]) -> dict[str, str]:
        orgs: dict[str, str] = {}
        for entry in entries:
            org, sep, rest = entry.strip().partition(":")
            if not sep or not rest:
                raise ConfigurationError(f"API key entry {entry[:20]!r}...: expected 'org:key'")
            validate_org(org)
            digest = rest[len("sha256:") :] if rest.startswith("sha256:") else hash_key(rest)
            if len(digest) != 64:
                raise ConfigurationError(f"API key entry for {org!r}: bad sha256 digest")
            orgs[digest.lower()] = org
        return orgs

    def add_entry(self, entry: str) -> None:
        added = self._parse([entry])
        self._static.update(added)
        self._orgs.update(added)

    def _stat(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _file_entries(self) -> list[str]:
        if self._path is None:
            return []
        try:
            text = Path(self._path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read API keys file: {exc}") from exc
        return [e for e in (ln.split("#", 1)[0] for ln in text.splitlines()) if e.strip()]

    def _refresh(self) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        try:
            file_entries = self._file_entries() if stamp is not None else []
            orgs = {**self._static, **self._parse(file_entries)}
        except HuddleAIError as exc:  # mid-write, most likely: keep the old keys, retry later
            log.warning("API keys file not reloaded: %s", exc)
            return
        self._orgs, self._stamp = orgs, stamp

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        entries = settings.api_keys.split(",") if settings.api_keys else []
        return cls(entries, path=settings.api_keys_file)

    def org_of(self, key: str) -> str | None:
        self._refresh()
        digest = hash_key(key)
        for known, org in self._orgs.items():
            if hmac.compare_digest(known, digest):
                return org
        return None

    def __len__(self) -> int:
        return len(self._orgs)


def caller_org(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """The organization of the caller's API key (Bearer or X-API-Key), else 401."""
    key = x_api_key
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    ring: KeyRing = request.app.state.keys
    org = ring.org_of(key) if key else None
    if org is None:
        raise HTTPException(401, "missing or unknown API key", {"WWW-Authenticate": "Bearer"})
    return org


Caller = Annotated[str, Depends(caller_org)]


def org_scope(org: str, caller: Caller) -> str:
    if org != caller:
        raise HTTPException(403, "this API key is not for that organization")
    return org


Org = Annotated[str, Depends(org_scope)]
