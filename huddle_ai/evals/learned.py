"""Learned feedback scorers: calibrated logistic regressions over text features.

A :class:`DimensionModel` holds one dimension's fitted weights: feature
standardisation, the logistic regression's coefficients, optionally a small
ensemble of boosted regression trees (:class:`Trees`) whose log-odds are
added to the regression's, and the Platt calibration fitted on out-of-fold
predictions, so :meth:`probability` is a calibrated probability that people
would say *yes*. A :class:`ScorerModels`
holds the five dimensions (or an organization's calibrated subset) and
scores :class:`~huddle_ai.evals.sample.Sample` objects; it is loaded by the
caller (the CLI, a job) from the packaged weights (:func:`packaged_path`) or
an organization's file, and passed down: nothing here is global.

Fitting lives in :mod:`huddle_ai.evals.scorer_fit`; these models only predict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import ConfigurationError
from huddle_ai.evals.agreement import Validation
from huddle_ai.evals.features import FEATURE_VERSION, featurize
from huddle_ai.evals.labelled import DIMENSIONS, FeedbackItem
from huddle_ai.evals.sample import Sample
from huddle_ai.evals.score import Score
from huddle_ai.index.embeddings import Embedder

__all__ = ["DimensionModel", "ScorerModels", "Trees", "item_of", "model_key", "packaged_path"]

FORMAT = "huddle-ai-scorers/1"


def packaged_path() -> Path:
    """The weights shipped with the package, fitted on ``evals/scorer_set`` train and dev*."""
    return Path(__file__).resolve().parent / "weights" / "scorers.json"


def model_key(embedder_id: str) -> str:
    """The part of an embedder id that fixes its vectors: model and dimension.

    ``torch:all-MiniLM-L6-v2:384`` and an OpenVINO build of the same model
    give the same vectors to rounding, so they share weights.
    """
    return embedder_id.split(":", 1)[-1]


def _g(v: float) -> float:
    """Seven significant digits: small JSON, no scale rounded to zero."""
    return float(f"{float(v):.7g}")


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))
    return out


@dataclass(frozen=True)
class Trees:
    """Boosted regression trees over the raw feature values, as plain arrays.

    Each tree is a list of nodes ``[feature, threshold, left, right, value]``;
    a leaf has feature -1 and carries its (already shrunk) value. A row goes
    left when its feature is at most the threshold. The trees' sum plus
    ``baseline`` is a log-odds added to the regression's decision.
    """

    baseline: float
    trees: tuple[NDArray[np.float64], ...]

    def decision(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.full(len(x), self.baseline, dtype=np.float64)
        rows = np.arange(len(x))
        for tree in self.trees:
            node = np.zeros(len(x), dtype=np.intp)
            feature = tree[:, 0].astype(np.intp)
            while True:
                inner = feature[node] >= 0
                if not inner.any():
                    break
                f = np.where(inner, feature[node], 0)
                left = x[rows, f] <= tree[node, 1]
                nxt = np.where(left, tree[node, 2], tree[node, 3]).astype(np.intp)
                node = np.where(inner, nxt, node)
            out += tree[node, 4]
        return out

    def to_json(self) -> dict[str, Any]:
        def row(n: NDArray[np.float64]) -> list[float | int]:
            if n[0] < 0:
                return [-1, 0, 0, 0, _g(n[4])]
            return [int(n[0]), float(n[1]), int(n[2]), int(n[3]), 0]

        return {
            "baseline": round(self.baseline, 7),
            "trees": [[row(n) for n in t] for t in self.trees],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], width: int) -> Trees:
        trees = tuple(np.asarray(t, dtype=np.float64).reshape(-1, 5) for t in d["trees"])
        for t in trees:
            inner = t[:, 0] >= 0
            links = t[inner][:, 2:4]
            here = np.flatnonzero(inner)[:, None]
            if (
                len(t) == 0
                or (t[:, 0] >= width).any()
                or (links <= here).any()  # a child comes after its node: no cycles
                or (links >= len(t)).any()
            ):
                raise ConfigurationError(
                    f"boosted trees in scorer weights are malformed (want {width} features)"
                )
        return cls(baseline=float(d["baseline"]), trees=trees)


@dataclass(frozen=True)
class DimensionModel:
    """One dimension's weights and how they were fitted and validated."""

    dimension: str
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: float
    platt: tuple[float, float]
    trained_on: str
    n_train: int
    params: dict[str, float] = field(default_factory=dict)
    validation: Validation | None = None
    trees: Trees | None = None

    def decision(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (x - self.mean) / self.scale
        out: NDArray[np.float64] = z @ self.coef + self.intercept
        if self.trees is not None:
            out = out + self.trees.decision(x)
        return out

    def probability(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Calibrated probability of *yes* for each row of ``x``."""
        a, b = self.platt
        return _sigmoid(a * self.decision(x) + b)

    def to_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "mean": [_g(v) for v in self.mean],
            "scale": [_g(v) for v in self.scale],
            "coef": [_g(v) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "platt": [round(self.platt[0], 6), round(self.platt[1], 6)],
            "trained_on": self.trained_on,
            "n_train": self.n_train,
            "params": self.params,
            "validation": self.validation.row() if self.validation else None,
            **({"trees": self.trees.to_json()} if self.trees is not None else {}),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], width: int) -> DimensionModel:
        arrays = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
        if any(len(a) != width for a in arrays.values()) or not (arrays["scale"] > 0).all():
            raise ConfigurationError(
                f"scorer weights for {d.get('dimension')!r} are malformed "
                f"(want {width} features, every scale above 0)"
            )
        platt = d["platt"]
        return cls(
            dimension=str(d["dimension"]),
            intercept=float(d["intercept"]),
            platt=(float(platt[0]), float(platt[1])),
            trained_on=str(d["trained_on"]),
            n_train=int(d["n_train"]),
            params={k: float(v) for k, v in (d.get("params") or {}).items()},
            validation=Validation.model_validate(d["validation"]) if d.get("validation") else None,
            trees=Trees.from_json(d["trees"], width) if d.get("trees") else None,
            **arrays,
        )


def item_of(sample: Sample) -> FeedbackItem:
    """What a learned scorer reads of a sample, whatever its shape."""
    out = sample.output
    if out is not None:
        parts = [out.text, *out.strengths, *(s.text for s in out.suggestions), *out.questions]
        feedback = "\n".join(p for p in [*parts, out.next_step] if p.strip())
    else:
        feedback = sample.text
    huddle = sample.huddle
    task = sample.task or (f"{huddle.title}. {huddle.prompt} {huddle.goal}" if huddle else "")
    rubric = tuple(sample.criteria) or tuple(
        f"{c.name}: {c.description}" for c in (huddle.rubric if huddle else [])
    )
    return FeedbackItem(
        feedback=feedback, work=sample.solution, task=task, rubric=rubric, reference=sample.answer
    )


def _key(item: FeedbackItem) -> str:
    blob = json.dumps(item.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


class ScorerModels:
    """Fitted dimension models for one embedding model, with a feature cache."""

    def __init__(
        self,
        models: Mapping[str, DimensionModel],
        *,
        embedder: str,
        source: str,
        feature_names: Sequence[str],
    ) -> None:
        self.models = dict(models)
        self.embedder = embedder
        self.source = source
        self.feature_names = list(feature_names)
        # what the weights said of a few training items when fitted (see scorer_fit)
        self.fingerprint: dict[str, Any] | None = None
        self._cache: dict[str, NDArray[np.float64]] = {}

    # -- persistence ---------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "feature_version": FEATURE_VERSION,
            "embedder": self.embedder,
            "feature_names": self.feature_names,
            "models": {k: m.to_json() for k, m in self.models.items()},
            "fingerprint": self.fingerprint,
        }

    def save(self, path: Path) -> None:
        """Write the weights to ``path`` atomically (a crash leaves the old file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ScorerModels:
        """Weights saved by :meth:`save`; a clear error for a missing or foreign file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read scorer weights {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}: scorer weights are not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigurationError(f"{path}: not a huddle-ai scorer weights file")
        if data.get("feature_version") != FEATURE_VERSION:
            raise ConfigurationError(
                f"{path}: weights for features {data.get('feature_version')!r}, this version "
                f"computes {FEATURE_VERSION!r}: refit them (huddle-ai eval calibrate)"
            )
        names = list(data["feature_names"])
        models = {
            k: DimensionModel.from_json(m, len(names)) for k, m in dict(data["models"]).items()
        }
        unknown = sorted(set(models) - set(DIMENSIONS))
        if unknown:
            raise ConfigurationError(f"{path}: unknown dimensions {unknown}")
        out = cls(models, embedder=str(data["embedder"]), source=str(path), feature_names=names)
        out.fingerprint = data.get("fingerprint")
        return out

    def merged(self, other: ScorerModels) -> ScorerModels:
        """These models with ``other``'s dimensions in place of the same ones."""
        if model_key(other.embedder) != model_key(self.embedder):
            raise ConfigurationError(
                f"{other.source} was fitted with {other.embedder}, not {self.embedder}"
            )
        out = ScorerModels(
            {**self.models, **other.models},
            embedder=self.embedder,
            source=f"{self.source} + {other.source}",
            feature_names=self.feature_names,
        )
        return out

    # -- scoring ---------------------------------------------------------------

    def check_embedder(self, embedder: Embedder | None) -> str | None:
        """Why ``embedder`` cannot feed these weights, or None when it can."""
        if embedder is None:
            return f"needs the embedding model ({self.embedder})"
        if model_key(embedder.id) != model_key(self.embedder):
            return f"fitted with {self.embedder}, not {embedder.id}"
        return None

    def features(self, items: Sequence[FeedbackItem], embedder: Embedder) -> NDArray[np.float64]:
        """Feature rows for ``items``; computed once per distinct item (batched)."""
        keys = [_key(i) for i in items]
        todo = {k: i for k, i in zip(keys, items, strict=True) if k not in self._cache}
        if todo:
            feats = featurize(list(todo.values()), embedder)
            if feats.names != self.feature_names:
                raise ConfigurationError("scorer weights do not match the computed features")
            for k, row in zip(todo, feats.values, strict=True):
                self._cache[k] = row
        return np.array([self._cache[k] for k in keys]).reshape(len(items), -1)

    def probabilities(
        self, dimension: str, items: Sequence[FeedbackItem], embedder: Embedder
    ) -> NDArray[np.float64]:
        return self.models[dimension].probability(self.features(items, embedder))

    def prime(self, samples: Iterable[Sample], embedder: Embedder | None) -> None:
        """Compute the features of many samples in one batch (before scoring each)."""
        if self.check_embedder(embedder) is None and embedder is not None:
            self.features([item_of(s) for s in samples], embedder)

    def score(self, dimension: str, sample: Sample, embedder: Embedder | None) -> Score:
        """The calibrated probability that people would label ``sample`` *yes*."""
        problem = self.check_embedder(embedder)
        if problem is not None or embedder is None:
            return Score.na(problem or "needs the embedding model")
        if not sample.text.strip() and sample.output is None:
            return Score.na("no feedback text")
        p = float(self.probabilities(dimension, [item_of(sample)], embedder)[0])
        model = self.models[dimension]
        return Score(p, f"P({dimension}) = {p:.2f} (learned; {model.trained_on})")
