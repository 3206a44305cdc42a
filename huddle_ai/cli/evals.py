"""``huddle-ai eval``: run suites, show the history, apply one scorer to a file.

Exit codes of ``eval run``: 0 when the gate passes, 1 when a metric is past
its threshold (or regressed against ``--baseline`` with ``--fail-on-regression``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from huddle_ai.cli.app import app
from huddle_ai.cli.common import JsonOpt, engine, print_json, settings
from huddle_ai.engine import HuddleAI
from huddle_ai.errors import InvalidInputError
from huddle_ai.evals.calibrate import calibrated_path, load_scorers
from huddle_ai.evals.learned import ScorerModels
from huddle_ai.evals.scorers import SCORERS, scorer_registry
from huddle_ai.settings import Settings

if TYPE_CHECKING:
    from huddle_ai.evals.judge import Judge

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluate feedback quality: suites, reports, CI gate.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

WeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights", help="Learned scorer weights (from eval calibrate --out); default packaged."
    ),
]
JudgePromptOpt = Annotated[
    str, typer.Option("--judge-prompt", help="Judge prompt version (v2: the five dimensions).")
]
RunsDirOpt = Annotated[
    Path,
    typer.Option(
        "--runs-dir", envvar="HUDDLE_AI_EVAL_RUNS_DIR", help="Where runs and history live."
    ),
]
_DEFAULT_RUNS = Path("eval-runs")


@eval_app.command("run")
def run_cmd(
    suite: Annotated[
        str, typer.Argument(help="Suite file, or a shipped suite name (demo, injection, ...).")
    ],
    generator: Annotated[
        list[str] | None,
        typer.Option(
            "--generator",
            "-g",
            help="grounded | llm | nn_copy | always_met | always_majority (repeatable).",
        ),
    ] = None,
    prompt: Annotated[
        list[str] | None,
        typer.Option("--prompt", "-p", help="Prompt version for llm (repeatable)."),
    ] = None,
    repeat: Annotated[int | None, typer.Option(min=1, max=50, help="Runs per cell.")] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Run id, run folder/run.json, or 'latest' to diff against.")
    ] = None,
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="Exit 1 when a metric regressed.")
    ] = False,
    judge: Annotated[
        bool, typer.Option("--judge", help="Add the LLM judge (HUDDLE_AI_LLM_*).")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Always call the generators.")
    ] = False,
    leave_one_huddle_out: Annotated[
        bool,
        typer.Option(
            "--leave-one-huddle-out",
            help="Run each huddle's cases without any of that huddle's feedback.",
        ),
    ] = False,
    weights: WeightsOpt = None,
    judge_prompt: JudgePromptOpt = "v2",
    runs_dir: RunsDirOpt = _DEFAULT_RUNS,
    as_json: JsonOpt = False,
) -> None:
    """Run SUITE over generators × prompt versions; write JSON, Markdown and HTML reports.

    The learned scorers use the packaged weights, or those the suite's
    organization calibrated (``eval calibrate --org``), or ``--weights``.
    """
    from huddle_ai.evals import (
        Cache,
        apply_gate,
        generator_factory,
        load_run,
        load_suite,
        parse_variants,
        render_html,
        render_markdown,
        run_suite,
        save_run,
    )

    loaded = load_suite(suite)
    variants = parse_variants(generator or loaded.generators, prompt or loaded.prompts)
    # one scratch store per embedder: a run on another backend (``auto`` choosing
    # another one, or a changed setting) never meets an index of the old one
    name = _embedder_name(settings())
    scratch = runs_dir / "store" / _folder(name)
    conf = settings().model_copy(update={"data_dir": scratch, "chroma_url": None})
    base = (
        load_run(runs_dir, baseline, loaded.name, leave_one_huddle_out=leave_one_huddle_out)
        if baseline
        else None
    )
    hai = engine(base=conf) if no_cache else _with_cached_vectors(conf, name, runs_dir / "cache")
    models = _scorer_models(weights, calibrated_path(settings().data_dir, loaded.org_id))
    grader = _judge(judge_prompt) if judge else None
    result = run_suite(
        loaded,
        hai,
        generator_factory(conf, hai.embedder),
        variants=variants,
        repeat=repeat,
        cache=None if no_cache else Cache(runs_dir / "cache"),
        judge=grader,
        progress=None if as_json else lambda m: typer.echo(m, err=True),
        leave_one_huddle_out=leave_one_huddle_out,
        scorers=scorer_registry(models),
    )
    findings = apply_gate(result, base, fail_on_regression=fail_on_regression)
    markdown = render_markdown(result)
    folder = save_run(runs_dir, result, {"report.md": markdown, "report.html": render_html(result)})
    if as_json:
        print_json({k: v for k, v in result.items() if k != "cases"} | {"folder": str(folder)})
    else:
        typer.echo(markdown)
        typer.echo(
            f"Reports: {folder / 'report.html'}  {folder / 'report.md'}  {folder / 'run.json'}"
        )
    for f in findings:
        typer.echo(f"gate: {f}", err=True)
    if findings:
        raise typer.Exit(1)


def _embedder_name(conf: Settings) -> str:
    """The embedder ``conf`` runs on this machine (``auto`` resolved)."""
    backend: str = conf.embedding_backend
    if backend == "auto":
        from huddle_ai.index.backends import CpuProbe, choose_backend

        choice = choose_backend(conf.embedding_model, CpuProbe.read())
        backend = f"{choice.backend}-{choice.precision}" if choice.precision else choice.backend
    return f"{backend}:{conf.embedding_model}"


def _folder(name: str) -> str:
    """A folder name for ``name`` (which may hold a model path)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:48]
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _with_cached_vectors(conf: Settings, name: str, cache: Path) -> HuddleAI:
    """The engine with its embedder behind the run's vector cache: a cached run
    loads the embedding model only for a text it has not embedded before."""
    from huddle_ai.engine import build_embedder
    from huddle_ai.evals.vectors import CachedEmbedder

    return HuddleAI(conf, embedder=CachedEmbedder(name, lambda: build_embedder(conf), cache))


