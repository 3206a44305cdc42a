"""The ``huddle-ai`` command line: one module per command group.

Errors of the user's making (:class:`HuddleAIError`, bad settings, bad
arguments) end with a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import click
import typer
from pydantic import ValidationError

from huddle_ai.errors import HuddleAIError, InvalidInputError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="huddle-ai",
    help="AI feedback and context engine for action-based learning huddles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Importing a command module registers its commands on ``app``.
    from huddle_ai.cli import demo, records  # noqa: F401

    for optional in ("suggest", "match", "jobs", "serve", "evals", "reindex"):
        try:
            __import__(f"huddle_ai.cli.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"huddle_ai.cli.{optional}":
                raise


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and the tests)."""
    _register()
    try:
        result = app(args=argv, prog_name="huddle-ai", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        return 130
    except HuddleAIError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1 if not isinstance(exc, InvalidInputError) else 2
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: invalid setting {where}: {first['msg']}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
