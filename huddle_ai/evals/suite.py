"""Eval suites: a YAML file naming data, cases, variants, scorers and thresholds.

::

    name: demo
    org: demo                      # organization the data is ingested as
    data: [builtin:demo, demo/cases.jsonl]   # JSONL, relative to the suite file
    generators: [grounded]         # grounded | llm
    prompts: [v1]                  # prompt versions (used by the llm generator)
    scorers: [schema_validity, specificity]  # default: every scorer
    thresholds: {schema_validity: 0.99, assessment_accuracy: 0.5}
    regression: {default: 0.02}    # allowed drop against a baseline run
    context: {k: 5, token_budget: 1800}

Data files hold records in the core import format plus ``case`` records
(what to suggest on, with references) and ``labeled`` records (a feedback text
with human labels, for checking scorers against people).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from huddle_ai.errors import InvalidInputError
from huddle_ai.index.formats import parse_jsonl
from huddle_ai.records import AnyRecord, Huddle, Level, Solution, validate_org

__all__ = ["Case", "Labeled", "Suite", "evals_dir", "load_suite", "resolve_suite", "shipped_suites"]

AGGREGATES = ("assessment_accuracy", "assessment_macro_f1", "assessment_kappa")
GeneratorName = Literal["grounded", "llm", "nn_copy", "always_met", "always_majority"]


def _default_generators() -> list[GeneratorName]:
    return ["grounded"]


class Case(BaseModel):
    """One thing to suggest on: a stored solution, or new text for a huddle."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["case"] = "case"
    id: str = Field(min_length=1)
    solution_id: str | None = None
    huddle_id: str | None = None
    text: str | None = None
    reference: str | None = None
    expected_assessment: Level | None = None
    expected_rubric: dict[str, Level] | None = None
    forbidden: list[str] = Field(default_factory=list)
    forced_assessment: Level | None = None
    pii: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _target(self) -> Case:
        if (self.solution_id is None) == (self.text is None):
            raise ValueError("give exactly one of 'solution_id' or 'text' (with 'huddle_id')")
        if self.text is not None and not self.huddle_id:
            raise ValueError("a case with 'text' needs 'huddle_id'")
        return self


class Labeled(BaseModel):
    """A feedback text on a case's solution, labeled by people (0/1 or yes/no per scorer)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["labeled"] = "labeled"
    id: str = Field(min_length=1)
    case: str
    feedback: str | dict[str, Any]
    labels: dict[str, float | bool | str]


class Suite(BaseModel):
    """A validated suite with its data loaded."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,39}$")
    description: str = ""
    org: str | None = None
    data: list[str] = Field(min_length=1)
    generators: list[GeneratorName] = Field(default_factory=_default_generators)
    prompts: list[str] = Field(default_factory=lambda: ["v1"])
    scorers: list[str] | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    new_huddle_thresholds: dict[str, float] | None = Field(
        None,
        description="Thresholds of a leave-one-huddle-out run, in place of `thresholds` "
        "(a floor set for known huddles is not one for new huddles).",
    )
    beats: list[str] = Field(
        default_factory=list,
        description="Metrics on which every generator must beat every baseline in the run.",
    )
    regression: dict[str, float] = Field(default_factory=lambda: {"default": 0.02})
    context: dict[str, int] = Field(default_factory=dict)
    repeat: int = Field(1, ge=1, le=50)
    judge: dict[str, str] | None = None
    price_per_1k_tokens: float = 0.0

    path: Path | None = None
    records: list[AnyRecord] = Field(default_factory=list)
    cases: list[Case] = Field(default_factory=list)
    labeled: list[Labeled] = Field(default_factory=list)

    @property
    def org_id(self) -> str:
        return self.org or f"eval-{self.name}"

    def huddle(self, huddle_id: str) -> Huddle | None:
        return next((r for r in self.records if isinstance(r, Huddle) and r.id == huddle_id), None)

    def solution(self, solution_id: str) -> Solution | None:
        return next(
            (r for r in self.records if isinstance(r, Solution) and r.id == solution_id), None
        )

    def case(self, case_id: str) -> Case:
        return next(c for c in self.cases if c.id == case_id)

    def tolerance(self, metric: str) -> float:
        return self.regression.get(metric, self.regression.get("default", 0.02))


