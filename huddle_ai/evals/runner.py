"""Run a suite: cases × variants (generator × prompt version) × repeats -> scores.

The runner ingests the suite's data into its organization, builds each
case's context once, asks every variant for a suggestion (or takes it from the
cache), scores it with the suite's scorers, and aggregates per variant: the
mean over cases of each metric, with its spread (standard deviation) across
repeats, plus accuracy, macro-F1 and Cohen's κ of the overall assessment.
Labeled feedback in the suite measures how well each scorer (and the judge)
agrees with people: ROC AUC, and κ at a 0.5 cut.

A *leave-one-huddle-out* run measures how feedback generalizes to a huddle
with no labels: for each huddle H of the suite, H's cases run against a
separate organization (``<org>-loho-<i>``) holding every record of the suite
except the feedback on H's solutions.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from huddle_ai.engine import HuddleAI
from huddle_ai.evals.cache import Cache, cache_key
from huddle_ai.evals.judge import Judge
from huddle_ai.evals.sample import Sample
from huddle_ai.evals.scorers import SCORERS, Score, ScorerInfo
from huddle_ai.evals.stats import accuracy, auc, cohen_kappa, macro_f1, mean_std
from huddle_ai.evals.suite import Case, Suite
from huddle_ai.evals.variants import GeneratorFactory, Variant, parse_variants
from huddle_ai.records import AnyRecord, Feedback, Level, Solution, validate_org
from huddle_ai.suggest.context import FeedbackContext, build_context
from huddle_ai.suggest.feedback import generate_checked, learner_names
from huddle_ai.suggest.retrieval import feedback_for
from huddle_ai.suggest.suggestion import FeedbackSuggestion

__all__ = ["RunResult", "loho_org", "run_suite"]

RunResult = dict[str, Any]
Progress = Callable[[str], None]


def _secrets(prompts: Sequence[str]) -> list[str]:
    """System prompts that no output may reveal."""
    from huddle_ai.errors import PromptError
    from huddle_ai.suggest.prompts import load_prompt

    out = []
    for version in prompts:
        try:
            out.append(load_prompt("feedback", version).system)
        except PromptError:
            continue
    return out


def _refs(case: Case, secrets: list[str]) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "expected_assessment": case.expected_assessment,
        "expected_rubric": case.expected_rubric,
        "forbidden": case.forbidden,
        "forced_assessment": case.forced_assessment,
        "pii": case.pii,
        "secrets": secrets,
    }


def _sample(out: dict[str, Any], ctx: FeedbackContext, case: Case, secrets: list[str]) -> Sample:
    if out.get("suggestion") is not None:
        sug = FeedbackSuggestion.model_validate(out["suggestion"])
        return Sample.from_output(sug, ctx, **_refs(case, secrets))
    return Sample(
        text="",
        schema_error=out.get("error") or "no output",
        solution=ctx.solution_text,
        huddle=ctx.huddle,
        context=list(ctx.items),
        **_refs(case, secrets),
    )


def _score(
    sample: Sample, names: Sequence[str], hai: HuddleAI, scorers: Mapping[str, ScorerInfo]
) -> dict[str, Score]:
    return {n: scorers[n].fn(sample, embedder=hai.embedder) for n in names}


def _as_json(scores: dict[str, Score]) -> dict[str, dict[str, Any]]:
    return {
        k: {"value": None if math.isnan(s.value) else s.value, "explanation": s.explanation}
        for k, s in scores.items()
    }


def _context(hai: HuddleAI, suite: Suite, case: Case, org: str) -> FeedbackContext:
    return build_context(
        hai.store,
        hai.embedder,
        org,
        solution_id=case.solution_id,
        text=case.text,
        huddle_id=case.huddle_id,
        k=suite.context.get("k", 5),
        token_budget=suite.context.get("token_budget", 1800),
        cache=hai.context_cache,
    )


def _generate(
    gen: Any, ctx: FeedbackContext, names: list[str], key: str, cache: Cache | None
) -> dict[str, Any]:
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return {**hit, "cached": True}
    try:
        sug = generate_checked(ctx, gen, None, private_names=names)
        out: dict[str, Any] = {"suggestion": sug.model_dump(mode="json"), "error": None}
    except Exception as exc:  # a failing cell is a result, not a crash of the run
        out = {"suggestion": None, "error": f"{type(exc).__name__}: {exc}"}
    if cache is not None:
        cache.put(key, out)
    return {**out, "cached": False}


def _aggregate(
    cells: list[dict[str, Any]], variant: str, repeat: int, metrics: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Per metric: mean over cases within each repeat, then mean and spread across repeats."""
    out: dict[str, dict[str, float | int | None]] = {}
    per_repeat: dict[str, list[float]] = {m: [] for m in metrics}
    agree: dict[str, list[float]] = {a: [] for a in ("accuracy", "macro_f1", "kappa")}
    counts: dict[str, int] = {}
    for r in range(repeat):
        rows = [c["outputs"][variant][r] for c in cells]
        for m in metrics:
            vals = [row["scores"][m]["value"] for row in rows if m in row["scores"]]
            vals = [v for v in vals if v is not None]
            counts[m] = len(vals)
            per_repeat[m].append(sum(vals) / len(vals) if vals else math.nan)
        pairs = [
            (c["expected_assessment"], row.get("assessment") or "none")
            for c, row in zip(cells, rows, strict=True)
            if c["expected_assessment"]
        ]
        if pairs:
            truth, pred = [p[0] for p in pairs], [p[1] for p in pairs]
            agree["accuracy"].append(accuracy(truth, pred))
            agree["macro_f1"].append(macro_f1(truth, pred))
            agree["kappa"].append(cohen_kappa(truth, pred))
            counts["assessment"] = len(pairs)
    for m, vals in per_repeat.items():
        mean, spread = mean_std(vals)
        if not math.isnan(mean):
            out[m] = {"mean": mean, "spread": spread, "n": counts[m]}
    for a, vals in agree.items():
        if vals:
            mean, spread = mean_std(vals)
            out[f"assessment_{a}"] = {"mean": mean, "spread": spread, "n": counts["assessment"]}
    return out


