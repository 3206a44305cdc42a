"""The public API stays curated and complete."""

from __future__ import annotations

import inspect

import huddle_ai
from huddle_ai import errors


def test_all_names_exist_and_are_sorted() -> None:
    assert huddle_ai.__all__ == sorted(huddle_ai.__all__)
    for name in huddle_ai.__all__:
        assert hasattr(huddle_ai, name), name


def test_every_error_is_exported_and_derives_from_the_base() -> None:
    for name, obj in vars(errors).items():
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, huddle_ai.HuddleAIError), name
            assert name in huddle_ai.__all__, f"{name} is not exported"
