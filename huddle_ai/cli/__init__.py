"""The ``huddle-ai`` command line: one module per command group.

Errors of the user's making (:class:`HuddleAIError`, bad settings, bad
arguments) end with a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError

from huddle_ai.cli.app import app
from huddle_ai.errors import HuddleAIError, InvalidInputError

__all__ = ["app", "main", "run"]


def _register() -> None:
    # Importing a command module registers its commands on ``app``.
    from huddle_ai.cli import (  # noqa: F401
        accountability,
        demo,
        evals,
        jobs,
        match,
        records,
        reindex,
        serve,
        suggest,
    )


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and the tests).

    Usage errors are reported by the command-line parser itself (standalone mode:
    usage line plus the error, exit code 2); errors raised by the library become
    one ``error: ...`` line.
    """
    _register()
    try:
        app(args=argv, prog_name="huddle-ai", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except HuddleAIError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2 if isinstance(exc, InvalidInputError) else 1
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: invalid setting {where}: {first['msg']}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a path the user named: unreadable, unwritable, not a directory
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
        return 1
    return 0


def main() -> None:
    # The process edge: never reach a model hub (set before transformers or
    # huggingface_hub are imported); local weights need no progress bar.
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(name, "1")
    sys.exit(run())
