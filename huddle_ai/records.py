"""The records of an organization: huddles, learners, solutions and feedback.

Records do not carry their organization: the organization is named when they
are ingested and the store keeps each organization's records apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from huddle_ai.errors import InvalidOrganizationError

__all__ = [
    "Anchor",
    "AnswerKey",
    "AnyRecord",
    "AuthorRole",
    "Criterion",
    "Feedback",
    "Huddle",
    "Learner",
    "Level",
    "Record",
    "RecordAdapter",
    "Solution",
    "content_hash",
    "validate_org",
]

# Pydantic checks ``pattern`` with Rust regex, whose ``$`` is the end of the text (no
# trailing newline); Python code must use ``re.fullmatch`` with it.
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
RecordId = Annotated[str, Field(pattern=_ID, description="Stable id, unique per kind.")]
NonEmpty = Annotated[str, Field(min_length=1)]

_ORG = re.compile(r"^[a-z0-9][a-z0-9_-]{1,38}[a-z0-9]$")


def validate_org(org: str) -> str:
    """Return ``org`` if it is a valid organization id, else raise."""
    if not isinstance(org, str) or not _ORG.fullmatch(org) or "__" in org:
        raise InvalidOrganizationError(
            f"invalid organization id {org!r}: use 3-40 lowercase letters, digits, '-' or '_' "
            "(no '__'), starting and ending with a letter or digit"
        )
    return org


class Level(StrEnum):
    """How well a solution meets a rubric criterion."""

    MET = "met"
    PARTIAL = "partial"
    NOT_MET = "not_met"

    @property
    def score(self) -> float:
        return {"met": 1.0, "partial": 0.5, "not_met": 0.0}[self.value]

    @classmethod
    def from_score(cls, score: float, partial: float = 0.25, met: float = 0.75) -> Level:
        """The level of a score: ``score < partial`` is not met, ``score < met`` partial.

        The one score-to-level mapping. The default cuts lie halfway between the
        levels' own scores, so a mean of levels maps to the nearest level.
        """
        if score >= met:
            return cls.MET
        return cls.PARTIAL if score >= partial else cls.NOT_MET


class AuthorRole(StrEnum):
    PEER = "peer"
    FACILITATOR = "facilitator"
    SELF = "self"
    AI = "ai"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def embed_text(self) -> str:
        """The text embedded for this record."""
        raise NotImplementedError

    def content_hash(self) -> str:
        return content_hash(self)


class Anchor(BaseModel):
    """An example of work at a known level, from another context: an illustration only.

    Anchors show what a level looks like. They are never required content, never
    quoted as the learner's words and never a source of names or numbers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    text: NonEmpty
    level: Level
    note: str | None = Field(None, description="Why this example is at this level.")


_KEY_POINTS = re.compile(r"\bkey points?\s*:\s*", re.IGNORECASE)
_LIST_SEP = re.compile(r"[,;]\s*(?![^()]*\))")  # commas outside parentheses


class Criterion(BaseModel):
    """One rubric criterion, as educators write them.

    ``description`` says what the criterion asks for; ``levels`` optionally
    describes what met / partial / not met look like. ``exemplar`` and
    ``anchors`` are illustrations from another context (the exemplar shows
    ``met``). A ``Key points:`` list at the end of an older exemplar is read as
    part of the criterion's description: the educator's own checklist, not the
    example's details.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: RecordId
    name: NonEmpty
    description: NonEmpty
    exemplar: str | None = None
    levels: dict[Level, NonEmpty] = Field(
        default_factory=dict, description="What each level looks like (level descriptors)."
    )
    anchors: list[Anchor] = Field(
        default_factory=list, description="Examples labelled with their level (illustrations)."
    )

    @property
    def illustration(self) -> str | None:
        """The exemplar without its ``Key points:`` list."""
        if not self.exemplar:
            return None
        m = _KEY_POINTS.search(self.exemplar)
        text = self.exemplar if m is None else self.exemplar[: m.start()]
        return text.strip() or None

    @property
    def key_points(self) -> list[str]:
        """The educator's checklist: the ``Key points:`` list of an exemplar, if any."""
        m = _KEY_POINTS.search(self.exemplar or "")
        if m is None:
            return []
        items = [i.strip(" .;:") for i in _LIST_SEP.split((self.exemplar or "")[m.end() :])]
        return [i for i in items if re.search(r"\w", i)]

    def anchor_texts(self) -> list[tuple[str, Level]]:
        """Every illustration with its level: the exemplar (met) and the anchors."""
        out = [(self.illustration, Level.MET)] if self.illustration else []
        return [*out, *((a.text, a.level) for a in self.anchors)]

    def own_text(self) -> str:
        """What the criterion itself says (a permitted source of wording)."""
        parts = [self.name, self.description, *self.key_points, *self.levels.values()]
        return "\n".join(parts)


