"""From a next step to a commitment: an offline drafter that writes a
suggestion's ``next_step`` (or a learner's own plan) as an implementation
intention -- "When <cue>, I will <action>" -- owned and dated, and a check
that names what is still missing (no date, no owner, a vague verb).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "VAGUE_PHRASES",
    "CommitmentDraft",
    "DraftIssue",
    "check_draft",
    "draft_commitment",
    "is_intention",
]

VAGUE_PHRASES = (
    "think about",
    "look into",
    "try to",
    "try and",
    "consider",
    "explore",
    "reflect on",
    "work on",
    "focus on",
    "be more",
    "keep in mind",
    "maybe",
    "at some point",
    "hopefully",
    "improve",
)

# second person -> first person, for a next step written to the learner
_PRONOUNS = {
    "you": "I",
    "your": "my",
    "yours": "mine",
    "yourself": "myself",
    "you're": "I'm",
    "you've": "I've",
    "you'll": "I'll",
}
_WORD = re.compile(r"[A-Za-z']+")
_LEAD = re.compile(
    r"^(?:next(?: step)?[:,]?\s+|this week[:,]?\s+|please\s+|now\s+|i will\s+|i'll\s+|"
    r"i am going to\s+|i'm going to\s+|i plan to\s+|i want to\s+|i should\s+|you should\s+|"
    r"you could\s+)",
    re.I,
)
_ISSUE_FIELDS = {"no_date": "due_at", "past_date": "due_at", "no_owner": "learner_id"}
_INTENTION = re.compile(r"^\s*(when|if|on|after|before|every)\b.+\bI will\b", re.I | re.S)


@dataclass(frozen=True)
class DraftIssue:
    """One thing a commitment draft still lacks."""

    code: str  # no_date | no_owner | vague_verb | past_date | too_long | no_action
    message: str

    @property
    def field(self) -> str:
        """The request field to fix."""
        return _ISSUE_FIELDS.get(self.code, "step")


@dataclass(frozen=True)
class CommitmentDraft:
    text: str
    learner_id: str | None
    huddle_id: str | None
    due_at: datetime | None
    partner_id: str | None = None
    solution_id: str | None = None
    source: str = "plan"  # next_step | plan
    issues: list[DraftIssue] = field(default_factory=list)
    generator: str = "offline"  # offline | llm
    degraded: bool = False  # the LLM was asked but its draft was not used
    degraded_reason: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None

    @property
    def ready(self) -> bool:
        return not self.issues

    def as_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "learner_id": self.learner_id,
            "huddle_id": self.huddle_id,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "partner_id": self.partner_id,
            "solution_id": self.solution_id,
            "source": self.source,
            "ready": self.ready,
            "issues": [
                {"code": i.code, "field": i.field, "message": i.message} for i in self.issues
            ],
            "generator": self.generator,
            "degraded": self.degraded,
            "degraded_reason": self.degraded_reason,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "prompt_hash": self.prompt_hash,
        }


def _first_person(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        repl = _PRONOUNS.get(word.lower())
        if repl is None:
            return word
        return repl if repl == "I" or not word[0].isupper() else repl.capitalize()

    return _WORD.sub(swap, text)


def _action(step: str) -> str:
    text = " ".join(step.split()).strip().rstrip(".!")
    while True:
        stripped = _LEAD.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _first_person(text)
    return text[:1].lower() + text[1:] if text[:2] != "I " else text


def _cue(due_at: datetime | None, cue: str | None) -> str:
    if cue:
        return cue.strip().rstrip(",")
    if due_at is not None:
        return f"When I start my day on {due_at.strftime('%A %-d %B')}"
    return "When I next open this huddle"


def is_intention(text: str) -> bool:
    """Whether ``text`` reads "When/If/On/After/Before/Every ..., I will ..."."""
    return bool(_INTENTION.match(text))


def check_draft(
    text: str,
    *,
    learner_id: str | None,
    due_at: datetime | None,
    now: datetime | None = None,
) -> list[DraftIssue]:
    """What a commitment still lacks: date, owner, a concrete verb."""
    issues: list[DraftIssue] = []
    action = text.split("I will", 1)[1] if "I will" in text else text
    low = f" {action.lower()} "
    if due_at is None:
        issues.append(DraftIssue("no_date", "no due date: say by when (e.g. Friday 5pm)"))
    elif now is not None and due_at <= now:
        issues.append(DraftIssue("past_date", f"the due date {due_at:%Y-%m-%d} has passed"))
    if not learner_id:
        issues.append(DraftIssue("no_owner", "no owner: name the learner who commits"))
    vague = [p for p in VAGUE_PHRASES if re.search(rf"\b{re.escape(p)}\b", low)]
    if vague:
        issues.append(
            DraftIssue(
                "vague_verb",
                f"vague verb ({', '.join(repr(v) for v in vague)}): name the concrete action "
                "and its result (e.g. 'write', 'send', 'ask two users')",
            )
        )
    if len(_WORD.findall(action)) < 2:
        issues.append(DraftIssue("no_action", "no action: say what you will do"))
    if len(text) > 400:
        issues.append(DraftIssue("too_long", "too long: one action, one sentence"))
    return issues


def draft_commitment(
    step: str,
    *,
    learner_id: str | None,
    huddle_id: str | None = None,
    due_at: datetime | None = None,
    cue: str | None = None,
    partner_id: str | None = None,
    solution_id: str | None = None,
    source: str = "next_step",
    now: datetime | None = None,
) -> CommitmentDraft:
    """``step`` (a suggestion's next step or the learner's own plan) as "When
    <cue>, I will <action>.", with the issues :func:`check_draft` finds."""
    if _INTENTION.match(step):
        text = " ".join(step.split())
    else:
        text = f"{_cue(due_at, cue)}, I will {_action(step)}."
    issues = check_draft(text, learner_id=learner_id, due_at=due_at, now=now)
    return CommitmentDraft(
        text=text,
        learner_id=learner_id,
        huddle_id=huddle_id,
        due_at=due_at,
        partner_id=partner_id,
        solution_id=solution_id,
        source=source,
        issues=issues,
    )
