"""The output cache: a generator's output, keyed by everything that determines it.

The key is a hash of the generator name, model, prompt hash and model
parameters (for prompt-driven generators), the package's generator code (for
offline generators, whose "prompt" is their code), the input (the full
context the generator saw, plus the names it must redact) and the repeat
index. A rerun of unchanged cells therefore never calls the generator.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path
from typing import Any

from huddle_ai.suggest.context import FeedbackContext
from huddle_ai.suggest.generators import Generator

__all__ = ["Cache", "cache_key", "generator_identity"]


@lru_cache(maxsize=1)
def _code_hash() -> str:
    package = Path(__file__).resolve().parent.parent
    files = sorted([*package.glob("*.py"), *(package / "generators").glob("*.py")])
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def generator_identity(generator: Generator) -> dict[str, Any]:
    """What, besides the input, determines a generator's output."""
    prompt = getattr(generator, "prompt", None)
    ident: dict[str, Any] = {
        "generator": generator.name,
        "model": getattr(generator, "model", None),
    }
    if prompt is not None and hasattr(prompt, "hash"):
        ident["prompt_hash"] = prompt.hash
        ident["params"] = dict(getattr(prompt, "model", {}) or {})
        for attr in ("response_format", "redact", "max_repairs"):
            if hasattr(generator, attr):
                ident["params"][attr] = getattr(generator, attr)
    else:
        ident["code_hash"] = _code_hash()
        # public scalar attributes are configuration; private ones are state (memos, counters)
        ident["params"] = {
            k: v
            for k, v in vars(generator).items()
            if not k.startswith("_") and isinstance(v, (int, float, str, bool))
        }
    return ident


def cache_key(
    generator: Generator, context: FeedbackContext, private_names: Collection[str], repeat: int
) -> str:
    payload = {
        "who": generator_identity(generator),
        "input": hashlib.sha256(context.model_dump_json().encode()).hexdigest(),
        "names": sorted(private_names),
        "repeat": repeat,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class Cache:
    """JSON files under ``directory``, one per key; writes are atomic."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            self.misses += 1
            return None
        self.hits += 1
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
