"""Privacy and injection hygiene for text that leaves for an external LLM.

- :class:`Redactor` replaces PII with placeholders (``[email]``, ``[phone]``,
  ``[url]``, ``[learner]``, ``[person]``, ``[address]``, ``[iban]``,
  ``[card]``, ``[national_id]``, ``[ip]``) and counts what it replaced. It is
  the anonymizer over an :class:`Analyzer`, a registry of small recognizers
  (pattern, checksum, context words), one module per kind of PII.
- :func:`should_redact` decides whether redaction is on: it is on by default
  for every endpoint that is not on this machine.
- :func:`delimit` wraps untrusted learner text in tags the model is told hold
  data; the text is escaped so it cannot close the tag itself.
- :func:`leaks_prompt` spots output that repeats a long verbatim span of the
  system prompt (an injection echo).
- :func:`instruction_sentences` finds sentences of learner text, stored
  feedback included, that address the AI or the grader (prompt injection),
  so they are never quoted or judged; :func:`without_instructions` removes
  them. :func:`visible` undoes the disguises (zero-width characters,
  homoglyphs) they hide behind.

``python -m huddle_ai.suggest.privacy.report`` measures the redactor on the labelled
set in ``evals/pii_set``.
"""

from __future__ import annotations

from huddle_ai.suggest.privacy.analyzer import Analyzer, default_recognizers
from huddle_ai.suggest.privacy.delimiters import delimit, escape
from huddle_ai.suggest.privacy.endpoints import is_local_url, should_redact
from huddle_ai.suggest.privacy.injection import (
    instruction_sentences,
    is_instruction,
    without_instructions,
)
from huddle_ai.suggest.privacy.leakage import leaks_prompt
from huddle_ai.suggest.privacy.normalize import visible
from huddle_ai.suggest.privacy.recognizer import Recognizer, Span
from huddle_ai.suggest.privacy.redactor import PLACEHOLDERS, Redactor

__all__ = [
    "PLACEHOLDERS",
    "Analyzer",
    "Recognizer",
    "Redactor",
    "Span",
    "default_recognizers",
    "delimit",
    "escape",
    "instruction_sentences",
    "is_instruction",
    "is_local_url",
    "leaks_prompt",
    "should_redact",
    "visible",
    "without_instructions",
]
