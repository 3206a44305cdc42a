"""The ``huddle-ai`` Typer application, on which every command group registers.

Its own module so that the command modules and the package that registers them
(:mod:`huddle_ai.cli`) do not import each other.
"""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    name="huddle-ai",
    help="AI feedback and context engine for action-based learning huddles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
