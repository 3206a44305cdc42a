"""Calibrate a learned scorer to an organization's own labels.

:func:`calibrate` fits one dimension on the organization's labelled items
(the same regression and features as the packaged scorers, without the
boosted trees the packaged ``accurate`` adds), measures it by
nested cross-validation (the outer folds never take part in choosing or
fitting the model they score), and measures the packaged scorer on the same
labels for comparison. Every fold, outer and inner, is grouped: items with the
same ``group`` field, or else the same task and work, stay in one fold, so a
fold is never scored on a work whose other feedback was fitted on.
:func:`save_calibrated` writes it next to any other dimension the
organization calibrated before; :func:`load_scorers` gives
later runs the packaged weights with the organization's in their place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from huddle_ai.errors import ConfigurationError, InvalidInputError
from huddle_ai.evals.agreement import Validation, measure
from huddle_ai.evals.features import featurize, unused_by
from huddle_ai.evals.labelled import DIMENSIONS, LabelledItem
from huddle_ai.evals.learned import ScorerModels, packaged_path
from huddle_ai.evals.scorer_fit import GRID, SMALL_GRID, fit_dimension, folds, groups_of
from huddle_ai.index.embeddings import Embedder
from huddle_ai.records import validate_org

__all__ = ["Calibration", "calibrate", "calibrated_path", "load_scorers", "save_calibrated"]


@dataclass(frozen=True)
class Calibration:
    """A dimension fitted to an organization's labels, with its agreement figures."""

    models: ScorerModels
    dimension: str
    cross_validated: Validation
    packaged: Validation | None


def calibrated_path(data_dir: Path, org: str) -> Path:
    """Where an organization's calibrated scorers live under the data directory."""
    return data_dir / "scorers" / f"{validate_org(org)}.json"


def calibrate(
    items: Sequence[LabelledItem],
    embedder: Embedder,
    dimension: str,
    *,
    who: str,
    packaged: ScorerModels | None = None,
    k: int = 5,
) -> Calibration:
    """Fit ``dimension`` on ``items`` and measure it by nested cross-validation."""
    if dimension not in DIMENSIONS:
        raise InvalidInputError(
            f"unknown scorer {dimension!r} to calibrate; learned scorers: {', '.join(DIMENSIONS)}"
        )
    rows = [i for i in items if dimension in i.labels]
    if len(rows) < 10:
        raise InvalidInputError(
            f"{who}: {len(rows)} item(s) labelled {dimension!r}; calibrating needs at least 10"
        )
    y = np.array([i.labels[dimension] for i in rows])
    yes = int(y.sum())
    if min(yes, len(y) - yes) < 4:
        raise InvalidInputError(
            f"{who}: {dimension!r} needs at least 4 yes and 4 no labels "
            f"(has {yes} yes, {len(y) - yes} no)"
        )
    feats = featurize(rows, embedder)
    dense = len(feats.names) - feats.dim_embedding
    x = feats.values
    off = unused_by(dimension, feats.names)
    grid = GRID if len(rows) >= 150 else SMALL_GRID
    groups = groups_of(rows)
    n_groups = len(set(groups))
    if n_groups < 3:
        raise InvalidInputError(
            f"{who}: the {len(rows)} items form {n_groups} group(s) of the same work "
            "(or 'group' field); cross-validation needs at least 3"
        )
    outer = folds(y, k, 1, 0, groups)
    oof = np.zeros(len(y))
    for tr, te in outer:
        inner = fit_dimension(
            dimension,
            x[tr],
            list(y[tr]),
            dense,
            trained_on=who,
            grid=grid,
            repeats=1,
            groups=[groups[n] for n in tr],
            off=off,
        )
        oof[te] = inner.model.probability(x[te])
    method = f"{len(outer)}-fold cross-validation, grouped by work ({n_groups} groups)"
    cv = measure(list(y), list(oof), who=who, method=method, groups=groups)
    final = fit_dimension(
        dimension,
        x,
        list(y),
        dense,
        trained_on=f"{who} (n={len(rows)})",
        grid=grid,
        repeats=1,
        groups=groups,
        off=off,
    )
    model = replace(final.model, validation=cv)
    models = ScorerModels(
        {dimension: model}, embedder=embedder.id, source=who, feature_names=feats.names
    )
    before = None
    if (
        packaged is not None
        and dimension in packaged.models
        and packaged.check_embedder(embedder) is None
    ):
        p = packaged.models[dimension].probability(x)
        before = measure(
            list(y), list(p), who=who, method="packaged weights, not refitted", groups=groups
        )
    return Calibration(models, dimension, cv, before)


def save_calibrated(calibration: Calibration, path: Path) -> ScorerModels:
    """Write ``calibration`` to ``path``, keeping other dimensions already calibrated there."""
    models = calibration.models
    if path.exists():
        try:
            earlier = ScorerModels.load(path)
        except ConfigurationError:
            earlier = None  # a stale or foreign file is replaced
        if earlier is not None and earlier.feature_names == models.feature_names:
            # fitted with another embedding model: replaced whole
            with contextlib.suppress(ConfigurationError):
                models = earlier.merged(models)
    models.source = str(path)
    models.save(path)
    return models


def load_scorers(*extra: Path | None) -> ScorerModels:
    """The packaged weights with each existing ``extra`` file's dimensions in their place.

    A file fitted with another embedding model than the packaged weights
    replaces them whole: only the dimensions it holds are learned there.
    """
    models = ScorerModels.load(packaged_path())
    for path in extra:
        if path is not None and path.exists():
            other = ScorerModels.load(path)
            try:
                models = models.merged(other)
            except ConfigurationError:
                models = other
    return models
