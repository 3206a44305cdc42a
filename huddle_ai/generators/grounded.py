"""The offline grounded generator: deterministic, no network.

It judges a solution twice and lets the huddle's history decide how to mix
the two judgements:

1. *rubric coverage* -- which key points of each criterion's exemplar the
   solution covers (:mod:`huddle_ai.assessment`);
2. *labelled neighbours* -- a similarity-weighted vote of the assessments that
   facilitators and peers gave the most similar past solutions of the huddle.

On a huddle with enough labelled history, the mixing weight and the level
thresholds are fitted to reproduce the huddle's own past labels (leave-one-out
for the vote). Without history it works from the rubric alone. The wording is
then composed by :mod:`huddle_ai.generators.writing` from the covered and missed
key points and the most helpful feedback of similar solutions.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from huddle_ai.assessment import (
    DEFAULT_THRESHOLDS,
    PointScore,
    Thresholds,
    checklist,
    content_words,
    fit_thresholds,
    key_points,
    knn_vote,
    point_scores,
    split_units,
)
from huddle_ai.context import FeedbackContext, LabelledSolution
from huddle_ai.embeddings import Embedder
from huddle_ai.generators import Generator
from huddle_ai.privacy import without_instructions
from huddle_ai.records import Criterion, Huddle, Level
from huddle_ai.suggestion import FeedbackSuggestion

__all__ = ["CriterionJudgement", "GroundedGenerator", "Judgement"]

_MIXES = (0.5, 0.25, 0.75, 0.0, 1.0)  # weight of coverage vs vote; ties keep the first
_OVERALL = "__overall__"


@dataclass(frozen=True)
class CriterionJudgement:
    criterion: Criterion
    points: list[PointScore]
    coverage: float
    level: Level
    calibrated: bool


@dataclass(frozen=True)
class Judgement:
    criteria: list[CriterionJudgement]
    coverage: float
    vote: float | None
    score: float
    assessment: Level
    calibrated: bool
    history: int


@dataclass(frozen=True)
class _Model:
    """How one target (overall, or a criterion) is judged on a huddle."""

    mix: float
    thresholds: Thresholds


@dataclass
class _Calibration:
    vectors: NDArray[np.float32]
    labels: dict[str, tuple[list[int], list[float], list[float]]]  # target -> (rows, y, w)
    models: dict[str, _Model] = field(default_factory=dict)


class GroundedGenerator(Generator):
    """Feedback composed from the rubric and the organization's own history."""

    name = "grounded"

    def __init__(
        self,
        embedder: Embedder,
        *,
        min_history: int = 6,
        vote_k: int = 7,
        cache_size: int = 50_000,
        example_weight: float = 0.5,
    ) -> None:
        self.embedder = embedder
        self.example_weight = example_weight
        self.min_history = min_history
        self.vote_k = vote_k
        self._cache_size = cache_size
        self._vectors: dict[str, NDArray[np.float32]] = {}
        self._calibrations: dict[str, _Calibration] = {}
        self._covered: dict[tuple[str, str, float], tuple[list[list[PointScore]], list[float]]] = {}

    # -- public ------------------------------------------------------------

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        from huddle_ai.generators.writing import compose

        start = time.perf_counter()
        judgement = self.judge(context)
        body = compose(context, judgement)
        return FeedbackSuggestion(
            **body.model_dump(),
            generator=self.name,
            model=self.embedder.id,
            context_tokens=context.tokens,
            latency_ms=round((time.perf_counter() - start) * 1000, 2),
        )

    def judge(self, context: FeedbackContext) -> Judgement:
        """Levels per criterion and overall, without any wording."""
        huddle = context.huddle
        # instructions aimed at the AI or grader are not part of the work: never judged
        text = without_instructions(context.solution_text)
        cal = self._calibrate(huddle, context.history)
        # without fitted thresholds, an exemplar's illustration anchors the fixed thresholds
        # better than its abstract key points (measured on the new-huddle suite)
        weight = self.example_weight if cal is not None and cal.models else 1.0
        points, coverage = self._coverage([text], huddle, weight)
        vec = self._embed([text])[0]
        sims = (cal.vectors @ vec).astype(float) if cal is not None else np.zeros(0)

        def decide(target: str, cov: float) -> tuple[Level, float, float | None, bool]:
            model = cal.models.get(target) if cal is not None else None
            if cal is None or model is None:
                return DEFAULT_THRESHOLDS.level(cov), cov, None, False
            rows, y, w = cal.labels[target]
            vote = knn_vote(sims[rows], y, w, self.vote_k)
            score = cov if vote is None else model.mix * cov + (1 - model.mix) * vote
            return model.thresholds.level(score), score, vote, True

        criteria: list[CriterionJudgement] = []
        for c, pts, cov in zip(huddle.rubric, points[0], coverage[0], strict=True):
            level, _, _, calibrated = decide(c.id, cov)
            criteria.append(CriterionJudgement(c, pts, round(cov, 4), level, calibrated))
        overall_cov = float(np.mean(coverage[0])) if huddle.rubric else 0.0
        assessment, score, vote, calibrated = decide(_OVERALL, overall_cov)
        if len(criteria) == 1 and not criteria[0].calibrated and calibrated:
            # one criterion and only overall labels: the overall judgement is the criterion's
            only = criteria[0]
            criteria = [
                CriterionJudgement(only.criterion, only.points, only.coverage, assessment, True)
            ]
        return Judgement(
            criteria=criteria,
            coverage=round(overall_cov, 4),
            vote=None if vote is None else round(vote, 4),
            score=round(score, 4),
            assessment=assessment,
            calibrated=calibrated,
            history=len(context.history),
        )

    # -- coverage ----------------------------------------------------------

    def _coverage(
        self, texts: Sequence[str], huddle: Huddle, weight: float
    ) -> tuple[list[list[list[PointScore]]], list[list[float]]]:
        """Key-point scores and coverage of each text against each criterion (memoised)."""
        rubric = hashlib.sha256(
            json.dumps([c.model_dump() for c in huddle.rubric], sort_keys=True).encode()
        ).hexdigest()
        todo = sorted({t for t in texts if (rubric, t, weight) not in self._covered})
        if todo:
            if len(self._covered) + len(todo) > self._cache_size:
                self._covered.clear()
            points, cov = self._score(todo, huddle, weight)
            for t, p, c in zip(todo, points, cov, strict=True):
                self._covered[(rubric, t, weight)] = (p, c)
        got = [self._covered[(rubric, t, weight)] for t in texts]
        return [g[0] for g in got], [g[1] for g in got]

    def _score(
        self, texts: Sequence[str], huddle: Huddle, weight: float
    ) -> tuple[list[list[list[PointScore]]], list[list[float]]]:
        lists = [checklist(c.exemplar or c.description) for c in huddle.rubric]
        crit_points = [cl.points for cl in lists]
        # an illustrative example is scored (it shows the level) but never shown as a gap
        examples = [key_points(cl.example) if cl.example else [] for cl in lists]
        units = [split_units(t) or [t] for t in texts]
        units = [[*u, t] if len(u) > 1 else u for u, t in zip(units, texts, strict=True)]
        flat = [p for ps in crit_points + examples for p in ps] + [u for us in units for u in us]
        self._embed(flat)
        all_points: list[list[list[PointScore]]] = []
        all_cov: list[list[float]] = []
        for text, us in zip(texts, units, strict=True):
            uvec = np.vstack([self._vectors[u] for u in us])
            words = content_words(text)
            per_crit = []
            covs = []
            for ps, ex in zip(crit_points, examples, strict=True):
                pvec = np.vstack([self._vectors[p] for p in ps])
                scored = point_scores(ps, pvec, us, uvec, words)
                per_crit.append(scored)
                cov = float(np.mean([p.score for p in scored]))
                if ex:
                    evec = np.vstack([self._vectors[p] for p in ex])
                    ecov = float(
                        np.mean([p.score for p in point_scores(ex, evec, us, uvec, words)])
                    )
                    cov = (1 - weight) * cov + weight * ecov
                covs.append(cov)
            all_points.append(per_crit)
            all_cov.append(covs)
        return all_points, all_cov

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = sorted({t for t in texts if t not in self._vectors})
        if missing:
            if len(self._vectors) + len(missing) > self._cache_size:
                self._vectors.clear()
            for t, v in zip(missing, self.embedder.embed(missing), strict=True):
                # rounding keeps results identical whatever batch a text was embedded in
                self._vectors[t] = np.round(v, 5).astype(np.float32)
        return np.vstack([self._vectors[t] for t in texts])

    # -- calibration -------------------------------------------------------

    def _calibrate(self, huddle: Huddle, history: list[LabelledSolution]) -> _Calibration | None:
        if not history:
            return None
        key = hashlib.sha256(
            json.dumps(
                [huddle.model_dump(mode="json"), [h.model_dump(mode="json") for h in history]],
                sort_keys=True,
            ).encode()
        ).hexdigest()
        if key in self._calibrations:
            return self._calibrations[key]
        texts = [h.text for h in history]
        for h in history:
            # the store already holds each past solution's vector: reuse, do not re-embed
            known = h.vector is not None and h.text not in self._vectors
            if known and len(h.vector or ()) == (self.embedder.dim or len(h.vector or ())):
                self._vectors[h.text] = np.round(np.asarray(h.vector, np.float32), 5).astype(
                    np.float32
                )
        # one batched call embeds every new sentence of the history
        _, coverage = self._coverage(texts, huddle, self.example_weight)
        vectors = self._embed(texts)
        overall = [float(np.mean(c)) if c else 0.0 for c in coverage]
        targets: dict[str, tuple[list[int], list[float], list[float], list[float]]] = {}
        rows = [i for i, h in enumerate(history) if h.assessment is not None]
        targets[_OVERALL] = (
            rows,
            [history[i].assessment.score for i in rows],  # type: ignore[union-attr]
            [history[i].weight for i in rows],
            [overall[i] for i in rows],
        )
        for ci, c in enumerate(huddle.rubric):
            rows = [i for i, h in enumerate(history) if c.id in h.rubric]
            targets[c.id] = (
                rows,
                [history[i].rubric[c.id].score for i in rows],
                [history[i].weight for i in rows],
                [coverage[i][ci] for i in rows],
            )
        sims = (vectors @ vectors.T).astype(float)
        cal = _Calibration(vectors=vectors, labels={})
        for target, (rows, y, w, cov) in targets.items():
            cal.labels[target] = (rows, y, w)
            if len(rows) >= self.min_history and len(set(y)) >= 2:
                cal.models[target] = self._fit(sims, rows, y, w, cov)
        if len(self._calibrations) > 256:
            self._calibrations.clear()
        self._calibrations[key] = cal
        return cal

    def _fit(
        self,
        sims: NDArray[np.float64],
        rows: list[int],
        y: list[float],
        w: list[float],
        cov: list[float],
    ) -> _Model:
        """Mixing weight and thresholds that best reproduce the labels (vote leave-one-out)."""
        sub = sims[np.ix_(rows, rows)]
        votes = []
        for i in range(len(rows)):
            others = [j for j in range(len(rows)) if j != i]
            v = knn_vote(
                sub[i, others], [y[j] for j in others], [w[j] for j in others], self.vote_k
            )
            votes.append(cov[i] if v is None else v)
        labels = [
            Level.MET if v == 1.0 else Level.PARTIAL if v == 0.5 else Level.NOT_MET for v in y
        ]
        best: _Model | None = None
        for mix in _MIXES:
            scores = [round(mix * c + (1 - mix) * v, 4) for c, v in zip(cov, votes, strict=True)]
            t = fit_thresholds(scores, labels, w)
            if best is None or (t.accuracy or 0) > (best.thresholds.accuracy or 0) + 1e-9:
                best = _Model(mix, t)
        assert best is not None
        return best
