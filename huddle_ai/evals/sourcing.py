"""Scorers of the provenance rule: whose words a draft uses.

A draft may name only what the learner's work or the huddle itself says
(:mod:`huddle_ai.suggest.provenance`), may quote only what the learner wrote, verbatim,
and may use one passage of the work as evidence for one criterion only. These
scorers count breaches of that rule. They are mechanical: they need no labels
and no model, and every count names what it counted.

* ``provenance``: share of the draft's specifics (numbers, quoted spans, names,
  rare words) that no permitted source contains (lower is better, 0 is the goal);
* ``transplanted``: the number of those specifics;
* ``misquotes``: quoted spans presented as the learner's that are not verbatim in
  the solution (case kept; "…" or "..." joins verbatim parts);
* ``evidence_reuse``: passages used as rubric evidence for more than one criterion.
"""

from __future__ import annotations

import re
import unicodedata

from huddle_ai.evals.sample import Sample
from huddle_ai.evals.score import Score
from huddle_ai.evals.text import words
from huddle_ai.index.embeddings import Embedder
from huddle_ai.suggest.provenance import Sources, Specific, allowed_sources, specifics, untraceable

__all__ = ["evidence_reuse", "misquotes", "provenance", "transplanted"]

# Words about feedback itself, rare in general text but no one's content.
_FEEDBACK_WORDS_TEXT = """rubric rubrics exemplar exemplars criterion descriptor descriptors
    rephrase reword prioritise prioritize"""
FEEDBACK_WORDS = frozenset(_FEEDBACK_WORDS_TEXT.split())
_ELLIPSIS = re.compile(r"\s*(?:\u2026|\.\.\.)\s*")


def _body_fields(sample: Sample) -> list[tuple[str, str]]:
    """(field, text) of what the draft says to the learner (not the rubric evidence)."""
    out = sample.output
    if out is None:
        return [("text", sample.text)]
    fields = [("text", out.text)]
    fields += [(f"strengths[{i}]", s) for i, s in enumerate(out.strengths)]
    fields += [(f"suggestions[{i}]", s.text) for i, s in enumerate(out.suggestions)]
    fields += [(f"questions[{i}]", q) for i, q in enumerate(out.questions)]
    return [*fields, ("next_step", out.next_step)]


def _all_fields(sample: Sample) -> list[tuple[str, str]]:
    rubric = sample.output.rubric if sample.output is not None else []
    return _body_fields(sample) + [(f"rubric[{r.criterion_id}]", r.evidence) for r in rubric]


def _allowed(sample: Sample) -> Sources:
    """The permitted sources, plus the learner's own name (a draft may address them)."""
    if sample.huddle is None:
        sources = Sources([sample.solution], FEEDBACK_WORDS)
    else:
        sources = allowed_sources(sample.huddle, sample.solution, FEEDBACK_WORDS)
    return sources.add(sample.learner_name) if sample.learner_name else sources


def _key(s: Specific) -> tuple[str, str]:
    return (s.kind, s.text if s.kind == "quote" else s.text.lower())


def _untraced(sample: Sample) -> tuple[int, list[Specific]]:
    sources = _allowed(sample)
    found: dict[tuple[str, str], Specific] = {}
    bad: dict[tuple[str, str], Specific] = {}
    for _, text in _body_fields(sample):
        if not text:
            continue
        for s in specifics(text):
            found.setdefault(_key(s), s)
        for s in untraceable(text, sources):
            bad.setdefault(_key(s), s)
    return len(found), list(bad.values())


def _listing(items: list[Specific]) -> str:
    return ", ".join(f"{s.kind} {s.text[:40]!r}" for s in items[:5]) + (
        f" (+{len(items) - 5} more)" if len(items) > 5 else ""
    )


def provenance(sample: Sample, *, embedder: Embedder | None = None) -> Score:
    """Share of the draft's specifics not traceable to a permitted source (lower is better).

    Specifics are numbers, quoted spans, names and rare words
    (:func:`huddle_ai.suggest.provenance.specifics`) in the text, strengths,
    suggestions, questions and next step. Permitted sources: the learner's
    solution (and name), the huddle's title, prompt and goal, each criterion's
    own text and a knowledge check's answer key -- not exemplars, anchors or
    other learners' work. Mechanical: needs no labels. 0 is the goal.
    """
    total, bad = _untraced(sample)
    if not total:
        return Score(0.0, "no specifics to trace", {"specifics": 0.0, "transplanted": 0.0})
    why = f"{len(bad)}/{total} specifics not traceable to the solution or the huddle"
    if bad:
        why += f": {_listing(bad)}"
    counts = {"specifics": float(total), "transplanted": float(len(bad))}
    return Score(len(bad) / total, why, counts)


