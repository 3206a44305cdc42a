"""Fit the learned scorers: ``python -m huddle_ai.evals.scorer_fit``.

For each dimension, an L2 logistic regression over the features of
:mod:`huddle_ai.evals.features` (standardised; the embedding block scaled by
a weight, so it can be regularised apart from the named features). The
regularisation ``C`` and the embedding weight are chosen on the fitting
labels only, in one of two ways (``selection``):

- ``"lowo"``, leave one writer out: when the items name three or more
  ``author`` values, each author's items are scored by a model fitted on the
  other authors' items, and a setting's figure is the mean of the per-author
  AUCs. This is the deployment case (a new writer, a new organization), and
  the default (``"auto"``) whenever there are three authors or more. The
  simplest setting within one standard error of the best is chosen, the
  error taken over the per-author *differences* from the best setting (the
  authors differ far more from each other than the settings do).
- ``"kfold"``: repeated stratified k-fold cross-validation (one standard-error
  rule: the simplest model within one SE of the best mean AUC), the default
  with fewer than three authors (an organization's own labels).

The folds of either are grouped by work: items about the same task and
learner work (or sharing an explicit ``group``) always fall in the same fold,
so no fold is scored on a work whose other feedback texts were fitted on
(a work belongs to one author, so leave-one-author-out folds are grouped too).
For the dimensions in :data:`BOOSTED` (``accurate``), a small ensemble of
boosted regression trees over the named features (:data:`BOOST`) is fitted
as well and its log-odds added to the regression's: it beat the regression
alone leave-one-writer-out (see ``docs/scorers.md``). The trees are stored
as plain arrays in the JSON weights (:class:`~huddle_ai.evals.learned.Trees`).
Calibration is Platt scaling fitted on the out-of-fold decision values, so
the shipped probability is calibrated on predictions for items the
regression had not seen (for ``"lowo"``: items of a writer it had not seen).

Run without arguments, it reproduces the packaged weights from
``evals/scorer_set/train.jsonl``, ``dev.jsonl``, ``dev2.jsonl`` and
``dev3.jsonl`` (four writers); the held-out split (``heldout.jsonl``) is
never read here.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import HuddleAIError, InvalidInputError
from huddle_ai.evals.agreement import Validation
from huddle_ai.evals.features import featurize, unused_by
from huddle_ai.evals.labelled import DIMENSIONS, LabelledItem, load_labelled
from huddle_ai.evals.learned import DimensionModel, ScorerModels, Trees, packaged_path
from huddle_ai.index.embeddings import Embedder

__all__ = [
    "BOOST",
    "BOOSTED",
    "FIT_SPLITS",
    "GRID",
    "SELECTIONS",
    "Fit",
    "booster",
    "fit_dimension",
    "fit_models",
    "fit_splits",
    "groups_of",
    "lowo_folds",
    "main",
    "repo_scorer_set",
]

# (C, weight of the embedding block); simplest first for the one-SE rule
GRID: tuple[tuple[float, float], ...] = tuple(
    (c, w) for w in (0.0, 0.1, 0.3, 1.0) for c in (0.003, 0.01, 0.03, 0.1, 0.3)
)
SMALL_GRID: tuple[tuple[float, float], ...] = ((0.03, 0.3), (0.1, 0.3), (0.3, 1.0))
# the splits the packaged weights are fitted on, one writer each (heldout.jsonl
# only ever measures)
FIT_SPLITS = ("train.jsonl", "dev.jsonl", "dev2.jsonl", "dev3.jsonl")
# dimensions whose regression gets boosted trees added, and the trees' settings
BOOSTED = frozenset({"accurate"})
BOOST: dict[str, float] = {
    "max_iter": 200,
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 20,
}
# how a setting is chosen: "auto" is "lowo" with 3 or more authors, else "kfold"
SELECTIONS = ("auto", "lowo", "kfold")


def repo_scorer_set() -> Path:
    """``evals/scorer_set`` of the source tree (or of the installed package)."""
    here = Path(__file__).resolve().parents[2] / "evals" / "scorer_set"
    if here.exists():
        return here
    return Path(__file__).resolve().parents[1] / "_evals" / "scorer_set"


def groups_of(items: Sequence[LabelledItem]) -> list[str]:
    """Each item's fold group: its ``group`` field, else its task and work together."""
    return [i.group if i.group is not None else f"{i.task}\x00{i.work}" for i in items]


