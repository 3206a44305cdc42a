"""Learned scorers: packaged weights, calibration to an organization, eval score, the judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from huddle_ai import FakeEmbedder
from huddle_ai.cli import run
from huddle_ai.errors import ConfigurationError, InvalidInputError
from huddle_ai.evals.agreement import measure, validation_note
from huddle_ai.evals.calibrate import calibrate, load_scorers, save_calibrated
from huddle_ai.evals.features import EVIDENCE, LINGUISTIC, featurize, linguistic, unused_by
from huddle_ai.evals.judge import Judge
from huddle_ai.evals.labelled import DIMENSIONS, FeedbackItem, load_labelled, parse_labelled
from huddle_ai.evals.learned import ScorerModels, packaged_path
from huddle_ai.evals.report import render_markdown
from huddle_ai.evals.scorer_fit import folds, groups_of, repo_scorer_set
from huddle_ai.evals.scorers import scorer_registry
from huddle_ai.evals.stats import auc
from huddle_ai.evals.validity import sample_of
from huddle_ai.fake_llm import FakeLLM, Reply

TRAIN = repo_scorer_set() / "train.jsonl"


def labelled_file(tmp_path: Path, n: int = 48) -> Path:
    """The first ``n`` training items with an organization's extra fields."""
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()[:n]]
    for k, row in enumerate(rows):
        row["meta"] = {"cohort": f"c{k % 3}", "reviewer": "r-7"}
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_packaged_weights_still_fit_the_features(real_embedder: Any) -> None:
    """What the weights said of the first training items when fitted is what they say now:
    a change to the features (words, stemmer, embedder) since the fit fails here."""
    models = ScorerModels.load(packaged_path())
    assert set(models.models) == set(DIMENSIONS) and models.fingerprint is not None
    items = {i.id: i for i in load_labelled(TRAIN)[:8]}
    probe = [items[i] for i in models.fingerprint["ids"]]
    x = featurize(probe, real_embedder).values
    for dim, model in models.models.items():
        now = model.probability(x)
        then = np.array(models.fingerprint["p"][dim])
        drift = float(np.abs(now - then).max())
        assert drift < 0.02, f"{dim}: features drifted by {drift:.3f}: refit (scorer_fit)"
        # fitted on train + dev*; a validation, once recorded, is on the held-out split only
        assert model.n_train >= 2000 and model.trained_on.startswith("huddle_ai scorer_set/train")
        assert model.validation is None or model.validation.method == "held-out split"


def test_packaged_scorers_through_samples_of_any_shape(real_embedder: Any) -> None:
    models = ScorerModels.load(packaged_path())
    items = load_labelled(TRAIN)[:40]
    samples = [sample_of(i) for i in items]
    models.prime(samples, real_embedder)
    registry = scorer_registry(models)
    for dim in ("actionable", "respectful"):
        values = [registry[dim].fn(s, embedder=real_embedder).value for s in samples]
        assert all(0.0 <= v <= 1.0 for v in values)
        labels = [i.labels[dim] for i in items]
        # training items: a check of the plumbing, not a quality figure
        assert auc(labels, values) > 0.75


def test_the_recorded_held_out_figures_are_what_the_weights_score(real_embedder: Any) -> None:
    """The AUCs stored in the packaged weights (and shown in the README) are reproduced by
    scoring the held-out split with those weights now, and each reaches 0.75."""
    models = ScorerModels.load(packaged_path())
    heldout = load_labelled(repo_scorer_set() / "heldout.jsonl")
    x = featurize(heldout, real_embedder).values
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if "scorers' AUC on a held-out writer" in line)
    for dim, model in models.models.items():
        v = model.validation
        assert v is not None and v.method == "held-out split" and v.n == len(heldout)
        now = auc([i.labels[dim] for i in heldout], model.probability(x).tolist())
        assert abs(now - (v.auc or 0.0)) < 0.002, (dim, now, v.auc)
        assert now >= 0.75, (dim, now)
        assert f"{now:.2f}" in row, (dim, now, row)


def test_calibrate_reports_cross_validated_agreement(tmp_path: Path, real_embedder: Any) -> None:
    items = load_labelled(labelled_file(tmp_path, 40))
    result = calibrate(
        items,
        real_embedder,
        "respectful",
        who="acme labels",
        packaged=ScorerModels.load(packaged_path()),
    )
    cv = result.cross_validated
    assert cv.n == 40 and cv.auc is not None
    assert cv.method == "5-fold cross-validation, grouped by work (40 groups)"
    assert cv.auc_ci is not None and cv.auc_ci[0] <= cv.auc <= cv.auc_ci[1]
    assert result.packaged is not None and result.packaged.n == 40
    path = tmp_path / "acme.json"
    save_calibrated(result, path)
    models = load_scorers(path)
    # the calibrated dimension replaces the packaged one; the others stay packaged
    assert models.models["respectful"].trained_on.startswith("acme labels")
    assert models.models["specific"].trained_on.startswith("huddle_ai scorer_set/train")
    note = scorer_registry(models)["respectful"].validity
    assert note.startswith("validated on acme labels") and "n=40" in note