def _agreement(
    suite: Suite,
    contexts: dict[str, FeedbackContext],
    hai: HuddleAI,
    judge: Judge | None,
    secrets: list[str],
    scorers: Mapping[str, ScorerInfo] = SCORERS,
) -> dict[str, dict[str, float | int | None]]:
    """How each scorer (and the judge) agrees with the suite's human labels."""
    if not suite.labeled:
        return {}
    pairs: dict[str, tuple[list[float], list[float]]] = {}
    for lab in suite.labeled:
        case, ctx = suite.case(lab.case), contexts[lab.case]
        record = {"feedback": lab.feedback, "labels": lab.labels}
        sample = Sample.from_record(record, where=f"labeled {lab.id!r}")
        sample = sample.model_copy(
            update={
                "solution": ctx.solution_text,
                "huddle": ctx.huddle,
                "context": list(ctx.items),
                **_refs(case, secrets),
            }
        )
        graded = judge.grade(sample) if judge is not None else {}
        for name, label in sample.labels.items():
            if name in scorers:
                s = scorers[name].fn(sample, embedder=hai.embedder)
                if s.applicable:
                    pairs.setdefault(name, ([], []))[0].append(label)
                    pairs[name][1].append(s.value)
            jname = f"judge_{name}"
            if jname in graded and graded[jname].applicable:
                pairs.setdefault(jname, ([], []))[0].append(label)
                pairs[jname][1].append(graded[jname].value)
    out: dict[str, dict[str, float | int | None]] = {}
    for name, (labels, scores) in sorted(pairs.items()):
        binary = all(v in (0.0, 1.0) for v in labels)
        a = auc(labels, scores)
        k = cohen_kappa([v >= 0.5 for v in labels], [s >= 0.5 for s in scores]) if binary else None
        out[name] = {
            "n": len(labels),
            "auc": None if math.isnan(a) else a,
            "kappa": k,
        }
    return out


