"""Variants: one generator with one prompt version, a column of the run matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from huddle_ai.embeddings import Embedder
from huddle_ai.errors import ConfigurationError, InvalidInputError
from huddle_ai.generators import Generator
from huddle_ai.settings import Settings

__all__ = ["GeneratorFactory", "Variant", "generator_factory", "parse_variants"]


@dataclass(frozen=True)
class Variant:
    generator: str
    prompt: str | None = None

    @property
    def label(self) -> str:
        return self.generator if self.prompt is None else f"{self.generator}@{self.prompt}"


GeneratorFactory = Callable[[Variant], Generator]
BASELINES = ("nn_copy", "always_met", "always_majority")


def parse_variants(generators: Sequence[str], prompts: Sequence[str]) -> list[Variant]:
    """The matrix: prompt versions apply to the llm generator; grounded has no prompt."""
    out: list[Variant] = []
    for name in dict.fromkeys(generators):
        if name in ("grounded", *BASELINES):
            out.append(Variant(name))
        elif name == "llm":
            out.extend(Variant("llm", p) for p in dict.fromkeys(prompts))
        else:
            known = ", ".join(["grounded", "llm", *BASELINES])
            raise InvalidInputError(f"unknown generator {name!r} (known: {known})")
    if not out:
        raise InvalidInputError("no variants to run: name at least one generator")
    return out


def generator_factory(settings: Settings, embedder: Embedder) -> GeneratorFactory:
    """Build generators from settings (called at the edge: CLI, CI)."""

    def make(variant: Variant) -> Generator:
        if variant.generator in BASELINES:
            from huddle_ai.evals.baselines import AlwaysMajority, AlwaysMet, NearestCopy

            baselines: dict[str, type[Generator]] = {
                "nn_copy": NearestCopy,
                "always_met": AlwaysMet,
                "always_majority": AlwaysMajority,
            }
            return baselines[variant.generator]()
        if variant.generator == "grounded":
            from huddle_ai.generators.grounded import GroundedGenerator

            return GroundedGenerator(embedder)
        if not settings.llm_base_url:
            raise ConfigurationError(
                "the llm generator needs HUDDLE_AI_LLM_BASE_URL (any OpenAI-compatible endpoint)"
            )
        from huddle_ai.generators.llm import LLMGenerator
        from huddle_ai.privacy import should_redact

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return LLMGenerator(
            settings.llm_base_url,
            settings.llm_model,
            key,
            prompt_version=variant.prompt or "v1",
            prompt_directory=settings.prompt_dir,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            max_repairs=settings.llm_max_repairs,
            redact=should_redact(settings.llm_base_url, settings.redact_pii),
        )

    return make
