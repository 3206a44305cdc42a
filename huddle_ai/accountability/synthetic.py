"""A seeded generator of realistic cohorts (activity, commitments, peer
feedback, outcomes) and the evaluation of the risk model against two simple
baselines on held-out cohorts.

How a learner behaves: a latent engagement drives how often they are active
and how many events an active day has; drop-out is more likely for low
engagement, for learners who receive no feedback early on and for those who
miss commitments; a learner who will drop slows down over the days before
they stop (some stop after the observation cutoff, so the signal is partial),
and after stopping only an occasional visit remains. The model sees the
cohort as it was at the cutoff day, never what happened later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, unused-ignore]

from huddle_ai.accountability.features import (
    CommitmentRow,
    EventRow,
    LearnerFeatures,
    compute_features,
)
from huddle_ai.accountability.risk import HeuristicRisk, fit_risk_model

__all__ = [
    "Cohort",
    "evaluate_risk",
    "evaluate_risk_seeds",
    "expected_calibration_error",
    "generate_cohort",
    "generate_cohorts",
]

_TYPES = ("viewed", "logged_in", "submitted", "commented")
_TYPE_P = (0.45, 0.25, 0.15, 0.15)


@dataclass
class Cohort:
    id: str
    start: datetime
    cutoff: datetime
    learners: list[str]
    events: list[EventRow]
    commitments: list[CommitmentRow]  # status as known at the cutoff
    dropped: dict[str, bool]

    def features(self) -> list[LearnerFeatures]:
        starts = dict.fromkeys(self.learners, self.start)
        return compute_features(
            self.learners, self.events, self.commitments, now=self.cutoff, start=starts
        )

    def jsonl(self) -> Iterator[str]:
        """The cohort in the import format (enrollments with outcomes, events)."""
        for lid in self.learners:
            yield json.dumps(
                {
                    "kind": "enrollment",
                    "learner_id": lid,
                    "cohort": self.id,
                    "enrolled_at": self.start.isoformat(),
                    "outcome": "dropped" if self.dropped[lid] else "completed",
                }
            )
        for i, (lid, status, due) in enumerate(self.commitments):
            yield json.dumps(
                {
                    "kind": "commitment",
                    "id": f"{self.id}-c{i}",
                    "learner_id": lid,
                    "huddle_id": f"{self.id}-h",
                    "text": "When I start my week, I will send my draft to my partner.",
                    "due_at": due.isoformat(),
                    "status": status,
                }
            )
        for lid, kind, at, count, peer in self.events:
            rec: dict[str, object] = {
                "kind": "event",
                "learner_id": lid,
                "type": kind,
                "at": at.isoformat(),
            }
            if count != 1:
                rec["count"] = count
            if peer is not None:
                rec["peer_id"] = peer
            yield json.dumps(rec)


def generate_cohort(
    rng: np.random.Generator,
    cohort_id: str,
    *,
    learners: int = 200,
    days: int = 42,
    cutoff_day: int = 21,
    start: datetime | None = None,
) -> Cohort:
    t0 = start or datetime(2026, 1, 5, tzinfo=UTC)
    ids = [f"{cohort_id}-l{i:04d}" for i in range(learners)]
    engagement = rng.beta(2.0, 2.2, size=learners)
    sociable = rng.beta(2.0, 2.0, size=learners)
    # who will drop, and when; early feedback and commitment follow-through matter
    early_feedback = rng.random(learners) < 0.35 + 0.5 * sociable
    logit = 1.2 - 4.0 * engagement - 0.9 * early_feedback + rng.normal(0, 0.8, learners)
    drops = rng.random(learners) < 1 / (1 + np.exp(-logit))
    drop_day = np.where(drops, rng.integers(4, days - 2, size=learners), days + 100)
    slow = rng.integers(3, 12, size=learners)  # days of slowing down before stopping

    events: list[EventRow] = []
    commitments: list[CommitmentRow] = []
    cutoff = t0 + timedelta(days=cutoff_day)
    for i, lid in enumerate(ids):
        for d in range(days):
            if d >= drop_day[i]:
                factor = 0.04
            elif d >= drop_day[i] - slow[i]:
                factor = max(0.15, (drop_day[i] - d) / (slow[i] + 1))
            else:
                factor = 1.0
            p_active = (0.12 + 0.7 * engagement[i]) * factor
            if rng.random() >= p_active:
                continue
            n = 1 + rng.poisson(1 + 5 * engagement[i])
            for _ in range(n):
                at = t0 + timedelta(days=d, seconds=int(rng.integers(7 * 3600, 22 * 3600)))
                events.append((lid, str(rng.choice(_TYPES, p=_TYPE_P)), at, 1, None))
            if rng.random() < 0.15 + 0.5 * sociable[i] * engagement[i]:
                peer = ids[int(rng.integers(learners))]
                if peer != lid:
                    at = t0 + timedelta(days=d, hours=20)
                    events.append((lid, "feedback_given", at, 1, peer))
        # early feedback: someone gives feedback in the first week
        if early_feedback[i]:
            giver = ids[int(rng.integers(learners))]
            if giver != lid:
                at = t0 + timedelta(days=int(rng.integers(1, 7)), hours=19)
                events.append((giver, "feedback_given", at, 1, lid))
        for week in (7, 14, 21, 28, 35):
            due = t0 + timedelta(days=week, hours=17)
            if due > cutoff:
                status = "open"
            elif week >= drop_day[i]:
                status = "missed"
            else:
                factor = 1.0 if week < drop_day[i] - slow[i] else 0.5
                status = (
                    "done" if rng.random() < (0.25 + 0.7 * engagement[i]) * factor else "missed"
                )
            commitments.append((lid, status, due))
    events.sort(key=lambda e: e[2])
    return Cohort(
        cohort_id,
        t0,
        cutoff,
        ids,
        events,
        commitments,
        dict(zip(ids, map(bool, drops), strict=True)),
    )


def generate_cohorts(seed: int, n: int, *, learners: int = 200) -> list[Cohort]:
    rng = np.random.default_rng(seed)
    return [
        generate_cohort(
            rng,
            f"c{seed}-{k}",
            learners=learners,
            start=datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=49 * k),
        )
        for k in range(n)
    ]


def evaluate_risk(
    *, seed: int = 7, train: int = 4, test: int = 2, learners: int = 200
) -> dict[str, object]:
    """AUC of the calibrated model, the heuristic and two baselines (total
    activity, days active: fewer means riskier) on held-out cohorts."""
    cohorts = generate_cohorts(seed, train + test, learners=learners)
    fit_on, held_out = cohorts[:train], cohorts[train:]
    x_train = [f for c in fit_on for f in c.features()]
    y_train = [c.dropped[lid] for c in fit_on for lid in c.learners]
    model = fit_risk_model(x_train, y_train)
    feats = [f for c in held_out for f in c.features()]
    y = np.array([c.dropped[lid] for c in held_out for lid in c.learners], dtype=int)
    model_p = [r.score for r in model.score(feats)]
    heur_p = [r.score for r in HeuristicRisk().score(feats)]
    total = [-f.values["total_activity"] for f in feats]
    active = [-f.values["active_days_total"] for f in feats]
    mp, hp = np.asarray(model_p), np.asarray(heur_p)
    return {
        "seed": seed,
        "train_cohorts": train,
        "test_cohorts": test,
        "learners_per_cohort": learners,
        "test_learners": len(y),
        "test_dropout_rate": round(float(y.mean()), 3),
        "auc_model": round(float(roc_auc_score(y, model_p)), 4),
        "auc_heuristic": round(float(roc_auc_score(y, heur_p)), 4),
        "auc_baseline_total_activity": round(float(roc_auc_score(y, total)), 4),
        "auc_baseline_days_active": round(float(roc_auc_score(y, active)), 4),
        # calibration: lower is better; the heuristic's points are not fitted to outcomes
        "brier_model": round(float(np.mean((mp - y) ** 2)), 4),
        "brier_heuristic": round(float(np.mean((hp - y) ** 2)), 4),
        # a forecast of the training drop-out rate for everyone: the floor to beat
        "brier_base_rate": round(float(np.mean((float(np.mean(y_train)) - y) ** 2)), 4),
        "ece_model": expected_calibration_error(y, mp),
        "ece_heuristic": expected_calibration_error(y, hp),
    }


def expected_calibration_error(
    y: NDArray[np.int_], p: NDArray[np.float64], bins: int = 10
) -> float:
    """Mean |predicted - observed| drop-out rate over ten equal-width score bins,
    weighted by how many learners fall in each."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    err = 0.0
    for b in range(bins):
        m = edges == b
        if m.any():
            err += float(m.mean()) * abs(float(p[m].mean()) - float(y[m].mean()))
    return round(err, 4)


_REPORTED = (
    "auc_model",
    "auc_heuristic",
    "auc_baseline_total_activity",
    "auc_baseline_days_active",
    "brier_model",
    "brier_heuristic",
    "brier_base_rate",
    "ece_model",
    "ece_heuristic",
)


def evaluate_risk_seeds(
    seeds: Sequence[int], *, train: int = 4, test: int = 2, learners: int = 200
) -> dict[str, object]:
    """:func:`evaluate_risk` on each seed, with the mean and standard deviation
    of each figure across seeds."""
    runs = [evaluate_risk(seed=s, train=train, test=test, learners=learners) for s in seeds]
    summary: dict[str, object] = {}
    for key in _REPORTED:
        vals = np.array([float(r[key]) for r in runs])  # type: ignore[arg-type]
        summary[key] = {"mean": round(float(vals.mean()), 4), "sd": round(float(vals.std()), 4)}
    return {
        "seeds": list(seeds),
        "test_learners_per_seed": runs[0]["test_learners"] if runs else 0,
        "summary": summary,
        "runs": runs,
    }
