"""The risk features on hand-made rows, their words, and the multi-seed
evaluation (model against the heuristic and the two baselines, Brier score
against the base rate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from huddle_ai.accountability.features import compute_features
from huddle_ai.accountability.risk import HeuristicRisk, describe, fit_risk_model
from huddle_ai.accountability.synthetic import (
    evaluate_risk_seeds,
    expected_calibration_error,
    generate_cohorts,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_trend_latest_commitment_and_first_feedback() -> None:
    start = NOW - timedelta(days=20)
    day = timedelta(days=1)
    events = [
        ("ana", "viewed", NOW - 2 * day, 1, None),
        ("ana", "viewed", NOW - 10 * day, 3, None),
        ("bo", "feedback_given", start + 9 * day, 1, "ana"),  # ana waited 9 days
        ("bo", "viewed", NOW - 1 * day, 1, None),
        ("bo", "viewed", NOW - 3 * day, 1, None),
        ("ana", "viewed", NOW + day, 1, None),  # the future is never seen
    ]
    commitments = [
        ("ana", "done", NOW - 9 * day),
        ("ana", "missed", NOW - 2 * day),  # the latest one
        ("bo", "missed", NOW - 9 * day),
        ("bo", "done", NOW - 2 * day),
        ("bo", "open", NOW + 2 * day),  # not due yet
    ]
    starts = {"ana": start, "bo": start}
    ana, bo = compute_features(["ana", "bo"], events, commitments, now=NOW, start=starts)
    assert ana.values["active_days_7"] == 1 and bo.values["active_days_7"] == 2
    assert ana.values["last_commitment_missed"] == 1 and bo.values["last_commitment_missed"] == 0
    assert ana.values["days_to_first_feedback"] == 9.0
    assert bo.values["days_to_first_feedback"] == 60.0 and bo.values["feedback_received"] == 0
    assert describe("last_commitment_missed", ana.values) == "missed the latest commitment"
    assert describe("days_to_first_feedback", ana.values) == "waited 9 days for a first feedback"
    assert describe("active_days_7", ana.values) == "active on 1 day of the last 7"
    assert describe("days_to_first_feedback", bo.values) is None  # "received no feedback" says it


def test_fitted_model_explains_in_words_and_is_calibrated_on_held_out_cohorts() -> None:
    train, test = generate_cohorts(21, 3, learners=120)[:2], generate_cohorts(22, 1, learners=150)
    feats = [f for c in train for f in c.features()]
    model = fit_risk_model(feats, [c.dropped[lid] for c in train for lid in c.learners])
    scored = model.score(test[0].features())
    worst = max(scored, key=lambda r: r.score)
    assert worst.at_risk and worst.reasons and worst.method == "model"
    report = evaluate_risk_seeds([31, 32], train=2, test=1, learners=80)
    summary = report["summary"]
    assert isinstance(summary, dict)
    for key in ("auc_model", "auc_heuristic", "auc_baseline_total_activity", "brier_model"):
        assert 0 <= summary[key]["mean"] <= 1
    assert summary["brier_model"]["mean"] < summary["brier_base_rate"]["mean"]
    assert len(report["runs"]) == 2  # type: ignore[arg-type]
    heur = [r.score for r in HeuristicRisk().score(test[0].features())]
    # all-zero outcomes: the error is the mean score itself
    ece = expected_calibration_error(np.zeros(len(heur), int), np.asarray(heur))
    assert abs(ece - float(np.mean(heur))) < 1e-3


def test_the_org_model_is_fitted_once_per_set_of_past_cohorts(tmp_path: Path) -> None:
    from huddle_ai.accountability import Accountability, ManualClock
    from huddle_ai.index.database import Database
    from huddle_ai.index.database import accountability as q

    past = generate_cohorts(41, 1, learners=60)[0]
    db = Database(f"sqlite:///{tmp_path / 'acct.db'}")
    acct = Accountability(db, clock=ManualClock(past.cutoff + timedelta(days=60)))
    acct.import_lines("acme", past.jsonl(), allow_past_due=True)
    with db.session() as s:
        first = acct._model(s, "acme")
        assert first.method == "model" and acct._model(s, "acme") is first
        # a new past outcome is another training set: refitted
        q.upsert_enrollments(
            s,
            "acme",
            [
                {
                    "cohort": past.id,
                    "learner_id": "x-new",
                    "enrolled_at": past.start,
                    "outcome": "dropped",
                }
            ],
        )
        s.flush()
        assert acct._model(s, "acme") is not first
    db.dispose()
