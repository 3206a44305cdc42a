"""The offline grounded generator: deterministic, no network.

Judgement (:meth:`GroundedGenerator.judge`) comes from the organization's own
history, in this order of preference:

1. the huddle's labelled history -- a model per target (overall and each
   criterion with labels) chosen and calibrated by cross-validation on it
   (:func:`huddle_ai.suggest.calibration.fit_huddle`), averaged with the
   organization's model where both exist and the organization's alone does not
   judge this huddle's history better (:func:`~huddle_ai.suggest.calibration.blend`);
2. the organization's other huddles -- how its facilitators judge similarity
   to goals, criteria, answer keys and anchors (:func:`fit_transfer`, checked by
   leaving one huddle out);
3. without any labels, the rubric alone (coverage of each criterion's own
   checklist, fixed thresholds), always marked ``needs_review``.

Each level comes with a calibrated ``confidence``; below the review threshold
chosen from the history the draft is marked ``needs_review``. The wording is
written by :mod:`huddle_ai.suggest.generators.writing` from the judgement, the
learner's own words and reusable past feedback that passes the provenance rule.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from huddle_ai.index.embeddings import Embedder
from huddle_ai.records import Criterion, Huddle, Level
from huddle_ai.suggest.assessment import (
    DEFAULT_THRESHOLDS,
    PointScore,
    content_words,
    key_points,
    point_scores,
    section_owners,
    split_units,
)
from huddle_ai.suggest.calibration import (
    LEVELS,
    OVERALL,
    Blend,
    FeatureSpace,
    LevelModel,
    Prediction,
    blend,
    fit_huddle,
    fit_transfer,
    neighbour_voter,
    vote_distribution,
)
from huddle_ai.suggest.context import FeedbackContext, HuddleHistory, LabelledSolution
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.generators.judgement import CriterionJudgement, Judgement
from huddle_ai.suggest.generators.writing import compose
from huddle_ai.suggest.privacy import without_instructions
from huddle_ai.suggest.suggestion import FeedbackSuggestion

__all__ = ["CriterionJudgement", "GroundedGenerator", "Judgement", "criterion_checklist"]


def criterion_checklist(huddle: Huddle, criterion: Criterion) -> tuple[list[str], bool]:
    """What a criterion is checked against, and whether covering it is *required*.

    A knowledge check's answer key, or the educator's own key points, are
    required content. Otherwise the criterion's met-level descriptor or its
    description gives the checklist, as a guide to what to look for. The
    exemplar and anchors never enter it: they are illustrations.
    """
    if criterion.key_points:
        return list(criterion.key_points), True
    if huddle.answer_key is not None:
        return huddle.answer_key.points(), True
    text = criterion.levels.get(Level.MET) or criterion.description
    return key_points(text), False


@dataclass
class _Target:
    rows: list[int]
    labels: list[int]
    weights: list[float]
    model: LevelModel | None


@dataclass
class _Calibration:
    space: FeatureSpace
    vectors: NDArray[np.float32]
    targets: dict[str, _Target]
    features: dict[str, NDArray[np.float64]]
    # per (organization transfer, target): whether the organization's model alone judges
    # this huddle's history better, else the blend of both (None: no blend possible)
    choices: dict[tuple[str, str], tuple[bool, Blend | None]] = field(default_factory=dict)


@dataclass
class _Transfer:
    key: str
    overall: LevelModel | None
    criterion: LevelModel | None


class GroundedGenerator(Generator):
    """Feedback composed from the rubric, the learner's words and the org's own history."""

    name = "grounded"

    def __init__(
        self,
        embedder: Embedder,
        *,
        min_history: int = 6,
        vote_k: int = 7,
        target_accuracy: float = 0.8,
        cache_size: int = 50_000,
    ) -> None:
        self.embedder = embedder
        self.min_history = min_history
        self.vote_k = vote_k
        self.target_accuracy = target_accuracy
        self._cache_size = cache_size
        self._vectors: dict[str, NDArray[np.float32]] = {}
        self._calibrations: dict[str, _Calibration] = {}
        self._transfers: dict[str, _Transfer] = {}
        self._spaces: dict[str, FeatureSpace] = {}

    # -- public ------------------------------------------------------------

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        start = time.perf_counter()
        judgement = self.judge(context)
        body = compose(context, judgement, self._embed)
        return FeedbackSuggestion(
            **body.model_dump(),
            generator=self.name,
            model=self.embedder.id,
            context_tokens=context.tokens,
            latency_ms=round((time.perf_counter() - start) * 1000, 2),
            confidence=judgement.confidence,
            needs_review=judgement.needs_review,
            expected_accuracy=judgement.expected_accuracy,
            judged_by=judgement.basis,
        )

    def judge(self, context: FeedbackContext) -> Judgement:
        """Levels per criterion and overall, with confidence, without any wording."""
        huddle = context.huddle
        # instructions aimed at the AI or grader are not part of the work: never judged
        text = without_instructions(context.solution_text)
        points, coverage, required = self._coverage(text, huddle)
        vec = self._embed([text])[0]
        cal = self._calibrate(huddle, context.history)
        feats = cal.space.features([text], vec[None, :])
        transfer = self._transfer(context.org_history)

        def choice(target: str, t: _Target, org_model: LevelModel) -> tuple[bool, Blend | None]:
            """Once per (organization, huddle history, target), not per draft."""
            assert t.model is not None and transfer is not None
            key = (transfer.key, target)
            if key not in cal.choices:
                # the organization's model never saw this huddle's labels: its accuracy on
                # them is a held-out figure, comparable to the huddle model's cross-validation
                got = org_model.predict(cal.features[target][t.rows])
                hits = [LEVELS.index(g.level) == y for g, y in zip(got, t.labels, strict=True)]
                acc = float(np.average(hits, weights=t.weights))
                # otherwise both speak: the average of two calibrated models, its review
                # threshold set from their held-out predictions on this huddle's history
                on_history = np.array([[g.probabilities[lv] for lv in LEVELS] for g in got])
                cal.choices[key] = (
                    acc > t.model.cv_accuracy + 1e-9,
                    blend(
                        t.model,
                        on_history,
                        t.labels,
                        t.weights,
                        target_accuracy=self.target_accuracy,
                    ),
                )
            return cal.choices[key]

        def predict(target: str) -> tuple[Prediction | None, LevelModel | Blend | None, str]:
            t = cal.targets[target]
            org_model = None
            if transfer is not None:
                org_model = transfer.overall if target == OVERALL else transfer.criterion
            mixed: Blend | None = None
            if t.model is not None and org_model is not None:
                org_wins, mixed = choice(target, t, org_model)
                if org_wins:
                    return org_model.predict(feats[target])[0], org_model, "organization"
            if t.model is not None:
                sims = (cal.vectors[t.rows] @ vec).astype(np.float64)
                votes = vote_distribution(sims, t.labels, t.weights, self.vote_k)
                own = t.model.predict(feats[target], votes[None, :])[0]
                if mixed is not None and org_model is not None:
                    theirs = org_model.predict(feats[target])[0]
                    return Blend.combine(own, theirs), mixed, "huddle and organization"
                return own, t.model, "huddle"
            if org_model is not None:
                return org_model.predict(feats[target])[0], org_model, "organization"
            return None, None, "rubric"

        overall_cov = float(np.mean(coverage)) if coverage else 0.0
        pred, model, basis = predict(OVERALL)
        confidence: float | None
        if pred is None:
            assessment, confidence, calibrated = DEFAULT_THRESHOLDS.level(overall_cov), None, False
        else:
            assessment, confidence, calibrated = pred.level, pred.confidence, True
        criteria: list[CriterionJudgement] = []
        for c, pts, cov, req in zip(huddle.rubric, points, coverage, required, strict=True):
            cp, _, _ = predict(c.id)
            conf: float | None
            if cp is not None:
                level, conf, ccal = cp.level, cp.confidence, True
            elif calibrated:
                level, conf, ccal = assessment, confidence, True  # only overall labels exist
            else:
                level, conf, ccal = DEFAULT_THRESHOLDS.level(cov), None, False
            criteria.append(CriterionJudgement(c, pts, round(cov, 4), level, ccal, conf, req))
        criteria = _consistent(criteria, assessment)
        needs_review = model is None or confidence is None or confidence < model.threshold
        return Judgement(
            criteria=criteria,
            coverage=round(overall_cov, 4),
            score=round(pred.probabilities[Level.MET] + 0.5 * pred.probabilities[Level.PARTIAL], 4)
            if pred is not None
            else round(overall_cov, 4),
            assessment=assessment,
            calibrated=calibrated,
            history=len(context.history),
            confidence=None if confidence is None else round(confidence, 4),
            needs_review=needs_review,
            expected_accuracy=None if model is None else round(model.expected_accuracy, 4),
            basis=basis,
            model={} if model is None else model.describe(),
            vector=vec,
        )

    # -- coverage (for wording: evidence and gaps) ----------------------------

    def _coverage(
        self, text: str, huddle: Huddle
    ) -> tuple[list[list[PointScore]], list[float], list[bool]]:
        lists = [criterion_checklist(huddle, c) for c in huddle.rubric]
        units = split_units(text) or [text]
        flat = [p for ps, _ in lists for p in ps] + units
        self._embed(flat)
        uvec = np.vstack([self._vectors[u] for u in units])
        words = content_words(text)
        points, covs = [], []
        owners = section_owners(units, [c.name for c in huddle.rubric])
        for ci, (ps, _) in enumerate(lists):
            pvec = np.vstack([self._vectors[p] for p in ps]) if ps else np.zeros((0, uvec.shape[1]))
            # a passage under another criterion's heading is no evidence for this one
            mine = [j for j, o in enumerate(owners) if o is None or ci in o] or list(
                range(len(units))
            )
            scored = point_scores(
                ps, pvec.astype(np.float32), [units[j] for j in mine], uvec[mine], words
            )
            points.append(scored)
            covs.append(float(np.mean([p.score for p in scored])) if scored else 0.0)
        return points, covs, [req for _, req in lists]

    def _embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = sorted({t for t in texts if t not in self._vectors})
        if missing:
            if len(self._vectors) + len(missing) > self._cache_size:
                self._vectors.clear()
            for t, v in zip(missing, self.embedder.embed(missing), strict=True):
                # rounding keeps results identical whatever batch a text was embedded in
                self._vectors[t] = np.round(v, 5).astype(np.float32)
        if not texts:
            return np.zeros((0, self.embedder.dim or 1), np.float32)
        return np.vstack([self._vectors[t] for t in texts])

    def _space(self, huddle: Huddle) -> FeatureSpace:
        key = _digest(huddle.model_dump(mode="json"))
        if key not in self._spaces:
            if len(self._spaces) > 1024:
                self._spaces.clear()
            self._spaces[key] = FeatureSpace(huddle, self._embed)
        return self._spaces[key]

    def _history_vectors(self, history: list[LabelledSolution]) -> NDArray[np.float32]:
        for h in history:
            # the store already holds each past solution's vector: reuse, do not re-embed
            dim = self.embedder.dim or len(h.vector or ())
            if h.vector is not None and h.text not in self._vectors and len(h.vector) == dim:
                self._vectors[h.text] = np.round(np.asarray(h.vector, np.float32), 5).astype(
                    np.float32
                )
        return self._embed([h.text for h in history])

    # -- calibration on the huddle's own history ------------------------------

    def _calibrate(self, huddle: Huddle, history: list[LabelledSolution]) -> _Calibration:
        key = _digest(
            [huddle.model_dump(mode="json"), [h.model_dump(mode="json") for h in history]]
        )
        if key in self._calibrations:
            return self._calibrations[key]
        space = self._space(huddle)
        vectors = self._history_vectors(history)
        feats = space.features([h.text for h in history], vectors) if history else {}
        sims = (vectors @ vectors.T).astype(np.float64) if history else np.zeros((0, 0))
        targets: dict[str, _Target] = {}
        for target in [OVERALL, *(c.id for c in huddle.rubric)]:
            rows, labels, weights = [], [], []
            for i, h in enumerate(history):
                level = h.assessment if target == OVERALL else h.rubric.get(target)
                if level is not None:
                    rows.append(i)
                    labels.append(LEVELS.index(level))
                    weights.append(h.weight)
            model = None
            if len(rows) >= self.min_history and len(set(labels)) >= 2:
                voter = neighbour_voter(sims[np.ix_(rows, rows)], labels, weights, self.vote_k)
                model = fit_huddle(
                    feats[target][rows],
                    [LEVELS[lab] for lab in labels],
                    weights,
                    voter,
                    target_accuracy=self.target_accuracy,
                )
            targets[target] = _Target(rows, labels, weights, model)
        cal = _Calibration(space, vectors, targets, feats)
        if len(self._calibrations) > 256:
            self._calibrations.clear()
        self._calibrations[key] = cal
        return cal

    # -- transfer from the organization's other huddles -----------------------

    def _transfer(self, org_history: list[HuddleHistory]) -> _Transfer | None:
        if not org_history:
            return None
        key = _digest(
            [[o.huddle.id, [h.model_dump(mode="json") for h in o.history]] for o in org_history]
        )
        if key in self._transfers:
            return self._transfers[key]
        xo, yo, wo, go = [], [], [], []
        xc, yc, wc, gc = [], [], [], []
        for o in org_history:
            space = self._space(o.huddle)
            vectors = self._history_vectors(o.history)
            feats = space.features([h.text for h in o.history], vectors)
            for i, h in enumerate(o.history):
                if h.assessment is not None:
                    xo.append(feats[OVERALL][i])
                    yo.append(h.assessment)
                    wo.append(h.weight)
                    go.append(o.huddle.id)
                for c in o.huddle.rubric:
                    if c.id in h.rubric:
                        xc.append(feats[c.id][i])
                        yc.append(h.rubric[c.id])
                        wc.append(h.weight)
                        gc.append(o.huddle.id)

        def fit(
            x: list[NDArray[np.float64]], y: list[Level], w: list[float], g: list[str]
        ) -> LevelModel | None:
            if len(y) < self.min_history or len(set(y)) < 1:
                return None
            return fit_transfer(np.vstack(x), y, w, g, target_accuracy=self.target_accuracy)

        out = _Transfer(key, fit(xo, yo, wo, go), fit(xc, yc, wc, gc))
        if len(self._transfers) > 64:
            self._transfers.clear()
        self._transfers[key] = out
        return out


def _consistent(criteria: list[CriterionJudgement], overall: Level) -> list[CriterionJudgement]:
    """Criterion levels that do not contradict the overall level."""
    out = []
    for cj in criteria:
        level = cj.level
        if (overall == Level.MET and level == Level.NOT_MET) or (
            overall == Level.NOT_MET and level == Level.MET
        ):
            level = Level.PARTIAL
        if level != cj.level:
            cj = CriterionJudgement(
                cj.criterion,
                cj.points,
                cj.coverage,
                level,
                cj.calibrated,
                cj.confidence,
                cj.required,
            )
        out.append(cj)
    return out


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
