"""``huddle-ai eval``: run suites, show the history, apply one scorer to a file.

Exit codes of ``eval run``: 0 when the gate passes, 1 when a metric is past
its threshold (or regressed against ``--baseline`` with ``--fail-on-regression``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from huddle_ai.cli.app import app
from huddle_ai.cli.common import JsonOpt, engine, print_json, settings
from huddle_ai.errors import InvalidInputError

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluate feedback quality: suites, reports, CI gate.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

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
    runs_dir: RunsDirOpt = _DEFAULT_RUNS,
    as_json: JsonOpt = False,
) -> None:
    """Run SUITE over generators × prompt versions; write JSON, Markdown and HTML reports."""
    from huddle_ai.evals import (
        Cache,
        Judge,
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
    conf = settings().model_copy(update={"data_dir": runs_dir / "store", "chroma_url": None})
    base = (
        load_run(runs_dir, baseline, loaded.name, leave_one_huddle_out=leave_one_huddle_out)
        if baseline
        else None
    )
    hai = engine(base=conf)
    grader = None
    if judge:
        if not conf.llm_base_url:
            raise InvalidInputError("--judge needs HUDDLE_AI_LLM_BASE_URL")
        from huddle_ai.privacy import Redactor, should_redact

        key = conf.llm_api_key.get_secret_value() if conf.llm_api_key else None
        redactor = Redactor() if should_redact(conf.llm_base_url, conf.redact_pii) else None
        grader = Judge(
            conf.llm_base_url,
            conf.llm_model,
            key,
            timeout_s=conf.llm_timeout_s,
            max_retries=conf.llm_max_retries,
            redactor=redactor,
        )
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


@eval_app.command("score")
def score_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="JSONL of {feedback, solution, context, labels...}; '-' for stdin."),
    ],
    scorer: Annotated[list[str], typer.Option("--scorer", "-s", help="Scorer name (repeatable).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write JSONL here (default stdout).")
    ] = None,
    embed: Annotated[
        bool, typer.Option("--embed", help="Use the embedding model where a scorer can.")
    ] = False,
) -> None:
    """Apply scorers to arbitrary records and write them back with their scores.

    When records carry ``labels`` named like a scorer, the agreement (AUC, κ)
    is printed to stderr: how a team checks a scorer against its own labels.
    """
    from huddle_ai.evals import Sample, get_scorer
    from huddle_ai.evals.stats import auc, cohen_kappa

    infos = [get_scorer(n) for n in scorer]
    needs = embed or any(i.name == "reference_cosine" for i in infos)
    embedder = engine().embedder if needs else None
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}") from exc
    records: list[dict[str, Any]] = []
    labels: list[dict[str, float]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{file} line {n}: not valid JSON: {exc.msg}") from None
        sample = Sample.from_record(rec, where=f"{file} line {n}")
        rec["scores"] = {}
        for info in infos:
            s = info.fn(sample, embedder=embedder)
            rec["scores"][info.name] = {
                "value": s.value if s.applicable else None,
                "explanation": s.explanation,
            }
        labels.append(sample.labels)
        records.append(rec)
    lines = [json.dumps(rec, ensure_ascii=False) for rec in records]
    payload = "\n".join(lines) + ("\n" if lines else "")
    if out is None:
        typer.echo(payload, nl=False)
    else:
        out.write_text(payload, encoding="utf-8")
    for info in infos:
        pairs = []
        for rec, lab in zip(records, labels, strict=True):
            value = rec["scores"][info.name]["value"]
            if info.name in lab and value is not None:
                pairs.append((lab[info.name], float(value)))
        if pairs:
            labs, vals = [p[0] for p in pairs], [p[1] for p in pairs]
            a = auc(labs, vals)
            k = cohen_kappa([x >= 0.5 for x in labs], [v >= 0.5 for v in vals])
            typer.echo(f"{info.name}: n={len(pairs)} AUC={a:.3f} kappa={k:.3f}", err=True)
