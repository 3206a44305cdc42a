"""A tiny hand-written organization for plumbing tests (not for quality tests)."""

from __future__ import annotations

import json
from pathlib import Path

HUDDLE = {
    "kind": "huddle",
    "id": "h-int",
    "title": "Customer interviews",
    "prompt": "Plan and run three customer interviews about onboarding.",
    "goal": "Plan, run and synthesise customer interviews.",
    "rubric": [
        {
            "id": "c-plan",
            "name": "Plan",
            "description": "States goals and questions.",
            "exemplar": "Goal, five open questions, recruiting plan.",
        },
        {
            "id": "c-synth",
            "name": "Synthesis",
            "description": "Finds patterns.",
            "exemplar": "Three themes with quotes.",
        },
    ],
}
HUDDLE2 = {
    "kind": "huddle",
    "id": "h-pm",
    "title": "Incident postmortem",
    "prompt": "Write a blameless postmortem of a recent outage.",
    "goal": "Write a blameless postmortem with owners for every action.",
    "rubric": [{"id": "c-rc", "name": "Root cause", "description": "Finds the root cause."}],
}
LEARNERS = [
    {
        "kind": "learner",
        "id": "l-ana",
        "display_name": "Ana Ruiz",
        "team": "Product",
        "skills": ["research"],
    },
    {
        "kind": "learner",
        "id": "l-bo",
        "display_name": "Bo Chen",
        "team": "Support",
        "skills": ["writing"],
    },
    {
        "kind": "learner",
        "id": "l-cy",
        "display_name": "Cy Okafor",
        "team": "Engineering",
        "role": "facilitator",
        "skills": ["incidents"],
    },
]
SOLUTIONS = [
    {
        "kind": "solution",
        "id": "s-1",
        "huddle_id": "h-int",
        "learner_id": "l-ana",
        "text": (
            "I interviewed three customers about onboarding and found the setup wizard confusing."
        ),
        "created_at": "2026-09-01T10:00:00Z",
    },
    {
        "kind": "solution",
        "id": "s-2",
        "huddle_id": "h-int",
        "learner_id": "l-bo",
        "text": "I interviewed two customers about onboarding emails and billing surprises.",
        "created_at": "2026-09-02T10:00:00Z",
    },
    {
        "kind": "solution",
        "id": "s-3",
        "huddle_id": "h-pm",
        "learner_id": "l-cy",
        "text": "Postmortem: the database failover took 40 minutes because the runbook was stale.",
        "created_at": "2026-09-03T10:00:00Z",
    },
]
FEEDBACK = [
    {
        "kind": "feedback",
        "id": "f-1",
        "solution_id": "s-1",
        "author_id": "l-bo",
        "author_role": "peer",
        "text": "Your quote about the wizard is vivid; add a recruiting plan.",
        "helpfulness": 0.9,
        "rubric": {"c-plan": "partial", "c-synth": "met"},
        "assessment": "partial",
    },
    {
        "kind": "feedback",
        "id": "f-2",
        "solution_id": "s-1",
        "author_id": "l-cy",
        "author_role": "facilitator",
        "text": "Nice.",
        "helpfulness": 0.2,
    },
    {
        "kind": "feedback",
        "id": "f-3",
        "solution_id": "s-2",
        "author_id": "l-ana",
        "author_role": "peer",
        "text": "Interview one more customer to reach three.",
        "helpfulness": 0.7,
    },
    {
        "kind": "feedback",
        "id": "f-4",
        "solution_id": "s-3",
        "author_id": "l-ana",
        "author_role": "peer",
        "text": "Name an owner for the runbook update.",
        "helpfulness": 0.8,
    },
]
ALL = [HUDDLE, HUDDLE2, *LEARNERS, *SOLUTIONS, *FEEDBACK]


def write_jsonl(path: Path, rows: list[dict[str, object]] | None = None) -> Path:
    rows = ALL if rows is None else rows
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