def test_the_evidence_features_weigh_the_verdict_against_the_work() -> None:
    def f(**kw: Any) -> dict[str, float]:
        return dict(zip(LINGUISTIC, linguistic(FeedbackItem(**kw)), strict=True))

    vat = f(
        task="Price 20 chairs for the hall.",
        work="1. 20 chairs x R230 = R4,600 (incl. VAT) 2. Delivery R350. Total R4,950",
        feedback="Line 1 still needs VAT added on top.",
    )
    assert vat["asks_present"] == 1.0 and vat["criticise"] >= 1.0 and vat["has_ref"] == 0.0
    roots = f(
        task="Solve x^2 - 3x - 4 = 0.",
        work="(x - 4)(x + 1) = 0, so x = 4 or x = -1",
        reference="x = 4 or x = −1",
        feedback="Wrong: the roots are x = -4 and x = 1.",
    )
    assert roots["sign_flips"] == 2.0 and roots["polarity"] < 0 and roots["has_ref"] == 1.0
    letter = f(
        task="Which organ makes insulin? A liver B pancreas",
        work="B",
        reference="B",
        feedback="Yes, well done.",
    )
    assert letter["has_ref"] == 1.0 and letter["work_is_ref"] == 1.0 and letter["polarity"] > 0
    # the block is read by `accurate` only; the other dimensions switch it off
    names = [*LINGUISTIC, "emb_0"]
    assert unused_by("accurate", names) == []
    assert [names[k] for k in unused_by("specific", names)] == list(EVIDENCE[:-3])


def test_folds_keep_each_work_in_one_fold() -> None:
    items = load_labelled(TRAIN) + load_labelled(repo_scorer_set() / "dev.jsonl")
    groups = groups_of(items)
    assert len(items) == 1112 and len(set(groups)) < len(items)  # works with several feedbacks
    y = np.array([i.labels["accurate"] for i in items])
    splits = folds(y, 5, 2, 0, groups)
    assert len(splits) == 10
    for tr, te in splits:
        assert not {groups[k] for k in tr} & {groups[k] for k in te}
    # an explicit group wins over task and work
    a, b = parse_labelled(
        '{"feedback": "a", "task": "t", "work": "w", "group": 7, "labels": {"specific": 1}}\n'
        '{"feedback": "b", "task": "t", "work": "w", "labels": {"specific": 0}}\n',
        "g.jsonl",
    )
    assert a.group == "7" and groups_of([a, b]) == ["7", "t\x00w"]


def test_calibrate_keeps_a_group_out_of_the_fold_it_is_scored_in(tmp_path: Path) -> None:
    """Items that share a ``group`` are never fitted on while scored: with one
    group per label, an ungrouped CV would score each item next to its twins."""
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()[:24]]
    for k, row in enumerate(rows):
        row["group"] = f"learner-{k % 6}"
    items = parse_labelled("".join(json.dumps(r) + "\n" for r in rows), "g.jsonl")
    result = calibrate(items, FakeEmbedder(), "respectful", who="grouped labels")
    cv = result.cross_validated
    assert cv.method == "5-fold cross-validation, grouped by work (6 groups)" and cv.n == 24
    one = [r | {"group": "all"} for r in rows]
    same = parse_labelled("".join(json.dumps(r) + "\n" for r in one), "one.jsonl")
    with pytest.raises(InvalidInputError, match="form 1 group"):
        calibrate(same, FakeEmbedder(), "respectful", who="one.jsonl")


