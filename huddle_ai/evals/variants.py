"""Variants: one generator with one prompt version, a column of the run matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from huddle_ai.errors import InvalidInputError
from huddle_ai.index.embeddings import Embedder
from huddle_ai.settings import Settings
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.generators.registry import GENERATORS, build_generator

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
        if name == "llm":
            out.extend(Variant("llm", p) for p in dict.fromkeys(prompts))
        elif name in (*GENERATORS, *BASELINES):
            out.append(Variant(name))
        else:
            known = ", ".join([*GENERATORS, *BASELINES])
            raise InvalidInputError(f"unknown generator {name!r} (known: {known})")
    if not out:
        raise InvalidInputError("no variants to run: name at least one generator")
    return out


def generator_factory(settings: Settings, embedder: Embedder) -> GeneratorFactory:
    """Build a variant's generator: a baseline, or one of the generator registry's
    (:mod:`huddle_ai.suggest.generators.registry`), the llm with the variant's prompt."""

    def make(variant: Variant) -> Generator:
        if variant.generator in BASELINES:
            from huddle_ai.evals.baselines import AlwaysMajority, AlwaysMet, NearestCopy

            baselines: dict[str, type[Generator]] = {
                "nn_copy": NearestCopy,
                "always_met": AlwaysMet,
                "always_majority": AlwaysMajority,
            }
            return baselines[variant.generator]()
        return build_generator(
            variant.generator, settings, embedder, prompt_version=variant.prompt or "v1"
        )

    return make