def evals_dir() -> Path:
    """The shipped suites: the wheel's ``huddle_ai/_evals`` or the checkout's ``evals/``."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "_evals"
    return installed if installed.is_dir() else package.parent / "evals"


def shipped_suites() -> list[Path]:
    return sorted(evals_dir().glob("*.yaml"))


def resolve_suite(name_or_path: str | Path) -> Path:
    """A suite file by path, or a shipped suite by name (``demo`` -> ``evals/demo.yaml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = evals_dir() / f"{path.stem}.yaml"
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    names = ", ".join(p.stem for p in shipped_suites()) or "none"
    raise InvalidInputError(f"suite {str(name_or_path)!r} not found (shipped suites: {names})")


def _data_path(entry: str, base: Path) -> Path:
    if entry.startswith("builtin:"):
        name = entry.split(":", 1)[1]
        if name != "demo":
            raise InvalidInputError(f"unknown builtin dataset {entry!r} (known: builtin:demo)")
        from huddle_ai.demo import demo_path

        return demo_path()
    return (base / entry).resolve()


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "record"
    return f"field '{loc}': {first['msg']}"


def _read_data(suite: Suite, base: Path, where: str) -> None:
    for entry in suite.data:
        path = _data_path(entry, base)
        if not path.is_file():
            raise InvalidInputError(f"{where}: data file {entry!r} not found at {path}")
        lines = path.read_text(encoding="utf-8").splitlines()
        core = list(lines)
        for n, line in enumerate(lines, start=1):
            if '"kind"' not in line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # parse_jsonl reports it with the line number
            kind = obj.get("kind") if isinstance(obj, dict) else None
            if kind not in ("case", "labeled"):
                continue
            core[n - 1] = ""
            try:
                if kind == "case":
                    suite.cases.append(Case.model_validate(obj))
                else:
                    suite.labeled.append(Labeled.model_validate(obj))
            except ValidationError as exc:
                rid = obj.get("id")
                raise InvalidInputError(
                    f"{path} line {n} ({kind} {rid!r}): {_describe(exc)}"
                ) from None
        parsed = parse_jsonl(core, str(path))
        if parsed.errors:
            raise InvalidInputError(f"{path}: {parsed.errors[0]}")
        suite.records.extend(r for _, r in parsed.records)


def _check_refs(suite: Suite, where: str) -> None:
    from huddle_ai.evals.scorers import SCORERS

    for name in suite.scorers or []:
        if name not in SCORERS:
            raise InvalidInputError(
                f"{where}: unknown scorer {name!r}; known: {', '.join(SCORERS)}"
            )
    known = set(SCORERS) | set(AGGREGATES) | {"judge"}
    for metric in [
        *suite.thresholds,
        *(suite.new_huddle_thresholds or {}),
        *suite.beats,
        *suite.regression,
    ]:
        if metric not in known and metric != "default" and not metric.startswith("judge_"):
            raise InvalidInputError(f"{where}: threshold for unknown metric {metric!r}")
    if not suite.cases:
        raise InvalidInputError(f"{where}: no 'case' records in the data files")
    seen: set[str] = set()
    for case in suite.cases:
        if case.id in seen:
            raise InvalidInputError(f"{where}: duplicate case id {case.id!r}")
        seen.add(case.id)
        huddle_id = case.huddle_id
        if case.solution_id is not None:
            sol = suite.solution(case.solution_id)
            if sol is None:
                raise InvalidInputError(
                    f"{where}: case {case.id!r} names solution {case.solution_id!r}, "
                    "which is not in the data"
                )
            huddle_id = sol.huddle_id
        huddle = suite.huddle(huddle_id or "")
        if huddle is None:
            raise InvalidInputError(
                f"{where}: case {case.id!r} names huddle {huddle_id!r}, which is not in the data"
            )
        crit = {c.id for c in huddle.rubric}
        bad = sorted(set(case.expected_rubric or {}) - crit)
        if bad:
            raise InvalidInputError(
                f"{where}: case {case.id!r} expects levels for unknown criteria {bad} "
                f"of huddle {huddle.id!r}"
            )
    for lab in suite.labeled:
        if lab.case not in seen:
            raise InvalidInputError(f"{where}: labeled {lab.id!r} names unknown case {lab.case!r}")


def load_suite(name_or_path: str | Path) -> Suite:
    """Load, validate and read the data of a suite; errors name the file, line and field."""
    path = resolve_suite(name_or_path)
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where}: expected a mapping at the top level")
    for forbidden in ("path", "records", "cases", "labeled"):
        if forbidden in raw:
            raise InvalidInputError(f"{where}: unknown field {forbidden!r}")
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInputError(f"{where}: {_describe(exc)}") from None
    if suite.org is not None:
        validate_org(suite.org)
    suite.path = path
    _read_data(suite, path.parent, where)
    _check_refs(suite, where)
    return suite