_BARS = "▁▂▃▄▅▆▇█"


def _spark(values: list[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo or 1.0
    return "".join(_BARS[int((v - lo) / span * (len(_BARS) - 1))] for v in values)


@eval_app.command("history")
def history_cmd(
    suite: Annotated[str | None, typer.Option(help="Only this suite.")] = None,
    metric: Annotated[
        list[str] | None, typer.Option(help="Only these metrics (repeatable).")
    ] = None,
    last: Annotated[int, typer.Option(min=1, help="How many recent runs.")] = 20,
    runs_dir: RunsDirOpt = _DEFAULT_RUNS,
    as_json: JsonOpt = False,
) -> None:
    """The trend of each metric per suite and variant over past runs."""
    from huddle_ai.evals import history

    rows = history(runs_dir, suite)[-last:]
    trend: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    for row in rows:
        name = row["suite"] + (" (loho)" if row.get("leave_one_huddle_out") else "")
        for variant, metrics in row["metrics"].items():
            for m, value in metrics.items():
                if value is not None and (not metric or m in metric):
                    trend.setdefault((name, variant, m), []).append((row["run_id"], value))
    if as_json:
        print_json(
            [
                {
                    "suite": s,
                    "variant": v,
                    "metric": m,
                    "runs": [{"run_id": r, "value": x} for r, x in pts],
                }
                for (s, v, m), pts in trend.items()
            ]
        )
        return
    if not rows:
        typer.echo(f"no runs in {runs_dir}")
        return
    typer.echo(f"{len(rows)} run(s), oldest first; last run {rows[-1]['run_id']}")
    for (s, v, m), pts in sorted(trend.items()):
        vals = [x for _, x in pts]
        delta = f"{vals[-1] - vals[-2]:+.3f}" if len(vals) > 1 else ""
        typer.echo(f"{s:<12} {v:<14} {m:<24} {_spark(vals):<{last}} {vals[-1]:10.3f} {delta}")


def _scorer_models(weights: Path | None, calibrated: Path | None) -> ScorerModels:
    """The packaged learned weights, with an organization's calibrated ones (or
    ``--weights``) in place of the dimensions they hold."""
    if weights is not None and not weights.exists():
        raise InvalidInputError(f"--weights {weights}: no such file")
    return load_scorers(calibrated, weights)


def _read_records(file: Path) -> list[dict[str, Any]]:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file}: not UTF-8 text") from None
    records: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{file} line {n}: not valid JSON: {exc.msg}") from None
        if not isinstance(rec, dict):
            raise InvalidInputError(f"{file} line {n}: expected a JSON object")
        rec["_line"] = n
        records.append(rec)
    return records


@eval_app.command("score")
def score_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL of {feedback, solution|work, task, rubric, labels, ...}; '-' for stdin."
        ),
    ],
    scorer: Annotated[list[str], typer.Option("--scorer", "-s", help="Scorer name (repeatable).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write JSONL here (default stdout).")
    ] = None,
    embed: Annotated[
        bool, typer.Option("--embed", help="Use the embedding model where a scorer can.")
    ] = False,
    org: Annotated[
        str | None, typer.Option("--org", help="Use the scorers this organization calibrated.")
    ] = None,
    weights: WeightsOpt = None,
    judge: Annotated[
        bool, typer.Option("--judge", help="Add the LLM judge (HUDDLE_AI_LLM_*).")
    ] = False,
    judge_prompt: JudgePromptOpt = "v2",
) -> None:
    """Apply scorers to arbitrary records and write them back with their scores.

    Every field of a record (ids, metadata) is written back as it was, with a
    ``scores`` object added. When records carry ``labels`` named like a
    scorer, the agreement (n, AUC, κ) is printed to stderr: how a team checks
    a scorer against its own labels.
    """
    from huddle_ai.evals import Sample, get_scorer
    from huddle_ai.evals.stats import auc, cohen_kappa

    conf = settings()
    models = None
    if any(SCORERS.get(n) is not None and SCORERS[n].kind == "learned" for n in scorer):
        models = _scorer_models(weights, calibrated_path(conf.data_dir, org) if org else None)
    registry = scorer_registry(models)
    infos = [get_scorer(n, registry) for n in scorer]
    needs = embed or any(i.name == "reference_cosine" or i.kind == "learned" for i in infos)
    embedder = engine().embedder if needs else None
    grader = _judge(judge_prompt) if judge else None
    records = _read_records(file)
    samples = [Sample.from_record(rec, where=f"{file} line {rec.pop('_line')}") for rec in records]
    if models is not None:
        models.prime(samples, embedder)
    names = [i.name for i in infos]
    for rec, sample in zip(records, samples, strict=True):
        scores = {i.name: i.fn(sample, embedder=embedder) for i in infos}
        if grader is not None:
            scores.update(grader.grade(sample))
        rec["scores"] = {
            name: {"value": s.value if s.applicable else None, "explanation": s.explanation}
            for name, s in scores.items()
        }
    if grader is not None:
        names += grader.metric_names
    lines = [json.dumps(rec, ensure_ascii=False) for rec in records]
    payload = "\n".join(lines) + ("\n" if lines else "")
    if out is None:
        typer.echo(payload, nl=False)
    else:
        out.write_text(payload, encoding="utf-8")
    for name in names:
        label = name.removeprefix("judge_")
        pairs = []
        for rec, sample in zip(records, samples, strict=True):
            value = rec["scores"][name]["value"]
            if label in sample.labels and value is not None:
                pairs.append((sample.labels[label], float(value)))
        if pairs:
            labs, vals = [p[0] for p in pairs], [p[1] for p in pairs]
            a = auc(labs, vals)
            k = cohen_kappa([x >= 0.5 for x in labs], [v >= 0.5 for v in vals])
            typer.echo(f"{name}: n={len(pairs)} AUC={a:.3f} kappa={k:.3f}", err=True)