def transplanted(sample: Sample, *, embedder: Embedder | None = None) -> Score:
    """Number of the draft's specifics not traceable to a permitted source (0 is the goal).

    The count behind ``provenance``; mechanical, needs no labels.
    """
    total, bad = _untraced(sample)
    if not bad:
        return Score(0.0, f"0 transplanted specifics (of {total})")
    return Score(float(len(bad)), f"{len(bad)} transplanted specific(s): {_listing(bad)}")


def _huddle_text(sample: Sample) -> Sources | None:
    """The huddle's own words, lower-cased: quoting a criterion in running text is no misquote."""
    h = sample.huddle
    if h is None:
        return None
    texts = [h.title, h.prompt, h.goal, *(c.own_text() for c in h.rubric)]
    if h.answer_key is not None:
        texts += [h.answer_key.reference or "", *h.answer_key.key_points]
    return Sources([t.lower() for t in texts])


def misquotes(sample: Sample, *, embedder: Embedder | None = None) -> Score:
    """Quoted spans presented as the learner's that are not verbatim in the solution (count).

    Every quoted span ("…", “…”, ‘…’) in the text, strengths, suggestions,
    questions, next step and rubric evidence must appear in the solution
    exactly, case kept; "…" or "..." inside a quote joins verbatim parts. A span
    found in the huddle's own text (its prompt or a criterion, in any case)
    quotes the task, not the learner, and is not counted. Mechanical: needs no
    labels.
    """
    if not sample.solution.strip():
        return Score.na("no solution text")
    learner = Sources([sample.solution])
    task = _huddle_text(sample)
    bad: list[str] = []
    checked = 0
    for where, text in _all_fields(sample):
        for s in specifics(text or ""):
            if s.kind != "quote":
                continue
            checked += 1
            of_task = task is not None and task.traces(Specific("quote", s.text.lower()))
            if learner.traces(s) or of_task:
                continue
            bad.append(f"{where} {s.text[:50]!r}")
    if not bad:
        return Score(0.0, f"0 misquotes ({checked} quoted span(s) verbatim)")
    more = f" (+{len(bad) - 4} more)" if len(bad) > 4 else ""
    return Score(
        float(len(bad)),
        f"{len(bad)}/{checked} quoted span(s) not verbatim in the solution: "
        + "; ".join(bad[:4])
        + more,
    )


def _flat(text: str) -> str:
    """Lower-cased words joined by single spaces: passages compared apart from punctuation."""
    return " ".join(words(unicodedata.normalize("NFKC", text).replace("\u2019", "'")))


def _passages(evidence: str, solution: str) -> list[str]:
    """The passages of the work one evidence entry uses: its quotes, or itself if verbatim."""
    quotes = [s.text for s in specifics(evidence) if s.kind == "quote"]
    if not quotes and _flat(evidence) and f" {_flat(evidence)} " in f" {_flat(solution)} ":
        quotes = [evidence]
    parts = [_flat(p) for q in quotes for p in _ELLIPSIS.split(q)]
    return [p for p in parts if len(p.split()) >= 2]


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    # one passage inside another counts when the shorter is a real passage, not a phrase
    short, long_ = sorted((a, b), key=len)
    return len(short.split()) >= 4 and f" {short} " in f" {long_} "


def evidence_reuse(sample: Sample, *, embedder: Embedder | None = None) -> Score:
    """Passages used as rubric evidence for more than one criterion (count; 0 is the goal).

    A passage is a quoted span of an evidence entry (an unquoted entry that is
    verbatim in the solution is one passage). Two passages are the same when
    equal (case and punctuation aside) or when one of 4+ words lies inside the
    other. Mechanical: needs no labels.
    """
    if sample.output is None or not sample.output.rubric:
        return Score.na("no rubric evidence")
    entries = [
        (r.criterion_id, p)
        for r in sample.output.rubric
        for p in dict.fromkeys(_passages(r.evidence, sample.solution))
    ]
    reused = {p for _, p in entries if len({c for c, q in entries if _same(p, q)}) > 1}
    # a passage inside a longer reused one is the same passage, counted once
    distinct = sorted(p for p in reused if not any(len(p) < len(q) and _same(p, q) for q in reused))
    if not distinct:
        return Score(0.0, f"0 passages reused ({len(entries)} evidence passage(s))")
    shown = "; ".join(repr(p[:50]) for p in distinct[:3])
    return Score(
        float(len(distinct)), f"{len(distinct)} passage(s) are evidence for 2+ criteria: {shown}"
    )
