"""Leave-one-huddle-out runs and the always_majority baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from huddle_ai import HuddleAI
from huddle_ai.cli import run as cli
from huddle_ai.evals import Variant, generator_factory, load_run, load_suite, run_suite
from huddle_ai.evals.baselines import AlwaysMajority
from huddle_ai.evals.runner import loho_org
from huddle_ai.records import Criterion, Huddle, Level
from huddle_ai.settings import Settings
from huddle_ai.suggest.context import FeedbackContext, HuddleHistory, LabelledSolution
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.suggestion import FeedbackSuggestion

# two huddles, four labelled solutions each; levels chosen so that the majority differs
LEVELS = {"a": ["partial", "partial", "partial", "met"], "b": ["not_met"] * 3 + ["met"]}


def huddle(hid: str) -> dict[str, Any]:
    return {
        "kind": "huddle",
        "id": f"h-{hid}",
        "title": f"Challenge {hid}",
        "prompt": "Describe one change you made at work and what happened.",
        "goal": "Run a small, measured change.",
        "rubric": [
            {"id": f"{hid}1", "name": "Change", "description": "Names one change."},
            {"id": f"{hid}2", "name": "Result", "description": "Measures the result."},
        ],
    }


def write_suite(tmp: Path, org: str = "eval-loho-tiny") -> Path:
    lines: list[dict[str, Any]] = [{"kind": "learner", "id": "l1", "display_name": "Ana Lopez"}]
    for hid, levels in LEVELS.items():
        lines.append(huddle(hid))
        for n, level in enumerate(levels):
            sid = f"s-{hid}{n}"
            lines.append(
                {
                    "kind": "solution",
                    "id": sid,
                    "huddle_id": f"h-{hid}",
                    "learner_id": "l1",
                    "text": f"In {hid} we changed step {n} of the rota and measured {n + 2} days.",
                    "created_at": "2026-01-01T00:00:00Z",
                }
            )
            lines.append(
                {
                    "kind": "feedback",
                    "id": f"f-{hid}{n}",
                    "solution_id": sid,
                    "author_id": "l1",
                    "author_role": "facilitator",
                    "text": f"Feedback on {sid}: {level}.",
                    "assessment": level,
                    "rubric": {f"{hid}1": level, f"{hid}2": level},
                }
            )
            lines.append(
                {"kind": "case", "id": f"k-{sid}", "solution_id": sid, "expected_assessment": level}
            )
    lines.append(
        {"kind": "case", "id": "k-new", "huddle_id": "h-a", "text": "We changed the rota."}
    )
    (tmp / "data.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    path = tmp / "loho.yaml"
    path.write_text(json.dumps({"name": "loho-tiny", "org": org, "data": ["data.jsonl"]}))
    return path


class Recording(Generator):
    """Remembers every context it was given and answers with always_majority."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[FeedbackContext] = []

    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        self.seen.append(context)
        return AlwaysMajority().generate(context).model_copy(update={"generator": self.name})


