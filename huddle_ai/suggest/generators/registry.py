"""The generator registry: every generator huddle_ai ships, built by name from
settings. The engine (its configured generator and fallback) and the eval
harness (a column of the run matrix) both build through here."""

from __future__ import annotations

from typing import NamedTuple

from huddle_ai.errors import ConfigurationError, InvalidInputError
from huddle_ai.index.embeddings import Embedder
from huddle_ai.settings import Settings
from huddle_ai.suggest.generators import Generator

__all__ = ["GENERATORS", "Generators", "build_generator", "build_generators"]

GENERATORS = ("grounded", "llm")


class Generators(NamedTuple):
    """The generator to use and the one to fall back on when it fails."""

    primary: Generator
    fallback: Generator | None = None


def build_generator(
    name: str, settings: Settings, embedder: Embedder, *, prompt_version: str | None = None
) -> Generator:
    """The generator called ``name``; ``prompt_version`` overrides the settings' one (llm)."""
    if name == "grounded":
        from huddle_ai.suggest.generators.grounded import GroundedGenerator

        return GroundedGenerator(embedder)
    if name != "llm":
        raise InvalidInputError(f"unknown generator {name!r} (known: {', '.join(GENERATORS)})")
    if not settings.llm_base_url:
        raise ConfigurationError(
            "the llm generator needs HUDDLE_AI_LLM_BASE_URL (any OpenAI-compatible endpoint)"
        )
    from huddle_ai.suggest.generators.llm import LLMGenerator
    from huddle_ai.suggest.privacy import should_redact

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMGenerator(
        settings.llm_base_url,
        settings.llm_model,
        key,
        prompt_version=prompt_version or settings.llm_prompt_version,
        prompt_directory=settings.prompt_dir,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_repairs=settings.llm_max_repairs,
        redact=should_redact(settings.llm_base_url, settings.redact_pii),
    )


def build_generators(settings: Settings, embedder: Embedder) -> Generators:
    """The LLM falling back to the offline grounded generator when ``llm_base_url``
    is set, else grounded alone."""
    grounded = build_generator("grounded", settings, embedder)
    if not settings.llm_base_url:
        return Generators(grounded)
    return Generators(build_generator("llm", settings, embedder), grounded)