def _judge_validity() -> dict[str, Any]:
    return {
        "kind": "judge",
        "validity": "LLM judge: not validated here (its agreement depends on the model; "
        "measure it with eval score --judge on labelled data)",
        "validation": None,
    }


def loho_org(org: str, index: int) -> str:
    """The organization that holds out the ``index``-th huddle of a suite ingested as ``org``."""
    suffix = f"-loho-{index}"
    return validate_org(org[: 40 - len(suffix)].rstrip("-_") + suffix)


def _case_huddle(suite: Suite, case: Case) -> str:
    if case.solution_id is not None:
        sol = suite.solution(case.solution_id)
        assert sol is not None  # load_suite checked it
        return sol.huddle_id
    assert case.huddle_id is not None
    return case.huddle_id


def _without_labels(records: Sequence[AnyRecord], solution_ids: set[str]) -> list[AnyRecord]:
    return [r for r in records if not (isinstance(r, Feedback) and r.solution_id in solution_ids)]


def _ingest_loho(hai: HuddleAI, suite: Suite, huddle_id: str, org: str) -> None:
    """Every record of the suite into ``org`` except the feedback on ``huddle_id``'s solutions."""
    held = {r.id for r in suite.records if isinstance(r, Solution) and r.huddle_id == huddle_id}
    hai.ingest(org, _without_labels(suite.records, held))
    # feedback left from an earlier version of the suite must not leak its labels either
    stale = [f.id for fbs in feedback_for(hai.store, org, sorted(held)).values() for f in fbs]
    if stale:
        hai.store.delete(org, "feedback", stale)


def _orgs(hai: HuddleAI, suite: Suite, leave_one_huddle_out: bool) -> dict[str, str]:
    """Ingest the suite; the organization each case runs against, by case id."""
    if not leave_one_huddle_out:
        hai.ingest(suite.org_id, suite.records)
        return {c.id: suite.org_id for c in suite.cases}
    huddles = {c.id: _case_huddle(suite, c) for c in suite.cases}
    held_out = {h: loho_org(suite.org_id, i) for i, h in enumerate(dict.fromkeys(huddles.values()))}
    for huddle_id, org in held_out.items():
        _ingest_loho(hai, suite, huddle_id, org)
    return {cid: held_out[h] for cid, h in huddles.items()}