def _judge(prompt_version: str) -> Judge:
    from huddle_ai.evals import Judge
    from huddle_ai.suggest.privacy import Redactor, should_redact

    conf = settings()
    if not conf.llm_base_url:
        raise InvalidInputError("--judge needs HUDDLE_AI_LLM_BASE_URL")
    key = conf.llm_api_key.get_secret_value() if conf.llm_api_key else None
    return Judge(
        conf.llm_base_url,
        conf.llm_model,
        key,
        prompt_version=prompt_version,
        prompt_directory=conf.prompt_dir,
        timeout_s=conf.llm_timeout_s,
        max_retries=conf.llm_max_retries,
        redactor=Redactor() if should_redact(conf.llm_base_url, conf.redact_pii) else None,
    )


@eval_app.command("calibrate")
def calibrate_cmd(
    labels: Annotated[
        Path, typer.Argument(help="JSONL of {feedback, work, task, rubric, labels: {NAME: 0|1}}.")
    ],
    scorer: Annotated[
        str,
        typer.Option(
            "--scorer",
            "-s",
            help="The learned scorer to fit: actionable | specific | accurate | respectful "
            "| no_giveaway.",
        ),
    ],
    org: Annotated[
        str | None,
        typer.Option("--org", help="Save for this organization (under the data directory)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Save to this file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a learned scorer to an organization's own labels and save it.

    Reports the agreement by nested cross-validation (the scored fold never
    takes part in fitting), grouped by work: records with the same ``group``
    field, or else the same task and work, stay in one fold. Shown next to the
    packaged scorer's agreement on the same labels.
    Later ``eval run`` (for the suite's organization) and ``eval score --org``
    use the calibrated scorer in place of the packaged one.
    """
    from huddle_ai.evals.calibrate import calibrate, save_calibrated
    from huddle_ai.evals.labelled import load_labelled
    from huddle_ai.evals.learned import packaged_path

    if (org is None) == (out is None):
        raise InvalidInputError("give one of --org ORG or --out FILE: where to save the scorer")
    conf = settings()
    path = out if out is not None else calibrated_path(conf.data_dir, str(org))
    items = load_labelled(labels)
    embedder = engine().embedder
    who = f"{org or 'your'} labels ({labels.name})"
    result = calibrate(
        items, embedder, scorer, who=who, packaged=ScorerModels.load(packaged_path())
    )
    save_calibrated(result, path)
    cv, before = result.cross_validated, result.packaged
    if as_json:
        print_json(
            {
                "scorer": scorer,
                "saved": str(path),
                "cross_validated": cv.row(),
                "packaged": before.row() if before else None,
            }
        )
        return
    from huddle_ai.evals.agreement import validation_note

    typer.echo(f"{scorer}: {validation_note(cv)}")
    if before is not None:
        typer.echo(f"packaged {scorer} on the same labels: {validation_note(before)}")
    use = f"--org {org}" if org else f"--weights {path}"
    typer.echo(f"saved to {path}; eval score/run {use} use it")
