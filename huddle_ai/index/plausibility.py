"""Plausibility warnings: input that is valid but probably not what the user meant.

An import accepts these records (they break no rule), and reports one line per
warning naming the record and the field; ``strict`` turns them into errors and
then nothing is written. What is checked:

- a feedback's ``rubric`` names a criterion its solution's huddle does not have;
- a feedback's ``author_id`` is no learner of the organization (AI authors aside);
- a huddle has an empty ``rubric`` (drafts then judge against the goal only);
- ``kind`` was given for a file whose lines name their own kind (JSONL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from huddle_ai.errors import LineError
from huddle_ai.records import AnyRecord, AuthorRole, Feedback, Huddle, Learner, Solution

__all__ = ["Fetch", "kind_ignored", "warnings_for"]

Fetch = Callable[[str, list[str]], dict[str, AnyRecord]]
"""Stored records of one kind by id (for references outside the import)."""


def kind_ignored(kind: str) -> LineError:
    """The warning for a ``kind`` given with a file whose lines carry their own."""
    return LineError(0, f"--kind {kind!r} ignored: JSONL lines name their own kind", None, "kind")


def _by_id(
    records: Sequence[tuple[int, AnyRecord]], kind: str, fetch: Fetch, wanted: set[str]
) -> dict[str, AnyRecord]:
    """The ``wanted`` records of ``kind``: from this import, else from the store."""
    found: dict[str, AnyRecord] = {r.id: r for _, r in records if r.kind == kind}
    missing = sorted(wanted - set(found))
    if missing:
        found.update(fetch(kind, missing))
    return found


def warnings_for(records: Sequence[tuple[int, AnyRecord]], fetch: Fetch) -> list[LineError]:
    """The warnings for records about to be written (references already resolved)."""
    out: list[LineError] = []
    feedback = [(line, r) for line, r in records if isinstance(r, Feedback)]
    solutions = _by_id(records, "solution", fetch, {f.solution_id for _, f in feedback})
    huddle_ids = {s.huddle_id for s in solutions.values() if isinstance(s, Solution)}
    huddles = _by_id(records, "huddle", fetch, huddle_ids)
    authors = {f.author_id for _, f in feedback if f.author_role != AuthorRole.AI}
    learners = _by_id(records, "learner", fetch, authors)
    for line, rec in records:
        if isinstance(rec, Huddle) and not rec.rubric:
            why = "empty rubric: drafts judge against the goal only"
            out.append(LineError(line, why, rec.id, "rubric"))
    for line, fb in feedback:
        if fb.author_role != AuthorRole.AI and not isinstance(learners.get(fb.author_id), Learner):
            out.append(
                LineError(
                    line, f"author_id {fb.author_id!r} is no known learner", fb.id, "author_id"
                )
            )
        sol = solutions.get(fb.solution_id)
        huddle = huddles.get(sol.huddle_id) if isinstance(sol, Solution) else None
        if fb.rubric and isinstance(huddle, Huddle):
            known = {c.id for c in huddle.rubric}
            for cid in sorted(set(fb.rubric) - known):
                out.append(
                    LineError(
                        line,
                        f"rubric criterion {cid!r} is not in huddle {huddle.id!r}'s rubric",
                        fb.id,
                        f"rubric.{cid}",
                    )
                )
    return sorted(out, key=lambda e: e.line)
