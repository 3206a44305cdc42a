"""Calibrated level models: how an organization's facilitators judge, learned from its history.

Each solution is described by a few features that mean the same thing in any
huddle (how close it is to the huddle's goal, to each criterion's own text, to
the answer key of a knowledge check and to the level-labelled anchors, how much
of their wording it uses, how long it is) and, inside a huddle with labelled
history, by the vote of its most similar labelled neighbours.

:func:`fit_huddle` fits a model on one huddle's own labelled history: it
chooses, by cross-validated accuracy, between the history's most common level,
the neighbour vote, a logistic regression on the features and one on features
plus vote (ties go to the simpler model, so it is never worse than the most
common level on the history it was checked on). :func:`fit_transfer` does the
same across the organization's *other* huddles, cross-validated by leaving one
huddle out, for a huddle that has no history of its own.

Probabilities are temperature-scaled on the cross-validated predictions, so the
reported ``confidence`` is calibrated on held-out predictions. A review
threshold is chosen from the same predictions: the lowest confidence at which
the predictions above it reach ``target_accuracy``; below it a draft is marked
``needs_review`` and the expected accuracy at that coverage is reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from huddle_ai.records import Huddle, Level
from huddle_ai.suggest.assessment import Thresholds, content_words, fit_thresholds, key_points

__all__ = [
    "Blend",
    "FeatureSpace",
    "LevelModel",
    "Prediction",
    "Voter",
    "blend",
    "fit_huddle",
    "fit_transfer",
    "neighbour_voter",
    "review_threshold",
    "top_level",
    "vote_distribution",
    "vote_rows",
]

LEVELS: tuple[Level, ...] = (Level.NOT_MET, Level.PARTIAL, Level.MET)
OVERALL = "__overall__"
Embed = Callable[[Sequence[str]], NDArray[np.float32]]
Array = NDArray[np.float64]
Voter = Callable[[NDArray[np.intp], NDArray[np.intp]], Array]


def _recall(words: set[str], target: set[str]) -> float:
    return len(words & target) / len(target) if target else 0.0


class FeatureSpace:
    """Features of solutions against one huddle (the same meaning in every huddle)."""

    def __init__(self, huddle: Huddle, embed: Embed) -> None:
        self.huddle = huddle
        texts = [f"{huddle.title}. {huddle.prompt} {huddle.goal}"]
        texts += [c.own_text() for c in huddle.rubric]
        self._anchor_rows: list[list[tuple[int, Level]]] = []
        for c in huddle.rubric:
            rows = []
            for text, level in c.anchor_texts():
                rows.append((len(texts), level))
                texts.append(text)
            self._anchor_rows.append(rows)
        key = huddle.answer_key
        self._key_rows: list[int] = []
        if key is not None:
            for p in key.points():
                self._key_rows.append(len(texts))
                texts.append(p)
        vecs = embed(texts).astype(np.float64)
        self._vecs = vecs
        self._own_words = [content_words(c.own_text()) for c in huddle.rubric]
        # the wording of what met work looked like elsewhere, clause by clause
        self._met_clauses = [
            [
                content_words(k)
                for t, lv in c.anchor_texts()
                if lv == Level.MET
                for k in key_points(t)
            ]
            for c in huddle.rubric
        ]
        self._key_words = [content_words(p) for p in key.points()] if key is not None else []
        self._ref_words = content_words(" ".join(key.points())) if key is not None else set()

    def _criterion(self, ci: int, sims: Array, words: set[str]) -> list[float]:
        met = [sims[r] for r, lv in self._anchor_rows[ci] if lv == Level.MET]
        low = [sims[r] for r, lv in self._anchor_rows[ci] if lv != Level.MET]
        clauses = [_recall(words, cw) for cw in self._met_clauses[ci] if cw]
        return [
            float(sims[1 + ci]),
            _recall(words, self._own_words[ci]),
            float(max(met)) if met else 0.0,
            float(max(low)) if low else 0.0,
            float(np.mean(clauses)) if clauses else 0.0,
        ]

    def features(self, texts: Sequence[str], vectors: NDArray[np.float32]) -> dict[str, Array]:
        """Per target (``OVERALL`` and each criterion id): one feature row per text."""
        sims_all = np.asarray(vectors, np.float64) @ self._vecs.T
        rows: dict[str, list[list[float]]] = {OVERALL: []}
        for c in self.huddle.rubric:
            rows[c.id] = []
        for text, sims in zip(texts, sims_all, strict=True):
            words = content_words(text)
            common = [math.log1p(len(text.split())) / 5.0, float(sims[0])]
            if self._key_rows:
                ks = [float(sims[r]) for r in self._key_rows]
                recalls = [_recall(words, kw) for kw in self._key_words]
                common += [
                    float(np.mean(ks)),
                    float(max(ks)),
                    _recall(words, self._ref_words),
                    float(np.mean([r >= 0.5 for r in recalls])),
                ]
            else:
                common += [0.0, 0.0, 0.0, 0.0]
            per = [self._criterion(ci, sims, words) for ci in range(len(self.huddle.rubric))]
            mean = np.mean(per, axis=0).tolist() if per else [0.0] * 5
            rows[OVERALL].append(common + mean)
            for c, f in zip(self.huddle.rubric, per, strict=True):
                rows[c.id].append(common + f)
        return {k: np.asarray(v, np.float64).reshape(len(texts), -1) for k, v in rows.items()}


def vote_rows(
    sims: Array, labels: Sequence[int], weights: Sequence[float], k: int = 7, t: float = 0.2
) -> Array:
    """Per row of ``sims`` (queries x labelled pool; ``-inf`` marks a row's excluded
    entries), the similarity-weighted level distribution of its ``k`` nearest."""
    sims = np.atleast_2d(np.asarray(sims, np.float64))
    out = np.full((sims.shape[0], 3), 1e-3)
    pool = sims.shape[1]
    if pool == 0:
        return np.asarray(out / out.sum(axis=1, keepdims=True), np.float64)
    lab = np.asarray(labels)
    wts = np.asarray(weights, np.float64)
    top = min(k, pool)
    if top < pool:
        idx = np.argpartition(-sims, top - 1, axis=1)[:, :top]
    else:
        idx = np.tile(np.arange(pool), (sims.shape[0], 1))
    got = np.take_along_axis(sims, idx, axis=1)
    finite = np.isfinite(got)
    best = np.where(finite, got, -np.inf).max(axis=1, keepdims=True)
    best = np.where(np.isfinite(best), best, 0.0)
    gap = np.minimum(np.where(finite, got, 0.0) - best, 0.0)
    weight = np.where(finite, np.exp(gap / t), 0.0) * wts[idx]
    for level in range(3):
        out[:, level] += (weight * (lab[idx] == level)).sum(axis=1)
    return np.asarray(out / out.sum(axis=1, keepdims=True), np.float64)


def vote_distribution(
    sims: Array, labels: Sequence[int], weights: Sequence[float], k: int = 7, t: float = 0.2
) -> Array:
    """Similarity-weighted level distribution of the ``k`` most similar labelled solutions."""
    rows = vote_rows(np.asarray(sims, np.float64)[None, :], labels, weights, k, t)
    return np.asarray(rows[0], np.float64)


def neighbour_voter(sims: Array, labels: Sequence[int], weights: Sequence[float], k: int) -> Voter:
    """A :data:`Voter` over labelled rows with similarities ``sims`` (n x n): each query
    row votes with the ``pool`` rows, never with itself."""
    lab = np.asarray(labels)
    wts = np.asarray(weights, np.float64)

    def vote(pool: NDArray[np.intp], queries: NDArray[np.intp]) -> Array:
        sub = sims[np.ix_(queries, pool)].copy()
        sub[queries[:, None] == pool[None, :]] = -np.inf
        return vote_rows(sub, list(lab[pool]), list(wts[pool]), k)

    return vote


@dataclass(frozen=True)
class Prediction:
    level: Level
    confidence: float
    probabilities: dict[Level, float]


@dataclass
class LevelModel:
    """A fitted level model and what its cross-validation says about it."""

    kind: str  # majority | vote | vote-ordinal | features | features+vote
    prior: Array
    temperature: float
    threshold: float
    cv_accuracy: float
    majority_accuracy: float
    expected_accuracy: float
    coverage: float
    n: int
    scaler: tuple[Array, Array] | None = None
    coef: tuple[Array, Array, list[int]] | None = None  # (weights, intercepts, classes)
    cuts: Thresholds | None = None  # the vote-ordinal model's two cuts
    # its tempered out-of-fold probabilities on the history it was fitted on (row order)
    oof: Array | None = None

    def _lr(self, x: Array) -> Array:
        assert self.scaler is not None and self.coef is not None
        mu, sd = self.scaler
        w, b, classes = self.coef
        z = ((x - mu) / sd) @ w.T + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        out = np.full((len(x), 3), 1e-6)
        for j, c in enumerate(classes):
            out[:, c] += p[:, j]
        return np.asarray(out / out.sum(axis=1, keepdims=True), np.float64)

    def raw(self, x: Array, votes: Array | None) -> Array:
        if self.kind == "majority":
            return np.tile(self.prior, (len(x), 1))
        if self.kind == "vote":
            assert votes is not None
            return votes
        if self.kind == "vote-ordinal":
            assert votes is not None and self.cuts is not None
            out = 0.5 * votes
            for row, v in enumerate(votes @ np.array([0.0, 0.5, 1.0])):
                out[row, LEVELS.index(self.cuts.level(float(v)))] += 0.5
            return np.asarray(out, np.float64)
        if self.kind == "features+vote":
            assert votes is not None
            return self._lr(np.hstack([x, votes]))
        return self._lr(x)

    def predict(self, x: Array, votes: Array | None = None) -> list[Prediction]:
        return [_prediction(p) for p in _temper(self.raw(x, votes), self.temperature)]

    def describe(self) -> dict[str, object]:
        return {
            "model": self.kind,
            "n": self.n,
            "cv_accuracy": round(self.cv_accuracy, 4),
            "majority_accuracy": round(self.majority_accuracy, 4),
            "review_threshold": round(self.threshold, 4),
            "expected_accuracy": round(self.expected_accuracy, 4),
            "coverage": round(self.coverage, 4),
        }


def _temper(p: Array, t: float) -> Array:
    q = np.power(np.clip(p, 1e-9, 1.0), 1.0 / t)
    return q / q.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def _fit_lr(
    x: Array, y: Array, w: Array, l2: float = 1.0, iterations: int = 25
) -> tuple[tuple[Array, Array], tuple[Array, Array, list[int]]]:
    """Multinomial logistic regression with an L2 penalty, by Newton's method.

    The problems are tiny (a few hundred rows, a dozen features), where a few
    exact Newton steps are faster and steadier than a general-purpose solver.
    """
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-6] = 1.0
    classes = [int(c) for c in np.unique(y)]
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    n, d = z.shape
    k = len(classes)
    onehot = np.zeros((n, k))
    for j, c in enumerate(classes):
        onehot[y == c, j] = 1.0
    sw = w / w.mean()
    # one weight vector per class, all shrunk alike (no reference class to favour)
    theta = np.zeros((k, d))
    penalty = np.full(d, l2)
    penalty[-1] = 1e-4  # the intercepts are (almost) not shrunk
    for _ in range(iterations):
        logits = z @ theta.T
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = ((p - onehot) * sw[:, None]).T @ z + theta * penalty
        hess = np.zeros((k * d, k * d))
        for a in range(k):
            for b in range(k):
                r = p[:, a] * ((a == b) - p[:, b]) * sw
                hess[a * d : (a + 1) * d, b * d : (b + 1) * d] = (z * r[:, None]).T @ z
        hess += np.diag(np.tile(penalty, k))
        step = np.linalg.solve(hess, grad.reshape(-1)).reshape(k, d)
        theta -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    weights = theta[:, :-1]
    intercepts = theta[:, -1]
    return (mu, sd), (weights, intercepts, classes)


def _prior(y: Array, w: Array) -> Array:
    out = np.full(3, 0.5)
    for yi, wi in zip(y, w, strict=True):
        out[int(yi)] += wi
    return out / out.sum()  # type: ignore[no-any-return]


def _folds(y: Array, groups: Array | None) -> list[NDArray[np.intp]]:
    n = len(y)
    if groups is not None:
        return [np.flatnonzero(groups == g).astype(np.intp) for g in np.unique(groups)]
    if n <= 30:
        return [np.array([i], dtype=np.intp) for i in range(n)]
    order = np.argsort(y, kind="stable").astype(np.intp)  # stratified: classes round-robin
    return [order[i::5] for i in range(5)]


def _weighted_acc(pred: NDArray[np.intp], y: Array, w: Array) -> float:
    return float(np.sum(w * (pred == y)) / np.sum(w))


def _choose(
    x: Array,
    y: Array,
    w: Array,
    voter: Voter | None,
    groups: Array | None,
    target_accuracy: float,
) -> LevelModel:
    n = len(y)
    everyone = np.arange(n, dtype=np.intp)
    folds = _folds(y, groups)
    kinds = ["majority"]
    if voter is not None:
        kinds += ["vote", "vote-ordinal"]
    kinds.append("features")
    if voter is not None:
        kinds.append("features+vote")
    cv: dict[str, Array] = {k: np.zeros((n, 3)) for k in kinds}
    for test in folds:
        train = np.setdiff1d(everyone, test).astype(np.intp)
        if len(train) == 0:
            continue
        prior = _prior(y[train], w[train])
        cv["majority"][test] = prior
        # votes see only the training fold: a test label never leaks into a feature
        v_train = voter(train, train) if voter is not None else None
        v_test = voter(train, test) if voter is not None else None
        if v_train is not None and v_test is not None:
            cv["vote"][test] = v_test
            cv["vote-ordinal"][test] = _ordinal(v_train, y[train], w[train], v_test)
        for k in ("features", "features+vote"):
            if k not in cv:
                continue
            if len(np.unique(y[train])) < 2:
                cv[k][test] = prior
                continue
            xtr, xte = x[train], x[test]
            if k == "features+vote":
                assert v_train is not None and v_test is not None
                xtr, xte = np.hstack([xtr, v_train]), np.hstack([xte, v_test])
            scaler, coef = _fit_lr(xtr, y[train], w[train])
            m = LevelModel(k, prior, 1.0, 0, 0, 0, 0, 0, 0, scaler, coef)
            cv[k][test] = m._lr(xte)
    scores = {k: _weighted_acc(top_level(p), y, w) for k, p in cv.items()}
    top = max(scores.values())
    # the one-standard-error rule: the simplest model within one standard error of the
    # best, so a few lucky held-out hits on a small history do not buy a complex model
    margin = math.sqrt(max(top * (1 - top), 1e-9) / n)
    best = next(k for k in kinds if scores[k] >= top - margin + 1e-9)
    probs = cv[best]
    temperature = min(
        (0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
        key=lambda t: -float(np.sum(w * np.log(_temper(probs, t)[np.arange(n), y.astype(int)]))),
    )
    tempered = _temper(probs, temperature)
    conf = tempered.max(axis=1)
    correct = top_level(tempered) == y
    threshold, expected, coverage = review_threshold(conf, correct, target_accuracy)
    model = LevelModel(
        kind=best,
        prior=_prior(y, w),
        temperature=temperature,
        threshold=threshold,
        cv_accuracy=scores[best],
        majority_accuracy=scores["majority"],
        expected_accuracy=expected,
        coverage=coverage,
        n=n,
        oof=tempered,
    )
    votes = voter(everyone, everyone) if voter is not None else None
    if best == "vote-ordinal":
        assert votes is not None
        model.cuts = _cuts(votes, y, w)
    if best in ("features", "features+vote"):
        xx = x if votes is None or best == "features" else np.hstack([x, votes])
        if len(np.unique(y)) >= 2:
            model.scaler, model.coef = _fit_lr(xx, y, w)
        else:
            model.kind = "majority"
    return model


@dataclass
class Blend:
    """The huddle's own model and the organization's, their probabilities averaged.

    Its review threshold, accuracy and expected accuracy come from held-out
    predictions on the huddle's history: the huddle model's out-of-fold ones and the
    organization model's (fitted on other huddles only), averaged the same way.
    """

    threshold: float
    cv_accuracy: float
    expected_accuracy: float
    coverage: float
    n: int

    @staticmethod
    def combine(a: Prediction, b: Prediction) -> Prediction:
        return _prediction(
            np.array([0.5 * a.probabilities[lv] + 0.5 * b.probabilities[lv] for lv in LEVELS])
        )

    def describe(self) -> dict[str, object]:
        return {
            "model": "huddle+organization",
            "n": self.n,
            "cv_accuracy": round(self.cv_accuracy, 4),
            "review_threshold": round(self.threshold, 4),
            "expected_accuracy": round(self.expected_accuracy, 4),
            "coverage": round(self.coverage, 4),
        }


def blend(
    huddle: LevelModel,
    org_on_history: Array,
    labels: Sequence[int],
    weights: Sequence[float],
    *,
    target_accuracy: float = 0.8,
) -> Blend | None:
    """The averaged model's held-out figures on the huddle's history, if the huddle model
    kept its out-of-fold probabilities (rows in the order it was fitted on)."""
    if huddle.oof is None or huddle.oof.shape != org_on_history.shape:
        return None
    probs = 0.5 * huddle.oof + 0.5 * org_on_history
    y = np.asarray(labels, np.float64)
    w = np.asarray(weights, np.float64)
    top = top_level(probs)
    threshold, expected, coverage = review_threshold(probs.max(axis=1), top == y, target_accuracy)
    return Blend(
        threshold=threshold,
        cv_accuracy=_weighted_acc(top, y, w),
        expected_accuracy=expected,
        coverage=coverage,
        n=len(y),
    )


def _cuts(votes: Array, y: Array, w: Array) -> Thresholds:
    score = votes @ np.array([0.0, 0.5, 1.0])
    return fit_thresholds([float(v) for v in score], [LEVELS[int(v)] for v in y], list(w))


def _ordinal(v_train: Array, y_train: Array, w_train: Array, v_test: Array) -> Array:
    """Levels from the vote's expected score, cut by thresholds fitted on the training fold.

    Labels are ordered, so with few of them one score and two fitted cuts
    generalise better than a free three-way choice.
    """
    cuts = _cuts(v_train, y_train, w_train)
    out = 0.5 * v_test
    for row, v in enumerate(v_test @ np.array([0.0, 0.5, 1.0])):
        out[row, LEVELS.index(cuts.level(float(v)))] += 0.5
    return np.asarray(out, np.float64)


def _prediction(p: Array) -> Prediction:
    """The most probable level of one row of probabilities, with all of them."""
    j = int(top_level(p))
    return Prediction(LEVELS[j], float(p[j]), {lv: float(p[i]) for i, lv in enumerate(LEVELS)})


def top_level(probs: Array) -> NDArray[np.intp]:
    """Index (into ``LEVELS``) of the most probable level, per row.

    Exact ties go to the higher level, as the majority baseline breaks them: with
    no evidence either way, telling a learner their work is wrong is the costlier
    mistake, and the draft is marked for review anyway.
    """
    p = np.asarray(probs, np.float64)
    return np.asarray(p.shape[-1] - 1 - np.argmax(p[..., ::-1], axis=-1), np.intp)


def _cut(
    conf: Array, correct: NDArray[np.bool_], target: float, min_support: int
) -> tuple[int, float] | None:
    """The lowest admissible threshold and how many predictions lie above it: the largest
    ``k >= min_support`` whose top-``k`` accuracy reaches ``target`` and that does not
    split equal confidences (None: no threshold is admissible)."""
    n = len(conf)
    if n == 0:
        return None
    order = np.argsort(-conf, kind="stable")
    ranked = conf[order]
    hits = np.cumsum(correct[order])
    k = np.arange(1, n + 1)
    # a threshold cannot split equal confidences: k must end a run of ties
    ends = np.append(ranked[1:] != ranked[:-1], True)
    ok = (k >= min(min_support, n + 1)) & ends & (hits / k >= target)
    if not ok.any():
        return None
    best = int(k[ok].max())
    return best, float(ranked[best - 1])


def review_threshold(
    conf: Array, correct: NDArray[np.bool_], target: float, min_support: int = 5
) -> tuple[float, float, float]:
    """The lowest confidence above which held-out accuracy reaches ``target``, the
    accuracy to expect above it, and the share of predictions above it.

    At least ``min_support`` held-out predictions must lie above the threshold, so one
    lucky confident guess cannot open the gate. The expected accuracy is *not* the
    accuracy above the threshold on the predictions that chose it: the threshold is the
    best of many candidates on a small history, so that figure is chosen for its luck
    and over-claims on new work. It is cross-validated instead: each fold's
    predictions are judged by the threshold chosen on the other folds, and the
    expected accuracy is the accuracy of those that pass it (the overall accuracy when
    no fold admits a threshold).
    """
    n = len(conf)
    found = _cut(conf, correct, target, min_support)
    if found is None:
        return 1.01, float(np.mean(correct)) if n else 0.0, 0.0
    best_k, threshold = found
    folds = min(n, 10)
    passed: list[bool] = []
    for fold in range(folds):
        test = np.arange(fold, n, folds)
        train = np.setdiff1d(np.arange(n), test)
        cut = _cut(conf[train], correct[train], target, min_support)
        if cut is not None:
            passed += correct[test][conf[test] >= cut[1]].tolist()
    # no fold admits a threshold of its own: the threshold rests on too little to claim
    # more than the history's overall accuracy
    expected = float(np.mean(passed)) if passed else float(np.mean(correct))
    return threshold, expected, best_k / n


def _levels(labels: Sequence[Level]) -> Array:
    return np.asarray([LEVELS.index(lv) for lv in labels], np.float64)


def fit_huddle(
    x: Array,
    labels: Sequence[Level],
    weights: Sequence[float],
    voter: Voter | None,
    *,
    target_accuracy: float = 0.8,
) -> LevelModel:
    """A level model for one target fitted on the huddle's own labelled history.

    ``voter(pool, queries)`` gives each query row the neighbour vote of the
    ``pool`` rows (never its own label); cross-validation calls it per fold.
    """
    y = _levels(labels).astype(int)
    return _choose(x, y, np.asarray(weights, np.float64), voter, None, target_accuracy)


def fit_transfer(
    x: Array,
    labels: Sequence[Level],
    weights: Sequence[float],
    groups: Sequence[str],
    *,
    target_accuracy: float = 0.8,
) -> LevelModel:
    """A level model for a new huddle, fitted on the organization's other huddles.

    Cross-validated by leaving one huddle out when there are two or more.
    """
    y = _levels(labels).astype(int)
    g = np.asarray(groups)
    grouped = g if len(np.unique(g)) >= 2 else None
    return _choose(x, y, np.asarray(weights, np.float64), None, grouped, target_accuracy)
