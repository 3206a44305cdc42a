"""Fit the learned scorers: ``python -m huddle_ai.evals.scorer_fit``.

For each dimension, an L2 logistic regression over the features of
:mod:`huddle_ai.evals.features` (standardised; the embedding block scaled by
a weight, so it can be regularised apart from the named features). The
regularisation ``C`` and the embedding weight are chosen by repeated
stratified k-fold cross-validation on the training labels only (one
standard-error rule: the simplest model within one SE of the best mean AUC).
Calibration is Platt scaling fitted on the out-of-fold decision values, so
the shipped probability is calibrated on predictions for items the
regression had not seen.

Run without arguments, it reproduces the packaged weights from
``evals/scorer_set/train.jsonl``; the held-out split is never read here.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import HuddleAIError, InvalidInputError
from huddle_ai.evals.agreement import Validation
from huddle_ai.evals.features import featurize
from huddle_ai.evals.labelled import DIMENSIONS, LabelledItem, load_labelled
from huddle_ai.evals.learned import DimensionModel, ScorerModels, packaged_path
from huddle_ai.index.embeddings import Embedder

__all__ = ["GRID", "Fit", "fit_dimension", "fit_models", "main", "repo_scorer_set"]

# (C, weight of the embedding block); simplest first for the one-SE rule
GRID: tuple[tuple[float, float], ...] = tuple(
    (c, w) for w in (0.0, 0.1, 0.3, 1.0) for c in (0.003, 0.01, 0.03, 0.1, 0.3)
)
SMALL_GRID: tuple[tuple[float, float], ...] = ((0.03, 0.3), (0.1, 0.3), (0.3, 1.0))


def repo_scorer_set() -> Path:
    """``evals/scorer_set`` of the source tree (or of the installed package)."""
    here = Path(__file__).resolve().parents[2] / "evals" / "scorer_set"
    if here.exists():
        return here
    return Path(__file__).resolve().parents[1] / "_evals" / "scorer_set"


@dataclass(frozen=True)
class Fit:
    """A fitted dimension and its cross-validated AUC (mean, SE) at the chosen params."""

    model: DimensionModel
    cv_auc: float
    cv_se: float


def _design(
    x: NDArray[np.float64], dense: int, mean: NDArray[np.float64], scale: NDArray[np.float64]
) -> NDArray[np.float64]:
    z: NDArray[np.float64] = (x - mean) / scale
    return z


def _standardise(
    x: NDArray[np.float64], dense: int, weight: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # a (nearly) constant column carries nothing: unit scale, so it cannot blow up
    scale[scale < 1e-6] = 1.0
    # the embedding block is weighted by dividing its scale: w=0 switches it off
    if weight == 0.0:
        mean[dense:] = 0.0
        scale[dense:] = np.inf
    else:
        scale[dense:] = scale[dense:] / weight
    return mean, scale


def _lr(c: float):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000)


def _folds(
    y: NDArray[np.int64], k: int, repeats: int, seed: int
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    from sklearn.model_selection import RepeatedStratifiedKFold

    k = max(2, min(k, int(y.sum()), int(len(y) - y.sum())))
    rkf = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    return [(tr, te) for tr, te in rkf.split(np.zeros(len(y)), y)]


def _auc(y: NDArray[np.int64], s: NDArray[np.float64]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else math.nan


def _decisions(
    x: NDArray[np.float64],
    y: NDArray[np.int64],
    dense: int,
    c: float,
    w: float,
    tr: NDArray[np.intp],
    te: NDArray[np.intp],
) -> NDArray[np.float64]:
    mean, scale = _standardise(x[tr], dense, w)
    model = _lr(c).fit(_design(x[tr], dense, mean, scale), y[tr])
    out: NDArray[np.float64] = model.decision_function(_design(x[te], dense, mean, scale))
    return out


def fit_dimension(
    dimension: str,
    x: NDArray[np.float64],
    y: Sequence[int],
    dense: int,
    *,
    trained_on: str,
    grid: Sequence[tuple[float, float]] = GRID,
    folds: int = 5,
    repeats: int = 2,
    seed: int = 0,
) -> Fit:
    """Choose (C, embedding weight) by CV, fit on all rows, calibrate on out-of-fold values."""
    labels = np.asarray(y, dtype=np.int64)
    if labels.sum() < 2 or len(labels) - labels.sum() < 2:
        raise InvalidInputError(
            f"{dimension}: needs at least 2 yes and 2 no labels "
            f"(has {int(labels.sum())} yes, {int(len(labels) - labels.sum())} no)"
        )
    splits = _folds(labels, folds, repeats, seed)
    results: list[tuple[float, float, float, float]] = []
    for c, w in grid:
        aucs = [_auc(labels[te], _decisions(x, labels, dense, c, w, tr, te)) for tr, te in splits]
        aucs = [a for a in aucs if not math.isnan(a)]
        avg = float(np.mean(aucs)) if aucs else math.nan
        se = float(np.std(aucs, ddof=1) / math.sqrt(len(aucs))) if len(aucs) > 1 else 0.0
        results.append((c, w, avg, se))
    best = max(results, key=lambda r: -1.0 if math.isnan(r[2]) else r[2])
    # one-standard-error rule over the grid, simplest (listed first) first
    chosen = next(r for r in results if r[2] >= best[2] - best[3])
    c, w, cv_auc, cv_se = chosen
    # Platt scaling on out-of-fold decision values of the chosen params (first repeat)
    oof = np.zeros(len(labels))
    for tr, te in splits[: len(splits) // repeats]:
        oof[te] = _decisions(x, labels, dense, c, w, tr, te)
    platt = _lr(1e4).fit(oof.reshape(-1, 1), labels)
    mean, scale = _standardise(x, dense, w)
    final = _lr(c).fit(_design(x, dense, mean, scale), labels)
    scale_out = scale.copy()
    coef = final.coef_[0].astype(np.float64)
    # a switched-off block is stored as zero weights over a unit scale (JSON has no inf)
    off = ~np.isfinite(scale_out)
    scale_out[off] = 1.0
    coef[off] = 0.0
    model = DimensionModel(
        dimension=dimension,
        mean=mean,
        scale=scale_out,
        coef=coef,
        intercept=float(final.intercept_[0]),
        platt=(float(platt.coef_[0][0]), float(platt.intercept_[0])),
        trained_on=trained_on,
        n_train=len(labels),
        params={
            "C": c,
            "embedding_weight": w,
            "cv_auc": round(cv_auc, 4),
            "cv_se": round(cv_se, 4),
        },
    )
    return Fit(model, cv_auc, cv_se)


def fit_models(
    items: Sequence[LabelledItem],
    embedder: Embedder,
    *,
    trained_on: str,
    dimensions: Sequence[str] = DIMENSIONS,
    grid: Sequence[tuple[float, float]] = GRID,
    validations: dict[str, Validation] | None = None,
) -> tuple[ScorerModels, dict[str, Fit]]:
    """Fit every dimension in ``dimensions`` on the items that carry its label."""
    feats = featurize(items, embedder)
    dense = len(feats.names) - feats.dim_embedding
    fits: dict[str, Fit] = {}
    for dim in dimensions:
        rows = [k for k, i in enumerate(items) if dim in i.labels]
        if not rows:
            raise InvalidInputError(f"no item carries the label {dim!r}")
        fit = fit_dimension(
            dim,
            feats.values[rows],
            [items[k].labels[dim] for k in rows],
            dense,
            trained_on=trained_on,
            grid=grid,
        )
        fits[dim] = fit
    models = ScorerModels(
        {d: f.model for d, f in fits.items()},
        embedder=embedder.id,
        source=trained_on,
        feature_names=feats.names,
    )
    return models, fits


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m huddle_ai.evals.scorer_fit",
        description="Fit the packaged learned scorers from the training split only.",
    )
    parser.add_argument("--train", type=Path, default=repo_scorer_set() / "train.jsonl")
    parser.add_argument("--out", type=Path, default=packaged_path())
    args = parser.parse_args(argv)
    from huddle_ai.index.embeddings import SentenceTransformerEmbedder

    try:
        items = load_labelled(args.train)
        embedder = SentenceTransformerEmbedder()
        name = args.train.name if args.train.parent.name != "scorer_set" else "scorer_set/train"
        trained_on = f"huddle_ai {name} (n={len(items)})"
        models, fits = fit_models(items, embedder, trained_on=trained_on)
    except HuddleAIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out.exists():
        try:
            old = ScorerModels.load(args.out)
        except HuddleAIError:
            old = None
        # held-out figures measured on these very weights stay; refit weights lose them
        if old is not None:
            for dim, m in models.models.items():
                prev = old.models.get(dim)
                if prev is not None and prev.validation is not None and _same(prev, m):
                    models.models[dim] = replace(m, validation=prev.validation)
    # a fingerprint: what these weights say of the first training items, so a
    # test notices when the features drift from those the weights were fitted on
    probe = items[:8]
    x = featurize(probe, embedder).values
    models.fingerprint = {
        "ids": [str(i.id) for i in probe],
        "p": {d: [round(float(v), 4) for v in m.probability(x)] for d, m in models.models.items()},
    }
    models.save(args.out)
    for dim, fit in fits.items():
        p = fit.model.params
        print(
            f"{dim:<12} n={fit.model.n_train} CV AUC {fit.cv_auc:.3f} ± {fit.cv_se:.3f} "
            f"(C={p['C']}, embedding weight {p['embedding_weight']})"
        )
    print(f"wrote {args.out}")
    return 0


def _same(a: DimensionModel, b: DimensionModel) -> bool:
    return bool(
        a.n_train == b.n_train
        and np.allclose(a.coef, b.coef, atol=1e-5)
        and abs(a.intercept - b.intercept) < 1e-5
    )


if __name__ == "__main__":
    sys.exit(main())
