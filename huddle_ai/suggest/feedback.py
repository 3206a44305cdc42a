"""``suggest()``: context -> generator -> citation check -> fallback.

The orchestration of one feedback suggestion. It builds the context, asks the
generator, keeps only citations that name a provided context item (counting
the rest in ``invalid_citations``), and when the generator fails for any
reason falls back to the offline generator with ``degraded=True`` and the
reason. With a fallback it never raises for a generation failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from huddle_ai.errors import HuddleAIError
from huddle_ai.index.embeddings import Embedder
from huddle_ai.index.store import Store
from huddle_ai.records import Learner
from huddle_ai.suggest.context import FeedbackContext
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.suggestion import FeedbackSuggestion

if TYPE_CHECKING:
    from huddle_ai.suggest.context import ContextCache

__all__ = ["check_citations", "generate_checked", "learner_names", "suggest"]

log = logging.getLogger(__name__)


def check_citations(suggestion: FeedbackSuggestion, context: FeedbackContext) -> FeedbackSuggestion:
    """Drop citations that name no provided context item; count them."""
    valid = context.item_ids()
    kept: list[str] = []
    invalid = 0
    for cid in suggestion.citations:
        if cid in valid and cid not in kept:
            kept.append(cid)
        elif cid not in valid:
            invalid += 1
    return suggestion.model_copy(
        update={"citations": kept, "invalid_citations": suggestion.invalid_citations + invalid}
    )


def learner_names(store: Store, org: str) -> dict[str, str]:
    """Display name of every learner of ``org``, by id (for redaction)."""
    return {r.id: r.display_name for r in store.all(org, "learner") if isinstance(r, Learner)}


def _run(
    generator: Generator, context: FeedbackContext, private_names: Collection[str]
) -> FeedbackSuggestion:
    # only the LLM generator sends text out, so only it needs the names to hide
    from huddle_ai.suggest.generators.llm import LLMGenerator

    if isinstance(generator, LLMGenerator):
        return generator.generate(context, private_names=private_names)
    return generator.generate(context)


def generate_checked(
    context: FeedbackContext,
    generator: Generator,
    fallback: Generator | None = None,
    *,
    private_names: Collection[str] = (),
) -> FeedbackSuggestion:
    """Run ``generator`` on a built context, check citations, fall back on failure."""
    start = time.perf_counter()
    try:
        suggestion = _run(generator, context, private_names)
    except Exception as exc:
        # a broken generator must not break the product: fall back if we can
        if fallback is None:
            raise
        reason = str(exc) if isinstance(exc, HuddleAIError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "generator %s failed, falling back to %s: %s", generator.name, fallback.name, reason
        )
        suggestion = fallback.generate(context).model_copy(
            update={"degraded": True, "degraded_reason": f"{generator.name} failed: {reason}"}
        )
        suggestion = suggestion.model_copy(
            update={"latency_ms": round((time.perf_counter() - start) * 1000, 1)}
        )
    return check_citations(suggestion, context)


def suggest(
    store: Store,
    embedder: Embedder,
    org: str,
    *,
    solution_id: str | None = None,
    text: str | None = None,
    huddle_id: str | None = None,
    generator: Generator,
    fallback: Generator | None = None,
    token_budget: int = 1800,
    k: int = 5,
    cache: ContextCache | None = None,
) -> FeedbackSuggestion:
    """A checked feedback suggestion for stored ``solution_id`` or new ``text``
    for ``huddle_id`` in organization ``org``."""
    from huddle_ai.suggest.context import build_context

    context = build_context(
        store,
        embedder,
        org,
        solution_id=solution_id,
        text=text,
        huddle_id=huddle_id,
        k=k,
        token_budget=token_budget,
        cache=cache,
    )
    # the context already holds the names of every learner but the author
    return generate_checked(context, generator, fallback, private_names=context.other_names)