class AnswerKey(BaseModel):
    """The explicit answer key of a knowledge check: a reference answer and key points."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    reference: str | None = Field(None, description="A model answer.")
    key_points: list[NonEmpty] = Field(
        default_factory=list, description="What a complete answer must state."
    )

    @model_validator(mode="after")
    def _something(self) -> AnswerKey:
        if not self.reference and not self.key_points:
            raise ValueError("an answer_key needs a 'reference' or 'key_points'")
        return self

    def points(self) -> list[str]:
        return list(self.key_points) or ([self.reference] if self.reference else [])


class Huddle(_Record):
    kind: Literal["huddle"] = "huddle"
    id: RecordId
    title: NonEmpty
    prompt: NonEmpty
    goal: NonEmpty = Field(description="What learners should be able to do.")
    rubric: list[Criterion] = Field(default_factory=list)
    answer_key: AnswerKey | None = Field(
        None,
        description="Only for a knowledge check: the reference answer and key points. "
        "Only then is covering the key points required.",
    )

    @property
    def knowledge_check(self) -> bool:
        return self.answer_key is not None

    @field_validator("rubric")
    @classmethod
    def _unique_criteria(cls, v: list[Criterion]) -> list[Criterion]:
        ids = [c.id for c in v]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rubric criterion id(s): {', '.join(dupes)}")
        return v

    def embed_text(self) -> str:
        return f"{self.title}\n{self.prompt}\n{self.goal}"

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.rubric if c.id == criterion_id), None)


class Learner(_Record):
    kind: Literal["learner"] = "learner"
    id: RecordId
    display_name: NonEmpty
    team: str = ""
    role: str = "learner"
    skills: list[str] = Field(default_factory=list)

    def embed_text(self) -> str:
        skills = ", ".join(self.skills)
        return f"{self.display_name} ({self.role}, {self.team}). Skills: {skills}"


def _aware(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Dates in text (files, HTTP, the store) must name their timezone; a naive
    ``datetime`` object passed from Python is taken as UTC."""
    parsed = handler(value)
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        if not isinstance(value, datetime):
            raise ValueError("needs a timezone, e.g. 2026-09-14T10:00:00Z or +02:00")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class Solution(_Record):
    kind: Literal["solution"] = "solution"
    id: RecordId
    huddle_id: RecordId
    learner_id: RecordId
    text: NonEmpty
    created_at: datetime | None = Field(
        None,
        description="When it was submitted; optional, for platforms that keep no time.",
    )

    _created_at_aware = field_validator("created_at", mode="wrap")(_aware)

    def embed_text(self) -> str:
        return self.text


class Feedback(_Record):
    kind: Literal["feedback"] = "feedback"
    id: RecordId
    solution_id: RecordId
    author_id: RecordId
    author_role: AuthorRole
    text: NonEmpty
    helpfulness: float | None = Field(default=None, ge=0.0, le=1.0)
    rubric: dict[str, Level] | None = None
    assessment: Level | None = None
    created_at: datetime | None = Field(None, description="When it was given; optional.")

    _created_at_aware = field_validator("created_at", mode="wrap")(_aware)

    @model_validator(mode="after")
    def _rubric_keys(self) -> Feedback:
        if self.rubric is not None:
            bad = [k for k in self.rubric if not re.fullmatch(_ID, k)]
            if bad:
                raise ValueError(f"invalid rubric criterion id(s): {bad}")
        return self

    def embed_text(self) -> str:
        return self.text


AnyRecord = Huddle | Learner | Solution | Feedback
"""Any record of an organization (the one union; :data:`Record` adds its discriminator)."""
Record = Annotated[AnyRecord, Field(discriminator="kind")]
RecordAdapter: TypeAdapter[AnyRecord] = TypeAdapter(Record)


def content_hash(record: BaseModel) -> str:
    """A stable hash of a record's full content (key order independent).

    An absent optional field hashes as ``null`` whatever the source format, so a
    record without ``created_at`` hashes the same on every import and giving its
    ``created_at`` later is a change."""
    payload = json.dumps(record.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
