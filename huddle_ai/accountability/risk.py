"""Drop-out risk: a calibrated logistic regression fitted on an organization's
past cohorts with known outcomes, or a transparent heuristic when there are
none; each score comes with the features that drove it, in words.

The model is ``LogisticRegression`` on standardised, log-scaled features
(:mod:`huddle_ai.accountability.features`), its regularisation chosen by
cross-validated log loss on the past cohorts, calibrated with
``CalibratedClassifierCV`` (sigmoid, cross-validated), so a score of 0.7 means
about 7 in 10 such learners dropped out in the past cohorts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV  # type: ignore[import-untyped, unused-ignore]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped, unused-ignore]
from sklearn.model_selection import (  # type: ignore[import-untyped, unused-ignore]
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped, unused-ignore]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped, unused-ignore]

from huddle_ai.accountability.features import FEATURES, LearnerFeatures, matrix
from huddle_ai.errors import InvalidInputError

__all__ = [
    "HEURISTIC_WEIGHTS",
    "HeuristicRisk",
    "LearnerRisk",
    "RiskModel",
    "describe",
    "fit_risk_model",
]

AT_RISK = 0.5
REGULARISATION = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # C values tried by cross-validation

# Heuristic points: every point raises the odds of dropping out; documented in the README.
HEURISTIC_WEIGHTS: dict[str, float] = {
    "days_since_last_activity": 0.35,  # per day without activity
    "missed_commitments": 0.8,  # per missed commitment
    "no_feedback_received": 0.8,
    "no_feedback_given": 0.4,
    "few_active_days": 0.25,  # per active day short of 4 in the last 14
}
_HEURISTIC_BIAS = -3.0


@dataclass(frozen=True)
class LearnerRisk:
    learner_id: str
    score: float  # probability of dropping out
    at_risk: bool
    reasons: list[str]  # in words, strongest first
    method: str  # model | heuristic
    features: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "learner_id": self.learner_id,
            "score": round(self.score, 4),
            "at_risk": self.at_risk,
            "reasons": self.reasons,
            "explanation": ", ".join(self.reasons) if self.reasons else "no warning signs",
            "method": self.method,
            "features": self.features,
        }


def _plural(n: float, word: str) -> str:
    k = round(n)
    return f"{k} {word}" + ("" if k == 1 else "s")


def describe(name: str, v: dict[str, float]) -> str | None:
    """The words for one feature's value, or None when it is not a warning sign."""
    days = v["days_since_last_activity"]
    if name == "days_since_last_activity":
        return f"no activity for {_plural(days, 'day')}" if days >= 3 else None
    if name == "missed_commitments":
        n = v["missed_commitments"]
        return f"{_plural(n, 'missed commitment')}" if n >= 1 else None
    if name == "feedback_received":
        return "received no feedback" if v["feedback_received"] == 0 else None
    if name == "feedback_given":
        return "gave no feedback" if v["feedback_given"] == 0 else None
    if name in ("active_days_14", "active_days_total"):
        n = v["active_days_14"]
        return f"active on {_plural(n, 'day')} of the last 14" if n < 4 else None
    if name in ("events_last_7", "events_prev_7"):
        a, b = v["events_prev_7"], v["events_last_7"]
        return f"activity fell from {int(a)} to {int(b)} a week" if b < 0.5 * a else None
    if name == "done_commitments":
        return "has completed no commitment" if v["done_commitments"] == 0 else None
    if name == "total_activity":
        return "little activity overall" if v["total_activity"] < 5 else None
    if name == "active_days_7":
        n = v["active_days_7"]
        return f"active on {_plural(n, 'day')} of the last 7" if n < 2 else None
    if name == "last_commitment_missed":
        return "missed the latest commitment" if v["last_commitment_missed"] else None
    if name == "days_to_first_feedback":
        wait = v["days_to_first_feedback"]
        if v["feedback_received"] == 0:
            return None  # said as "received no feedback"
        return f"waited {_plural(wait, 'day')} for a first feedback" if wait >= 7 else None
    return None


def _reasons(order: Sequence[str], values: dict[str, float], limit: int = 4) -> list[str]:
    out: list[str] = []
    for name in order:
        text = describe(name, values)
        if text and text not in out:
            out.append(text)
        if len(out) >= limit:
            break
    return out


