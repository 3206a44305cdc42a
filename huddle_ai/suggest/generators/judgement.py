"""What the grounded generator decided, before any wording: levels, confidence, evidence.

The judge (:mod:`huddle_ai.suggest.generators.grounded`) produces it; the writer
(:mod:`huddle_ai.suggest.generators.writing`) turns it into words. Both import this
module, never each other's internals the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from huddle_ai.records import Criterion, Level
from huddle_ai.suggest.assessment import PointScore

__all__ = ["CriterionJudgement", "Judgement"]


@dataclass(frozen=True)
class CriterionJudgement:
    criterion: Criterion
    points: list[PointScore]
    coverage: float
    level: Level
    calibrated: bool
    confidence: float | None = None
    required: bool = False


@dataclass(frozen=True)
class Judgement:
    criteria: list[CriterionJudgement]
    coverage: float
    score: float
    assessment: Level
    calibrated: bool
    history: int
    confidence: float | None = None
    needs_review: bool = True
    expected_accuracy: float | None = None
    basis: str = "rubric"
    model: dict[str, object] = field(default_factory=dict)
    vector: NDArray[np.float32] | None = None