def lowo_folds(
    authors: Sequence[str | None],
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """One fold per author: fit on the other authors' rows, score this author's.

    Rows without an author are always fitted on, never scored.
    """
    names = sorted({a for a in authors if a is not None})
    ids = np.asarray([a if a is not None else "" for a in authors], dtype=object)
    return [(np.flatnonzero(ids != a), np.flatnonzero(ids == a)) for a in names]


def _selection(selection: str, authors: Sequence[str | None] | None) -> str:
    if selection not in SELECTIONS:
        raise InvalidInputError(f"unknown selection {selection!r} (known: {', '.join(SELECTIONS)})")
    n = len({a for a in authors if a is not None}) if authors is not None else 0
    if selection == "lowo" and n < 2:
        raise InvalidInputError(
            f"leave-one-writer-out selection needs items of at least 2 authors (has {n})"
        )
    if selection == "auto":
        return "lowo" if n >= 3 else "kfold"
    return selection


def fit_splits() -> list[Path]:
    """The packaged scorers' fitting files (never the held-out split)."""
    return [repo_scorer_set() / s for s in FIT_SPLITS]


@dataclass(frozen=True)
class Fit:
    """A fitted dimension and its cross-validated AUC (mean, SE) at the chosen params.

    ``per_fold`` is each fold's AUC at the chosen params; for leave-one-writer-out
    it is keyed by author.
    """

    model: DimensionModel
    cv_auc: float
    cv_se: float
    selection: str = "kfold"
    per_fold: dict[str, float] = field(default_factory=dict)


def _design(
    x: NDArray[np.float64], dense: int, mean: NDArray[np.float64], scale: NDArray[np.float64]
) -> NDArray[np.float64]:
    z: NDArray[np.float64] = (x - mean) / scale
    return z


def _standardise(
    x: NDArray[np.float64], dense: int, weight: float, off: Sequence[int] = ()
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
    # columns this dimension does not read (features.unused_by)
    mean[list(off)] = 0.0
    scale[list(off)] = np.inf
    return mean, scale


def _lr(c: float):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000)


def booster() -> Any:
    """An unfitted ``HistGradientBoostingClassifier`` with the settings of :data:`BOOST`."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=int(BOOST["max_iter"]),
        learning_rate=BOOST["learning_rate"],
        max_depth=int(BOOST["max_depth"]),
        min_samples_leaf=int(BOOST["min_samples_leaf"]),
        early_stopping=False,
        random_state=0,
    )


def _boosted(x: NDArray[np.float64], y: NDArray[np.int64], cols: Sequence[int]) -> Trees:
    """Boosted trees fitted on the columns ``cols`` of ``x``, indexed into ``x``."""
    model = booster().fit(x[:, list(cols)], y)
    index = np.asarray(cols)
    trees: list[NDArray[np.float64]] = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        tree = np.zeros((len(nodes), 5))
        tree[:, 0] = np.where(leaf, -1, index[nodes["feature_idx"]])
        tree[:, 1] = np.where(leaf, 0.0, nodes["num_threshold"])
        tree[:, 2] = np.where(leaf, 0, nodes["left"])
        tree[:, 3] = np.where(leaf, 0, nodes["right"])
        tree[:, 4] = np.where(leaf, nodes["value"], 0.0)
        trees.append(tree)
    return Trees(baseline=float(np.ravel(model._baseline_prediction)[0]), trees=tuple(trees))


def folds(
    y: NDArray[np.int64], k: int, repeats: int, seed: int, groups: Sequence[str] | None = None
) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Repeated stratified k folds; with ``groups``, a group never spans two folds."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups)) if groups is not None else len(y)
    k = max(2, min(k, int(y.sum()), int(len(y) - y.sum()), n_groups))
    ids = np.asarray(groups if groups is not None else [str(n) for n in range(len(y))])
    out: list[tuple[NDArray[np.intp], NDArray[np.intp]]] = []
    for r in range(repeats):
        sgk = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed + r)
        out.extend((tr, te) for tr, te in sgk.split(np.zeros(len(y)), y, ids))
    return out


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
    off: Sequence[int] = (),
) -> NDArray[np.float64]:
    mean, scale = _standardise(x[tr], dense, w, off)
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
    k: int = 5,
    repeats: int = 2,
    seed: int = 0,
    groups: Sequence[str] | None = None,
    off: Sequence[int] = (),
    authors: Sequence[str | None] | None = None,
    selection: str = "auto",
    boost: bool = False,
) -> Fit:
    """Choose (C, embedding weight) by CV, fit on all rows, calibrate on out-of-fold values.

    ``groups`` (one a row) keeps rows of a group in one fold (see :func:`groups_of`);
    the columns ``off`` get weight zero (see :func:`~huddle_ai.evals.features.unused_by`);
    ``authors`` (one a row) and ``selection`` choose leave-one-writer-out or k-fold
    (see the module's text); ``boost`` adds boosted trees over the named columns
    to the regression chosen (the figures returned are then the sum's).
    """
    labels = np.asarray(y, dtype=np.int64)
    if labels.sum() < 2 or len(labels) - labels.sum() < 2:
        raise InvalidInputError(
            f"{dimension}: needs at least 2 yes and 2 no labels "
            f"(has {int(labels.sum())} yes, {int(len(labels) - labels.sum())} no)"
        )
    how = _selection(selection, authors)
    if how == "lowo":
        assert authors is not None
        splits = lowo_folds(authors)
        keys = sorted({a for a in authors if a is not None})
        repeats = 1
    else:
        splits = folds(labels, k, repeats, seed, groups)
        keys = [str(n) for n in range(len(splits))]
    table: list[tuple[float, float, NDArray[np.float64]]] = []
    for c, w in grid:
        aucs = np.array(
            [_auc(labels[te], _decisions(x, labels, dense, c, w, tr, te, off)) for tr, te in splits]
        )
        table.append((c, w, aucs))
    results: list[tuple[float, float, float, float]] = []
    for c, w, aucs in table:
        ok = aucs[~np.isnan(aucs)]
        avg = float(ok.mean()) if len(ok) else math.nan
        se = float(ok.std(ddof=1) / math.sqrt(len(ok))) if len(ok) > 1 else 0.0
        results.append((c, w, avg, se))
    b = max(range(len(results)), key=lambda n: -1.0 if math.isnan(results[n][2]) else results[n][2])
    best = results[b]
    if how == "lowo":
        # one SE of the paired differences from the best, per author
        def margin(n: int) -> float:
            d = table[b][2] - table[n][2]
            d = d[~np.isnan(d)]
            return float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0

        chosen_n = next(n for n, r in enumerate(results) if r[2] >= best[2] - margin(n))
    else:
        # one-standard-error rule over the grid, simplest (listed first) first
        chosen_n = next(n for n, r in enumerate(results) if r[2] >= best[2] - best[3])
    c, w, cv_auc, cv_se = results[chosen_n]
    chosen_aucs = table[chosen_n][2]
    cols = [k for k in range(dense) if k not in set(off)]

    def decide(tr: NDArray[np.intp], te: NDArray[np.intp]) -> NDArray[np.float64]:
        out = _decisions(x, labels, dense, c, w, tr, te, off)
        if boost:
            out = out + _boosted(x[tr], labels[tr], cols).decision(x[te])
        return out

    if boost:
        chosen_aucs = np.array([_auc(labels[te], decide(tr, te)) for tr, te in splits])
        ok = chosen_aucs[~np.isnan(chosen_aucs)]
        cv_auc = float(ok.mean())
        cv_se = float(ok.std(ddof=1) / math.sqrt(len(ok))) if len(ok) > 1 else 0.0
    per_fold = {key: round(float(a), 4) for key, a in zip(keys, chosen_aucs, strict=True)}
    # Platt scaling on out-of-fold decision values of the chosen params (first repeat)
    oof = np.zeros(len(labels))
    scored = np.zeros(len(labels), dtype=bool)
    for tr, te in splits[: len(splits) // repeats]:
        oof[te] = decide(tr, te)
        scored[te] = True
    platt = _lr(1e4).fit(oof[scored].reshape(-1, 1), labels[scored])
    mean, scale = _standardise(x, dense, w, off)
    final = _lr(c).fit(_design(x, dense, mean, scale), labels)
    scale_out = scale.copy()
    coef = final.coef_[0].astype(np.float64)
    # a switched-off block is stored as zero weights over a unit scale (JSON has no inf)
    switched = ~np.isfinite(scale_out)
    scale_out[switched] = 1.0
    coef[switched] = 0.0
    trees = _boosted(x, labels, cols) if boost else None
    model = DimensionModel(
        dimension=dimension,
        trees=trees,
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
            "lowo": 1.0 if how == "lowo" else 0.0,
            "boosted_trees": float(len(trees.trees)) if trees is not None else 0.0,
            **({f"lowo_auc:{a}": v for a, v in per_fold.items()} if how == "lowo" else {}),
        },
    )
    return Fit(model, cv_auc, cv_se, how, per_fold)


def fit_models(
    items: Sequence[LabelledItem],
    embedder: Embedder,
    *,
    trained_on: str,
    dimensions: Sequence[str] = DIMENSIONS,
    grid: Sequence[tuple[float, float]] = GRID,
    validations: dict[str, Validation] | None = None,
    selection: str = "auto",
) -> tuple[ScorerModels, dict[str, Fit]]:
    """Fit every dimension in ``dimensions`` on the items that carry its label.

    Folds are grouped by work (:func:`groups_of`); ``selection`` as in
    :func:`fit_dimension` (leave one author out with 3 or more ``author`` values).
    """
    _selection(selection, [i.author for i in items])
    feats = featurize(items, embedder)
    groups = groups_of(items)
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
            groups=[groups[k] for k in rows],
            off=unused_by(dim, feats.names),
            authors=[items[k].author for k in rows],
            selection=selection,
            boost=dim in BOOSTED,
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
        description="Fit the packaged learned scorers on the fitting splits (FIT_SPLITS).",
    )
    parser.add_argument(
        "--train",
        type=Path,
        nargs="+",
        default=fit_splits(),
        help="Labelled JSONL files to fit on (default: scorer_set train, dev, dev2, dev3).",
    )
    parser.add_argument(
        "--selection",
        choices=SELECTIONS,
        default="auto",
        help="How C and the embedding weight are chosen: leave one writer (author) out, "
        "k-fold, or auto (leave-one-writer-out with 3 or more authors, the default).",
    )
    parser.add_argument("--out", type=Path, default=packaged_path())
    args = parser.parse_args(argv)
    from huddle_ai.index.embeddings import SentenceTransformerEmbedder

    try:
        items = [i for path in args.train for i in load_labelled(path)]
        embedder = SentenceTransformerEmbedder()
        trained_on = f"huddle_ai {_names(args.train)} (n={len(items)})"
        models, fits = fit_models(items, embedder, trained_on=trained_on, selection=args.selection)
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
        how = "leave-one-writer-out AUC" if fit.selection == "lowo" else "CV AUC"
        each = ", ".join(f"{a} {v:.3f}" for a, v in fit.per_fold.items())
        print(
            f"{dim:<12} n={fit.model.n_train} {how} {fit.cv_auc:.3f} ± {fit.cv_se:.3f} "
            f"(C={p['C']}, embedding weight {p['embedding_weight']})"
            + (f" [{each}]" if fit.selection == "lowo" else "")
        )
    print(f"wrote {args.out}")
    return 0


def _names(paths: Sequence[Path]) -> str:
    """``scorer_set/train+dev`` for the packaged splits, else the file names."""
    if all(p.parent.name == "scorer_set" for p in paths):
        return "scorer_set/" + "+".join(p.stem for p in paths)
    return "+".join(p.name for p in paths)


def _same(a: DimensionModel, b: DimensionModel) -> bool:
    return bool(
        a.n_train == b.n_train
        and np.allclose(a.coef, b.coef, atol=1e-5)
        and abs(a.intercept - b.intercept) < 1e-5
    )


if __name__ == "__main__":
    sys.exit(main())
