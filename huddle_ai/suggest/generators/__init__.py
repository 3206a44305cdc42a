"""Generators turn a :class:`FeedbackContext` into a :class:`FeedbackSuggestion`.

``grounded`` composes feedback offline from the organization's own material;
``llm`` asks any OpenAI-compatible endpoint. Both implement one method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from huddle_ai.suggest.context import FeedbackContext
from huddle_ai.suggest.suggestion import FeedbackSuggestion

__all__ = ["Generator"]


class Generator(ABC):
    """Writes a feedback suggestion for one context."""

    name: str = "abstract"

    @abstractmethod
    def generate(self, context: FeedbackContext) -> FeedbackSuggestion:
        """Return a validated suggestion; citations are checked by the caller."""
