"""``Score``: what every scorer returns, and the ``Scorer`` signature."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from huddle_ai.evals.sample import Sample
from huddle_ai.index.embeddings import Embedder

__all__ = ["Score", "Scorer"]


@dataclass(frozen=True)
class Score:
    """A scorer's verdict on one sample."""

    value: float
    explanation: str
    details: dict[str, float] = field(default_factory=dict)

    @classmethod
    def na(cls, reason: str) -> Score:
        return cls(math.nan, f"not applicable: {reason}")

    @property
    def applicable(self) -> bool:
        return not math.isnan(self.value)


class Scorer(Protocol):
    __name__: str

    def __call__(self, sample: Sample, *, embedder: Embedder | None = None) -> Score: ...
