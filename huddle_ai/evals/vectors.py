"""A vector cache for eval runs: a text embedded once is read back from disk.

A cached eval run regenerates nothing, but its contexts and scorers still embed
the same texts as the run before; with :class:`CachedEmbedder` those vectors
come from the run's cache directory and the model is loaded only when a text
has not been seen (a fully cached run loads no model at all). Vectors are kept
per embedder id, so two backends never share them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from huddle_ai.index.embeddings import Embedder, Vectors

__all__ = ["CachedEmbedder"]


class CachedEmbedder(Embedder):
    """``make()`` builds the real embedder on the first text not in ``directory``.

    ``name`` names the configuration (backend and model): its embedder id and
    dimension are recorded the first time the model loads, so a later run knows
    them without loading it.
    """

    def __init__(self, name: str, make: Callable[[], Embedder], directory: Path) -> None:
        self._make = make
        self._inner: Embedder | None = None
        self._dir = directory
        self._meta = directory / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"
        self.loads = 0
        try:
            meta = json.loads(self._meta.read_text())
            self.id, self.dim, self.batch_size = meta["id"], int(meta["dim"]), int(meta["batch"])
        except (OSError, ValueError, KeyError):
            self._load()

    def _load(self) -> Embedder:
        if self._inner is None:
            self._inner = self._make()
            self.loads += 1
            self.id, self.dim = self._inner.id, self._inner.dim
            self.batch_size = self._inner.batch_size
            self._dir.mkdir(parents=True, exist_ok=True)
            meta = {"id": self.id, "dim": self.dim, "batch": self.batch_size}
            self._meta.write_text(json.dumps(meta))
        return self._inner

    def _path(self, text: str) -> Path:
        key = hashlib.sha256(f"{self.id}\n{text}".encode()).hexdigest()
        return self._dir / "vectors" / key[:2] / f"{key}.npy"

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        for i, text in enumerate(texts):
            try:
                out[i] = np.load(self._path(text), allow_pickle=False)
            except (OSError, ValueError):
                missing.append(i)
        if missing:
            new = self._load().embed_batch([texts[i] for i in missing])
            for i, row in zip(missing, new, strict=True):
                out[i] = row
                self._save(self._path(texts[i]), row)
        return out

    @staticmethod
    def _save(path: Path, row: Vectors) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, row, allow_pickle=False)
        os.replace(tmp, path)
