"""The one exception hierarchy of huddle_ai.

Every error the library raises on purpose derives from :class:`HuddleAIError`
and carries a message fit to print to a user on one line.

- :class:`InvalidInputError` -- a record, file, field or argument is wrong
  (the caller must fix the input; never retried by jobs).
  - :class:`ImportRejectedError` -- an import had bad lines; nothing was written.
  - :class:`InvalidOrganizationError` -- an organization id is malformed.
- :class:`NotFoundError` -- a referenced record or organization does not exist.
- :class:`ConfigurationError` -- settings are inconsistent or a resource is missing.
  - :class:`BackendMismatchError` -- a store was built with another embedding backend.
- :class:`PromptError` -- a prompt file is malformed.
  - :class:`MissingVariablesError`, :class:`UnknownVariablesError`.
- :class:`GenerationError` -- an LLM call failed for good (transient or not).
  - :class:`TransientError` -- worth retrying (429, 5xx, timeouts, connection errors).
  - :class:`InvalidOutputError` -- the reply stayed invalid after repairs, or was
    rejected (it echoed the system prompt); carries the attempts.
- :class:`InfeasibleError` -- matching constraints cannot be met; names the binding one.
- :class:`StoreError` -- the vector store failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BackendMismatchError",
    "ConfigurationError",
    "GenerationError",
    "HuddleAIError",
    "ImportRejectedError",
    "InfeasibleError",
    "InvalidInputError",
    "InvalidOrganizationError",
    "InvalidOutputError",
    "LineError",
    "MissingVariablesError",
    "NotFoundError",
    "PromptError",
    "StoreError",
    "TransientError",
    "UnknownVariablesError",
]


class HuddleAIError(Exception):
    """Base of every error huddle_ai raises on purpose."""


class InvalidInputError(HuddleAIError):
    """The input (record, file, field, argument) is wrong."""


class InvalidOrganizationError(InvalidInputError):
    """An organization id is not valid."""


@dataclass(frozen=True)
class LineError:
    """One rejected line of an import: where it was and why."""

    line: int
    reason: str
    record_id: str | None = None
    field: str | None = None  # the field at fault, when one is

    def __str__(self) -> str:
        rid = f" (id {self.record_id!r})" if self.record_id else ""
        return f"line {self.line}{rid}: {self.reason}"


class ImportRejectedError(InvalidInputError):
    """An atomic import found bad lines (or, when strict, warnings) and wrote nothing."""

    def __init__(self, source: str, errors: Sequence[LineError], what: str = "bad line") -> None:
        self.source = source
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        strict = " (strict)" if what == "warning" else ""
        super().__init__(
            f"{source}: {len(self.errors)} {what}(s){strict}, nothing written; first: {first}{more}"
        )


class NotFoundError(HuddleAIError):
    """A referenced record or organization does not exist."""


class ConfigurationError(HuddleAIError):
    """Settings are inconsistent or a needed resource is missing."""


class BackendMismatchError(ConfigurationError):
    """The store holds vectors from another embedding backend."""


class StoreError(HuddleAIError):
    """The vector store failed."""


class PromptError(HuddleAIError):
    """A prompt file is malformed."""


class MissingVariablesError(PromptError):
    """A prompt was rendered without all of its declared variables."""


class UnknownVariablesError(PromptError):
    """A prompt uses or was given variables it does not declare."""


class GenerationError(HuddleAIError):
    """Generating a suggestion with an LLM failed."""


class TransientError(GenerationError):
    """A failure worth retrying: rate limits, 5xx, timeouts, lost connections."""


class InvalidOutputError(GenerationError):
    """An LLM reply stayed invalid after the repair attempts, or was rejected.

    ``attempts`` holds each rejected reply's reason; ``last_output`` the last reply.
    """

    def __init__(self, message: str, attempts: Sequence[str] = (), last_output: str = "") -> None:
        super().__init__(message)
        self.attempts = list(attempts)
        self.last_output = last_output


class InfeasibleError(HuddleAIError):
    """Matching constraints cannot be met; the message names the binding constraint."""
