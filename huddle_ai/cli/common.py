"""Options and helpers shared by every command group, defined once."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from huddle_ai.engine import HuddleAI
from huddle_ai.errors import ConfigurationError
from huddle_ai.settings import Settings

__all__ = [
    "TARGET_OPTIONS",
    "DataDirOpt",
    "JsonOpt",
    "OrgOpt",
    "engine",
    "print_json",
    "progress_bar",
    "settings",
]

OrgOpt = Annotated[str, typer.Option("--org", help="Organization id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Store directory (HUDDLE_AI_DATA_DIR).")
]

# how the CLI names the fields of a "stored solution, or new text for a huddle" request
TARGET_OPTIONS = {
    "solution_id": "--solution ID",
    "huddle_id": "--huddle ID",
    "text": "--text",
    "k": "--limit",
}


def settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment, with command-line overrides."""
    base = Settings()
    if data_dir is not None:
        base = base.model_copy(update={"data_dir": data_dir})
    return base


def engine(data_dir: Path | None = None, base: Settings | None = None) -> HuddleAI:
    """One HuddleAI per command invocation and configuration: the model loads once.

    The engines live in the root click context of the running command (no process
    global), so a test or a program that invokes several commands in one process
    gets fresh engines per invocation.
    """
    conf = base if base is not None else settings(data_dir)
    key = conf.model_dump_json()
    ctx = click.get_current_context(silent=True)
    engines: dict[str, HuddleAI] = (
        ctx.find_root().meta.setdefault("huddle_ai.engines", {}) if ctx is not None else {}
    )
    if key not in engines:
        check_data_dir(conf.data_dir)
        engines[key] = HuddleAI(conf)
    return engines[key]


def check_data_dir(path: Path) -> None:
    """A data directory the store can create and write in, or a one-line error naming it."""
    where = f"data directory {path} (--data-dir, HUDDLE_AI_DATA_DIR)"
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"{where} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigurationError(f"{where} is not writable: {exc.strerror or exc}") from None


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr (off for --json or a non-terminal);
    yields the ``progress(done, total)`` callback the library takes."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        transient=True,
        disable=quiet or not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