class HeuristicRisk:
    """Points for silence, missed commitments and missing feedback, through a
    logistic curve: transparent, used until an org has past outcomes."""

    method = "heuristic"

    def score(self, features: Sequence[LearnerFeatures]) -> list[LearnerRisk]:
        out = []
        w = HEURISTIC_WEIGHTS
        for f in features:
            v = f.values
            parts = {
                "days_since_last_activity": w["days_since_last_activity"]
                * min(v["days_since_last_activity"], 21),
                "missed_commitments": w["missed_commitments"] * v["missed_commitments"],
                "feedback_received": w["no_feedback_received"] * (v["feedback_received"] == 0),
                "feedback_given": w["no_feedback_given"] * (v["feedback_given"] == 0),
                "active_days_14": w["few_active_days"] * max(0.0, 4 - v["active_days_14"]),
            }
            z = _HEURISTIC_BIAS + sum(parts.values())
            p = 1 / (1 + math.exp(-z))
            order = sorted(parts, key=lambda k: -parts[k])
            out.append(
                LearnerRisk(f.learner_id, p, p >= AT_RISK, _reasons(order, v), self.method, dict(v))
            )
        return out


class RiskModel:
    """Calibrated logistic regression over :data:`FEATURES`."""

    method = "model"

    def __init__(self, calibrated: CalibratedClassifierCV, explainer: object) -> None:
        self._calibrated = calibrated
        self._explainer = explainer

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self._calibrated.predict_proba(x)[:, 1], dtype=np.float64)

    def contributions(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each feature's share of the log-odds (coefficient x standardised value)."""
        pipe = self._explainer
        scaler = pipe.named_steps["standardscaler"]  # type: ignore[attr-defined]
        lr = pipe.named_steps["logisticregression"]  # type: ignore[attr-defined]
        return np.asarray(scaler.transform(x) * lr.coef_[0], dtype=np.float64)

    def score(self, features: Sequence[LearnerFeatures]) -> list[LearnerRisk]:
        if not features:
            return []
        x = matrix(features)
        probs = self.predict(x)
        contrib = self.contributions(x)
        out = []
        for f, p, c in zip(features, probs, contrib, strict=True):
            order = [FEATURES[i] for i in np.argsort(-c) if c[i] > 0]
            out.append(
                LearnerRisk(
                    f.learner_id,
                    float(p),
                    bool(p >= AT_RISK),
                    _reasons(order, f.values),
                    self.method,
                    dict(f.values),
                )
            )
        return out


def fit_risk_model(
    features: Sequence[LearnerFeatures], dropped: Sequence[bool], *, seed: int = 0
) -> RiskModel:
    """Fit on past learners with known outcomes (``dropped`` True/False)."""
    y = np.asarray(dropped, dtype=int)
    if len(features) != len(y):
        raise InvalidInputError("one outcome per learner")
    if len(y) < 20 or y.sum() < 5 or (1 - y).sum() < 5:
        raise InvalidInputError(
            "too few past outcomes to fit a risk model (need 20 learners, 5 of each outcome)"
        )
    x = matrix(features)
    cv = min(5, int(y.sum()), int((1 - y).sum()))
    c = _choose_c(x, y, cv, seed)

    def base() -> object:
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=c, solver="newton-cholesky", max_iter=200)
        )

    # calibrated on folds the fit did not see (sigmoid: a two-parameter map, safe on
    # a few hundred learners where isotonic would overfit)
    calibrated = CalibratedClassifierCV(base(), method="sigmoid", cv=cv)
    calibrated.fit(x, y)
    explainer = base()
    explainer.fit(x, y)  # type: ignore[attr-defined]
    return RiskModel(calibrated, explainer)


def _choose_c(x: NDArray[np.float64], y: NDArray[np.int_], cv: int, seed: int) -> float:
    """The regularisation with the lowest cross-validated log loss on the past
    cohorts (never on the learners being scored)."""
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    best, best_loss = 1.0, math.inf
    for c in REGULARISATION:
        losses = []
        for fit_idx, val_idx in folds.split(x, y):
            m = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, solver="newton-cholesky", max_iter=200)
            )
            m.fit(x[fit_idx], y[fit_idx])
            p = np.clip(m.predict_proba(x[val_idx])[:, 1], 1e-6, 1 - 1e-6)
            t = y[val_idx]
            losses.append(float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))))
        loss = float(np.mean(losses))
        if loss < best_loss - 1e-9:
            best, best_loss = c, loss
    return best