def test_validity_measures_only_a_held_out_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from huddle_ai.evals import validity

    missing = tmp_path / "heldout.jsonl"
    assert validity.main(["--heldout", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no held-out split at {missing}") and err.count("\n") == 1
    dev = repo_scorer_set() / "dev.jsonl"
    assert validity.main(["--heldout", str(dev)]) == 2
    assert "is a fitting split, not held out" in capsys.readouterr().err


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("HUDDLE_AI_EMBEDDING_BACKEND", "fake")
    monkeypatch.setenv("HUDDLE_AI_DATA_DIR", str(data))
    monkeypatch.delenv("HUDDLE_AI_CHROMA_URL", raising=False)
    monkeypatch.delenv("HUDDLE_AI_LLM_BASE_URL", raising=False)
    return data


def test_calibrate_then_score_round_trip_through_the_cli(
    fake_cli: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = labelled_file(tmp_path)
    assert run(["eval", "calibrate", "--scorer", "specific", str(labels), "--org", "acme"]) == 0
    out = capsys.readouterr().out
    grouped = "(5-fold cross-validation, grouped by work (48 groups))"
    assert f"specific: validated on acme labels (labels.jsonl) {grouped}" in out
    assert "n=48" in out
    saved = fake_cli / "scorers" / "acme.json"
    assert saved.exists() and "--org acme" in out
    scored = tmp_path / "scored.jsonl"
    argv = ["eval", "score", str(labels), "-s", "specific", "-s", "length", "--org", "acme"]
    assert run([*argv, "-o", str(scored)]) == 0
    err = capsys.readouterr().err
    assert "specific: n=48 AUC=" in err and "length: " not in err  # no 'length' labels
    original = [json.loads(x) for x in labels.read_text(encoding="utf-8").splitlines()]
    back = [json.loads(x) for x in scored.read_text(encoding="utf-8").splitlines()]
    assert len(back) == len(original)
    for before, after in zip(original, back, strict=True):
        # every field comes back as it was (ids, metadata), with the scores added
        assert {k: v for k, v in after.items() if k != "scores"} == before
        assert 0.0 <= after["scores"]["specific"]["value"] <= 1.0
        assert "acme labels" in after["scores"]["specific"]["explanation"]
    # the packaged (MiniLM) weights do not apply to this organization's fake embedder
    assert run([*argv[:-2], "-s", "actionable", "-o", str(scored)]) == 0
    capsys.readouterr()
    first = json.loads(scored.read_text(encoding="utf-8").splitlines()[0])
    assert first["scores"]["actionable"]["value"] is None


def test_a_report_names_each_scorers_validation(fake_cli: Path, tmp_path: Path) -> None:
    items = load_labelled(labelled_file(tmp_path, 30))
    result = calibrate(items, FakeEmbedder(), "actionable", who="acme labels")
    registry = scorer_registry(result.models)
    names = ["actionable", "specific", "actionability"]
    run_result = {
        "suite": "s",
        "run_id": "r1",
        "cases": [],
        "variants": [],
        "repeat": 1,
        "metrics": {},
        "validity": {n: registry[n].describe() for n in names},
    }
    md = render_markdown(run_result)
    assert "validated on acme labels (5-fold cross-validation, grouped by work" in md
    assert "n=30" in md
    assert "| actionability | heuristic (not validated) |" in md
    # a learned scorer without weights (so without validation) is marked like any heuristic
    assert "| specific | heuristic (not validated) |" in md


def test_bad_labels_are_one_line_errors_and_nothing_is_saved(
    fake_cli: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    good = '{"feedback": "Nice.", "labels": {"specific": 0}}\n'
    bad.write_text(good + '{"id": "x-2", "feedback": "ok", "labels": {"specific": 2}}\n')
    assert run(["eval", "calibrate", "-s", "specific", str(bad), "--org", "acme"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "line 2 (id 'x-2'): field 'labels': label 'specific' must be 0 or 1" in err
    assert not (fake_cli / "scorers").exists()
    with pytest.raises(InvalidInputError, match="line 1: field 'labels'"):
        parse_labelled('{"feedback": "x", "labels": {"vibes": 1}}', "f.jsonl")
    with pytest.raises(InvalidInputError, match="unknown scorer 'tone' to calibrate"):
        calibrate(load_labelled(labelled_file(tmp_path)), FakeEmbedder(), "tone", who="w")
    few = parse_labelled(good * 12, "few.jsonl")
    with pytest.raises(InvalidInputError, match="needs at least 4 yes and 4 no labels"):
        calibrate(few, FakeEmbedder(), "specific", who="few.jsonl")
    assert run(["eval", "calibrate", "-s", "specific", str(bad)]) == 2
    assert "give one of --org ORG or --out FILE" in capsys.readouterr().err


def test_foreign_or_stale_weights_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ConfigurationError, match="not a huddle-ai scorer weights file"):
        ScorerModels.load(path)
    data = json.loads(packaged_path().read_text(encoding="utf-8"))
    data["feature_version"] = "f0"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match="refit them"):
        ScorerModels.load(path)


def test_bootstrap_intervals_bracket_the_estimate() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = labels * 0.6 + rng.random(200)
    v = measure(list(labels), list(scores), who="synthetic", method="test")
    assert v.auc is not None and v.auc_ci is not None and v.kappa_ci is not None
    assert v.auc_ci[0] < v.auc < v.auc_ci[1] and v.auc_ci[1] - v.auc_ci[0] < 0.2
    assert abs(v.auc - auc(list(labels), list(scores))) < 1e-3
    assert validation_note(None) == "heuristic (not validated)"


def test_the_judge_grades_the_five_dimensions_and_its_agreement_is_reported(
    llm: FakeLLM,
    fake_cli: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Plumbing only: the judge's real agreement needs a real LLM (see docs/scorers.md)."""
    grades = {"actionable": 5, "specific": 1, "accurate": 4, "respectful": 2, "no_giveaway": 3}
    llm.set_default(Reply.json({**grades, "explanation": "scripted"}))
    labels = labelled_file(tmp_path, 6)
    monkeypatch.setenv("HUDDLE_AI_LLM_BASE_URL", llm.base_url)
    try:
        assert run(["eval", "score", str(labels), "-s", "length", "--judge"]) == 0
    finally:
        llm.set_default(Reply.error(500, "no scripted reply left"))
    captured = capsys.readouterr()
    first = json.loads(captured.out.splitlines()[0])
    assert first["scores"]["judge_actionable"]["value"] == 1.0
    assert first["scores"]["judge_no_giveaway"]["value"] == 0.5
    assert "judge_respectful: n=6 AUC=" in captured.err
    sent = llm.requests[0]["messages"][1]["content"]
    assert "<learner_work>" in sent and "<reference>" in sent
    judge = Judge(llm.base_url, "m")
    assert judge.metric_names[0] == "judge_specificity"  # v1 keeps its dimensions


def test_the_boosted_trees_in_json_predict_what_sklearn_predicts() -> None:
    """The trees stored as plain arrays give sklearn's own log-odds, through a JSON round trip."""
    from huddle_ai.evals.learned import Trees
    from huddle_ai.evals.scorer_fit import _boosted, booster

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    x[:, 3] = rng.integers(0, 4, size=300)  # a count, as many named features are
    y = ((x[:, 0] + x[:, 1] ** 2 - x[:, 3] * 0.5) > 0.5).astype(np.int64)
    cols = [0, 1, 3, 5]
    trees = _boosted(x, y, cols)
    ref = booster().fit(x[:, cols], y)
    test = rng.normal(size=(50, 6))
    want = ref.decision_function(test[:, cols])
    back = Trees.from_json(json.loads(json.dumps(trees.to_json())), 6)
    assert np.allclose(back.decision(test), want, atol=1e-5)
    with pytest.raises(ConfigurationError, match="malformed"):
        Trees.from_json(trees.to_json(), 3)
    # a node whose child points back at it would loop forever: refused on load
    looping = {
        "baseline": 0.0,
        "trees": [[[0, 0.5, 1, 2, 0], [1, 0.5, 0, 2, 0], [-1, 0, 0, 0, 1.0]]],
    }
    with pytest.raises(ConfigurationError, match="malformed"):
        Trees.from_json(looping, 6)


def test_leave_one_writer_out_is_the_choice_with_three_authors() -> None:
    from huddle_ai.evals.scorer_fit import fit_dimension, lowo_folds

    authors = ["a", "b", "c", None]
    assert [(list(tr), list(te)) for tr, te in lowo_folds(authors)] == [
        ([1, 2, 3], [0]),
        ([0, 2, 3], [1]),
        ([0, 1, 3], [2]),
    ]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 4))
    y = (x[:, 0] + rng.normal(size=90) > 0).astype(int)
    who = [f"w{k % 3}" for k in range(90)]
    fit = fit_dimension("specific", x, list(y), 4, trained_on="t", grid=[(0.1, 0.0)], authors=who)
    assert fit.selection == "lowo" and set(fit.per_fold) == {"w0", "w1", "w2"}
    assert fit.model.params["lowo"] == 1.0 and "lowo_auc:w1" in fit.model.params
    pair = [f"w{k % 2}" for k in range(90)]
    two = fit_dimension("specific", x, list(y), 4, trained_on="t", grid=[(0.1, 0.0)], authors=pair)
    assert two.selection == "kfold"
    with pytest.raises(InvalidInputError, match="unknown selection 'loo'"):
        fit_dimension("specific", x, list(y), 4, trained_on="t", selection="loo")
    with pytest.raises(InvalidInputError, match="at least 2 authors"):
        fit_dimension("specific", x, list(y), 4, trained_on="t", selection="lowo")
