"""Context building: what a generator may see and cite (implementation pending)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from huddle_ai.records import Huddle

__all__ = ["ContextItem", "FeedbackContext"]


class ContextItem(BaseModel):
    """One citable piece of context. ``id`` is what outputs cite."""

    id: str = Field(description="Citation id, e.g. 'criterion:c1', 'solution:s12', 'feedback:f7'.")
    kind: Literal["goal", "criterion", "solution", "feedback"]
    text: str
    record_id: str | None = None
    value: float = Field(0.0, description="How valuable the item is; the least valuable go first.")
    tokens: int = 0
    meta: dict[str, str | float | int | None] = Field(default_factory=dict)


class FeedbackContext(BaseModel):
    """Everything a generator gets for one suggestion."""

    org: str
    huddle: Huddle
    solution_text: str
    solution_id: str | None = None
    learner_id: str | None = None
    learner_name: str | None = None
    items: list[ContextItem]
    token_budget: int
    tokens: int = 0
    dropped: int = 0

    def item_ids(self) -> set[str]:
        return {i.id for i in self.items}