def run_suite(
    suite: Suite,
    hai: HuddleAI,
    make_generator: GeneratorFactory,
    *,
    variants: Sequence[Variant] | None = None,
    repeat: int | None = None,
    cache: Cache | None = None,
    judge: Judge | None = None,
    progress: Progress | None = None,
    leave_one_huddle_out: bool = False,
    scorers: Mapping[str, ScorerInfo] | None = None,
) -> RunResult:
    """Run every case on every variant ``repeat`` times and score the outputs.

    ``scorers`` is the registry to score with (:func:`~huddle_ai.evals.scorers.scorer_registry`
    binds the learned scorers to their weights); by default the learned ones are unbound.

    With ``leave_one_huddle_out``, each huddle's cases see none of that huddle's
    feedback (see the module docstring); metrics aggregate over all cases as usual.
    """
    started = time.perf_counter()
    variants = list(variants or parse_variants(suite.generators, suite.prompts))
    repeat = repeat or suite.repeat
    registry = dict(scorers) if scorers is not None else dict(SCORERS)
    names = list(suite.scorers or registry)
    secrets = _secrets([v.prompt for v in variants if v.prompt] or suite.prompts)
    orgs = _orgs(hai, suite, leave_one_huddle_out)
    learners = {org: learner_names(hai.store, org) for org in dict.fromkeys(orgs.values())}
    gens = {v.label: make_generator(v) for v in variants}
    contexts: dict[str, FeedbackContext] = {}
    cells: list[dict[str, Any]] = []
    for i, case in enumerate(suite.cases, start=1):
        if progress is not None:
            progress(f"case {i}/{len(suite.cases)}: {case.id}")
        org = orgs[case.id]
        ctx = contexts[case.id] = _context(hai, suite, case, org)
        private = [n for lid, n in learners[org].items() if lid != ctx.learner_id]
        cell: dict[str, Any] = {
            "id": case.id,
            "tags": case.tags,
            "huddle_id": ctx.huddle.id,
            "org": org,
            "solution_id": case.solution_id,
            "solution": ctx.solution_text,
            "context": [{"id": it.id, "kind": it.kind, "text": it.text} for it in ctx.items],
            "reference": case.reference,
            "expected_assessment": case.expected_assessment.value
            if case.expected_assessment
            else None,
            "expected_rubric": {k: v.value for k, v in (case.expected_rubric or {}).items()},
            "outputs": {},
        }
        for label, gen in gens.items():
            rows = []
            for r in range(repeat):
                out = _generate(gen, ctx, private, cache_key(gen, ctx, private, r), cache)
                sample = _sample(out, ctx, case, secrets)
                scores = _score(sample, names, hai, registry)
                if judge is not None and out.get("suggestion") is not None:
                    scores.update(judge.grade(sample))
                sug = out.get("suggestion") or {}
                rows.append(
                    {
                        "repeat": r,
                        "cached": out["cached"],
                        "error": out.get("error"),
                        "assessment": sug.get("assessment"),
                        "suggestion": out.get("suggestion"),
                        "scores": _as_json(scores),
                    }
                )
            cell["outputs"][label] = rows
        cells.append(cell)
    metric_names = list(names)
    if judge is not None:
        metric_names += [n for n in judge.metric_names if n not in metric_names]
    metrics = {v.label: _aggregate(cells, v.label, repeat, metric_names) for v in variants}
    if suite.price_per_1k_tokens:
        for m in metrics.values():
            if "tokens" in m and m["tokens"]["mean"] is not None:
                cost = float(m["tokens"]["mean"] or 0) * suite.price_per_1k_tokens / 1000
                m["cost_per_case"] = {"mean": cost, "spread": 0.0, "n": m["tokens"]["n"]}
    now = datetime.now(UTC)
    mode = "-loho" if leave_one_huddle_out else ""
    return {
        "run_id": f"{now:%Y%m%d-%H%M%S}-{suite.name}{mode}-{uuid.uuid4().hex[:6]}",
        "created_at": now.isoformat(timespec="seconds"),
        "suite": suite.name,
        "suite_path": str(suite.path) if suite.path else None,
        "org": suite.org_id,
        "leave_one_huddle_out": leave_one_huddle_out,
        "orgs": sorted(set(orgs.values())),
        "variants": [v.label for v in variants],
        "repeat": repeat,
        "scorers": names,
        "directions": {n: registry[n].higher_is_better for n in names},
        "validity": {n: registry[n].describe() for n in names}
        | ({n: _judge_validity() for n in judge.metric_names} if judge is not None else {}),
        "thresholds": suite.new_huddle_thresholds
        if leave_one_huddle_out and suite.new_huddle_thresholds is not None
        else suite.thresholds,
        "beats": suite.beats,
        "regression": suite.regression,
        "metrics": metrics,
        "agreement": _agreement(suite, contexts, hai, judge, secrets, registry),
        "cases": cells,
        "cache": {"hits": cache.hits, "misses": cache.misses} if cache else None,
        "judge": judge.describe() if judge is not None else None,
        "duration_s": round(time.perf_counter() - started, 2),
    }


def level_counts(cells: list[dict[str, Any]], variant: str) -> dict[str, int]:
    """How often each overall level was given (for reports)."""
    counts = {lvl.value: 0 for lvl in Level}
    for c in cells:
        for row in c["outputs"][variant]:
            if row["assessment"] in counts:
                counts[row["assessment"]] += 1
    return counts
