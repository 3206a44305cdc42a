"""How well the scorers agree with people on labels they were not fitted on.

``python -m huddle_ai.evals.validity`` scores the held-out split
(``evals/scorer_set/heldout.jsonl``, written by a person who never saw the
fitting files or the code; absent until that split is added) with the
packaged learned scorers, the old keyword scorers and a trivial baseline,
and prints AUC and Cohen's κ per dimension with 95% bootstrap intervals
that resample whole works (items about the same task and work are not
independent). The baseline is a logistic regression on the feedback's
length alone, fitted on the fitting splits (``train.jsonl`` and
``dev*.jsonl``: :data:`~huddle_ai.evals.scorer_fit.FIT_SPLITS`). ``--record``
stores the learned scorers' figures in the packaged weights, so that every
report names them; nothing is fitted or chosen on the held-out split. It
only ever measures ``heldout.jsonl``: the fitting splits are refused as a
held-out file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from huddle_ai.errors import HuddleAIError, InvalidInputError
from huddle_ai.evals.agreement import Validation, measure
from huddle_ai.evals.labelled import DIMENSIONS, LabelledItem, load_labelled
from huddle_ai.evals.learned import ScorerModels, packaged_path
from huddle_ai.evals.sample import Sample
from huddle_ai.evals.scorer_fit import fit_splits, groups_of, repo_scorer_set
from huddle_ai.evals.scorers import SCORERS
from huddle_ai.evals.text import words
from huddle_ai.index.embeddings import Embedder

__all__ = ["KEYWORD_COUNTERPARTS", "check_heldout", "evaluate", "render_markdown", "sample_of"]

# the keyword heuristic each learned dimension replaces
KEYWORD_COUNTERPARTS = {
    "actionable": "actionability",
    "specific": "specificity",
    "respectful": "tone_balance",
}


def sample_of(item: LabelledItem) -> Sample:
    """A labelled item as the sample every scorer reads."""
    return Sample(
        text=item.feedback,
        solution=item.work,
        task=item.task,
        criteria=list(item.rubric),
        answer=item.reference,
    )


def _length(items: Sequence[LabelledItem]) -> np.ndarray:
    return np.array([[math.log1p(len(words(i.feedback)))] for i in items])


def evaluate(
    models: ScorerModels,
    heldout: Sequence[LabelledItem],
    embedder: Embedder,
    *,
    train: Sequence[LabelledItem],
    who: str,
    boot: int = 1000,
) -> dict[str, dict[str, Validation | None]]:
    """Per dimension: the learned scorer, its keyword counterpart and the length baseline."""
    from sklearn.linear_model import LogisticRegression

    samples = [sample_of(i) for i in heldout]
    models.prime(samples, embedder)
    all_groups = groups_of(heldout)
    out: dict[str, dict[str, Validation | None]] = {}
    for dim in DIMENSIONS:
        rows = [k for k, i in enumerate(heldout) if dim in i.labels]
        labels = [heldout[k].labels[dim] for k in rows]
        groups = [all_groups[k] for k in rows]
        learned = [models.score(dim, samples[k], embedder).value for k in rows]
        method = "held-out split"
        entry: dict[str, Validation | None] = {
            "learned": measure(labels, learned, who=who, method=method, boot=boot, groups=groups)
        }
        keyword = KEYWORD_COUNTERPARTS.get(dim)
        if keyword is not None:
            pairs = [
                (lab, SCORERS[keyword].fn(samples[k])) for lab, k in zip(labels, rows, strict=True)
            ]
            ok = [
                (lab, s.value, g) for (lab, s), g in zip(pairs, groups, strict=True) if s.applicable
            ]
            entry[keyword] = measure(
                [o[0] for o in ok],
                [o[1] for o in ok],
                who=who,
                method=method,
                boot=boot,
                groups=[o[2] for o in ok],
            )
        tr = [i for i in train if dim in i.labels]
        base = LogisticRegression().fit(_length(tr), [i.labels[dim] for i in tr])
        p = base.predict_proba(_length([heldout[k] for k in rows]))[:, 1]
        entry["length"] = measure(labels, list(p), who=who, method=method, boot=boot, groups=groups)
        out[dim] = entry
    return out


def _cell(v: Validation | None, key: str) -> str:
    if v is None:
        return "–"
    value = v.auc if key == "auc" else v.kappa
    ci = v.auc_ci if key == "auc" else v.kappa_ci
    if value is None:
        return "–"
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def render_markdown(results: dict[str, dict[str, Validation | None]]) -> str:
    lines = [
        "| dimension | n | positive | learned AUC | learned κ | keyword scorer AUC (κ) "
        "| length baseline AUC (κ) |",
        "|---|---|---|---|---|---|---|",
    ]
    for dim, entry in results.items():
        learned = entry["learned"]
        assert learned is not None
        keyword = next((k for k in entry if k not in ("learned", "length")), None)
        kw = (
            f"{keyword}: {_cell(entry[keyword], 'auc')} ({_cell(entry[keyword], 'kappa')})"
            if keyword
            else "none"
        )
        lines.append(
            f"| {dim} | {learned.n} | {learned.positive_rate:.0%} | {_cell(learned, 'auc')} | "
            f"{_cell(learned, 'kappa')} | {kw} | "
            f"{_cell(entry['length'], 'auc')} ({_cell(entry['length'], 'kappa')}) |"
        )
    return "\n".join(lines) + "\n"


def check_heldout(path: Path, fitting: Sequence[Path]) -> Path:
    """``path`` when it is a held-out file that exists and is not a fitting split."""
    if not path.exists():
        raise InvalidInputError(
            f"no held-out split at {path}: validity measures only labels never fitted on "
            "(train.jsonl and dev*.jsonl are fitting data)"
        )
    if any(path.resolve() == f.resolve() for f in fitting if f.exists()):
        raise InvalidInputError(f"{path} is a fitting split, not held out")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m huddle_ai.evals.validity",
        description="Agreement of the packaged scorers with the held-out labels.",
    )
    parser.add_argument("--heldout", type=Path, default=repo_scorer_set() / "heldout.jsonl")
    parser.add_argument(
        "--train",
        type=Path,
        nargs="+",
        default=fit_splits(),
        help="The fitting splits (for the length baseline).",
    )
    parser.add_argument("--weights", type=Path, default=packaged_path())
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument(
        "--record", action="store_true", help="Store the figures in the weights file."
    )
    args = parser.parse_args(argv)
    from huddle_ai.index.embeddings import SentenceTransformerEmbedder

    try:
        heldout_path = check_heldout(args.heldout, args.train)
        models = ScorerModels.load(args.weights)
        heldout = load_labelled(heldout_path)
        train = [i for path in args.train for i in load_labelled(path)]
        who = f"huddle_ai scorer_set/heldout (n={len(heldout)}, an independent writer)"
        results = evaluate(models, heldout, SentenceTransformerEmbedder(), train=train, who=who)
    except HuddleAIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render_markdown(results))
    if args.json is not None:
        data: dict[str, Any] = {
            d: {k: v.row() if v else None for k, v in e.items()} for d, e in results.items()
        }
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if args.record:
        from dataclasses import replace

        for dim, entry in results.items():
            if dim in models.models:
                models.models[dim] = replace(models.models[dim], validation=entry["learned"])
        models.save(args.weights)
        print(f"recorded the held-out figures in {args.weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