def test_loho_hides_the_held_out_huddles_labels(fake_hai: HuddleAI, tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    rec = Recording()
    result = run_suite(suite, fake_hai, lambda v: rec, variants=[Variant("grounded")])
    assert result["leave_one_huddle_out"] is False
    assert all(len(c.history) == 3 for c in rec.seen if c.solution_id)  # in-huddle labels seen

    rec = Recording()
    loho = run_suite(
        suite, fake_hai, lambda v: rec, variants=[Variant("grounded")], leave_one_huddle_out=True
    )
    assert loho["leave_one_huddle_out"] is True and "-loho-" in loho["run_id"]
    assert loho["orgs"] == ["eval-loho-tiny-loho-0", "eval-loho-tiny-loho-1"]
    assert len(rec.seen) == len(suite.cases) == 9
    for ctx in rec.seen:
        own = ctx.huddle.id
        assert ctx.org == {"h-a": "eval-loho-tiny-loho-0", "h-b": "eval-loho-tiny-loho-1"}[own]
        assert ctx.history == []  # none of this huddle's labels
        assert all(not i.meta.get("same_huddle") for i in ctx.items if i.kind == "feedback")
        # the other huddle is still there to learn from
        assert [h.huddle.id for h in ctx.org_history] == [{"h-a": "h-b", "h-b": "h-a"}[own]]
    # the held-out huddle's solutions are still stored, only unlabelled
    assert fake_hai.store.get("eval-loho-tiny-loho-0", "solution", ["s-a0"])
    assert not fake_hai.store.find("eval-loho-tiny-loho-0", "feedback", {"solution_id": "s-a0"})
    # metrics aggregate over every case; always_majority now answers from the other huddle
    row = next(c for c in loho["cases"] if c["id"] == "k-s-a0")
    assert row["org"] == "eval-loho-tiny-loho-0"
    assert row["outputs"]["grounded"][0]["assessment"] == "not_met"
    assert loho["metrics"]["grounded"]["assessment_accuracy"]["n"] == 8


def test_loho_drops_labels_left_by_an_earlier_version_of_the_suite(
    fake_hai: HuddleAI, tmp_path: Path
) -> None:
    suite = load_suite(write_suite(tmp_path))
    fake_hai.ingest("eval-loho-tiny-loho-0", suite.records)  # every label, as a stale store
    rec = Recording()
    run_suite(
        suite, fake_hai, lambda v: rec, variants=[Variant("grounded")], leave_one_huddle_out=True
    )
    assert all(c.history == [] for c in rec.seen)


def test_loho_org_names_stay_valid() -> None:
    assert loho_org("demo", 3) == "demo-loho-3"
    long = loho_org("eval-" + "x" * 34 + "-", 12)
    assert len(long) <= 40 and long.endswith("x-loho-12")


def test_loho_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_suite(tmp_path)
    runs = tmp_path / "runs"
    args = ["eval", "run", str(path), "-g", "always_majority", "--runs-dir", str(runs), "--json"]
    assert cli(args) == 0
    plain = json.loads(capsys.readouterr().out)
    assert cli([*args, "--leave-one-huddle-out"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert cli([*args, "--leave-one-huddle-out", "--baseline", "latest"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert plain["leave_one_huddle_out"] is False and second["leave_one_huddle_out"] is True
    # "latest" compares like with like: a LOHO run with the last LOHO run
    assert second["baseline"] == first["run_id"]
    assert load_run(runs, "latest", "loho-tiny")["run_id"] == plain["run_id"]
    assert cli(["eval", "history", "--runs-dir", str(runs)]) == 0
    assert "loho-tiny (loho)" in capsys.readouterr().out


# -- always_majority --------------------------------------------------------------

HUDDLE = Huddle(
    id="h",
    title="t",
    prompt="p",
    goal="g",
    rubric=[
        Criterion(id="c1", name="One", description="d"),
        Criterion(id="c2", name="Two", description="d"),
    ],
)


def labelled(i: int, level: str, **rubric: str) -> LabelledSolution:
    return LabelledSolution(
        id=f"s{i}",
        text="x",
        assessment=Level(level),
        rubric={k: Level(v) for k, v in rubric.items()},
    )


def context(**over: Any) -> FeedbackContext:
    base: dict[str, Any] = {
        "org": "o",
        "huddle": HUDDLE,
        "solution_text": "x",
        "items": [],
        "token_budget": 100,
    }
    return FeedbackContext(**{**base, **over})


def test_always_majority_uses_the_huddles_history_first() -> None:
    history = [
        labelled(1, "partial", c1="met"),
        labelled(2, "partial", c1="met"),
        labelled(3, "not_met", c1="not_met"),
    ]
    other = HuddleHistory(huddle=HUDDLE, history=[labelled(9, "met", x="not_met")])
    out = AlwaysMajority().generate(context(history=history, org_history=[other]))
    assert (out.text, out.assessment) == ("Partially correct.", Level.PARTIAL)
    # c1 from its own labels; c2 has none in the huddle, so the org's criterion majority
    assert {r.criterion_id: r.level for r in out.rubric} == {
        "c1": Level.MET,
        "c2": Level.NOT_MET,
    }
    assert out.generator == "always_majority" and out.next_step == ""


def test_always_majority_falls_back_to_the_organization_then_met() -> None:
    other = [
        HuddleHistory(huddle=HUDDLE, history=[labelled(1, "not_met"), labelled(2, "not_met")]),
        HuddleHistory(huddle=HUDDLE, history=[labelled(3, "met")]),
    ]
    out = AlwaysMajority().generate(context(org_history=other))
    assert (out.text, out.assessment) == ("Incorrect.", Level.NOT_MET)
    assert all(r.level == Level.NOT_MET for r in out.rubric)
    bare = AlwaysMajority().generate(context())
    assert (bare.text, bare.assessment) == ("Correct.", Level.MET)
    # ties go to met, then partial
    tie = AlwaysMajority().generate(
        context(history=[labelled(1, "partial"), labelled(2, "not_met")])
    )
    assert tie.assessment == Level.PARTIAL


def test_always_majority_is_a_registered_baseline(fake_hai: HuddleAI, tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    make = generator_factory(Settings.model_construct(), fake_hai.embedder)
    result = run_suite(suite, fake_hai, make, variants=[Variant("always_majority")])
    # in-huddle (each solution without its own label): a is mostly partial, b mostly not_met
    by_case = {c["id"]: c["outputs"]["always_majority"][0]["assessment"] for c in result["cases"]}
    assert by_case["k-s-a0"] == "partial" and by_case["k-s-b0"] == "not_met"
    assert by_case["k-s-a3"] == "partial" and by_case["k-new"] == "partial"
    accuracy = result["metrics"]["always_majority"]["assessment_accuracy"]["mean"]
    assert accuracy == pytest.approx(6 / 8)  # the two met solutions are missed
