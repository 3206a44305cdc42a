"""Prompt files: load, validate, render and hash.

A prompt file is Markdown with YAML front matter (``id``, ``version``,
``description``, ``input_variables``, ``model`` parameters) and two sections,
``## system`` and ``## user``. Variables are written ``{{ name }}``. A file is
validated when it is loaded: a template variable that is not declared raises
:class:`UnknownVariablesError`, a declared variable that is never used raises
:class:`MissingVariablesError`. Rendering checks the given values the same way.

Files live in the top-level ``prompts/`` directory of a source checkout and in
``huddle_ai/_prompts`` inside an installed wheel.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huddle_ai.errors import MissingVariablesError, PromptError, UnknownVariablesError

__all__ = ["Prompt", "RenderedPrompt", "load_prompt", "prompt_dir", "prompt_versions"]

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SECTION = re.compile(r"^##\s+(system|user)\s*$", re.MULTILINE | re.IGNORECASE)
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")


class _FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")
    version: str = Field(pattern=_VERSION.pattern)
    description: str = Field(min_length=1)
    input_variables: list[str]
    model: dict[str, Any] = Field(default_factory=dict)


class RenderedPrompt(BaseModel):
    """Chat messages ready to send, plus which prompt made them."""

    system: str
    user: str
    prompt_id: str
    version: str
    hash: str

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


class Prompt(BaseModel):
    """One validated prompt file."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: str
    description: str
    input_variables: tuple[str, ...]
    model: dict[str, Any]
    system: str
    user: str
    hash: str = Field(description="sha256 of the file content (first 16 hex digits).")
    path: Path | None = None

    @classmethod
    def parse(cls, content: str, source: str = "<prompt>") -> Prompt:
        """Parse and validate a prompt file's content."""
        if not content.startswith("---"):
            raise PromptError(f"{source}: missing YAML front matter (start the file with '---')")
        parts = content.split("\n---", 1)
        if len(parts) != 2:
            raise PromptError(f"{source}: front matter is not closed with '---'")
        try:
            raw = yaml.safe_load(parts[0][3:]) or {}
            meta = _FrontMatter.model_validate(raw)
        except yaml.YAMLError as exc:
            raise PromptError(f"{source}: front matter is not valid YAML: {exc}") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "front matter"
            raise PromptError(f"{source}: front matter field {where}: {first['msg']}") from exc
        sections = _sections(parts[1].split("\n", 1)[1] if "\n" in parts[1] else "", source)
        used = set(_VAR.findall(sections["system"])) | set(_VAR.findall(sections["user"]))
        declared = set(meta.input_variables)
        if unknown := sorted(used - declared):
            raise UnknownVariablesError(
                f"{source}: template uses undeclared variable(s): {', '.join(unknown)}"
            )
        if unused := sorted(declared - used):
            raise MissingVariablesError(
                f"{source}: declared variable(s) missing from the template: {', '.join(unused)}"
            )
        return cls(
            id=meta.id,
            version=meta.version,
            description=meta.description,
            input_variables=tuple(meta.input_variables),
            model=meta.model,
            system=sections["system"],
            user=sections["user"],
            hash=hashlib.sha256(content.encode("utf-8")).hexdigest()[:16],
        )

    def render(self, variables: Mapping[str, str]) -> RenderedPrompt:
        """Fill the variables; every declared one must be given, and no other."""
        given = set(variables)
        if missing := sorted(set(self.input_variables) - given):
            raise MissingVariablesError(
                f"prompt {self.id} {self.version}: missing variable(s): {', '.join(missing)}"
            )
        if unknown := sorted(given - set(self.input_variables)):
            raise UnknownVariablesError(
                f"prompt {self.id} {self.version}: unknown variable(s): {', '.join(unknown)}"
            )

        def fill(template: str) -> str:
            # one pass, so a value that contains '{{ x }}' is never expanded again
            return _VAR.sub(lambda m: str(variables[m.group(1)]), template)

        return RenderedPrompt(
            system=fill(self.system),
            user=fill(self.user),
            prompt_id=self.id,
            version=self.version,
            hash=self.hash,
        )


def _sections(body: str, source: str) -> dict[str, str]:
    marks = list(_SECTION.finditer(body))
    names = [m.group(1).lower() for m in marks]
    if names != ["system", "user"]:
        raise PromptError(f"{source}: expected a '## system' then a '## user' section, got {names}")
    return {
        "system": body[marks[0].end() : marks[1].start()].strip(),
        "user": body[marks[1].end() :].strip(),
    }


def prompt_dir(override: Path | None = None) -> Path:
    """Where prompt files live: ``override``, the wheel's copy, or the checkout's."""
    if override is not None:
        return override
    package = Path(__file__).resolve().parents[1]  # huddle_ai/
    installed = package / "_prompts"
    return installed if installed.is_dir() else package.parent / "prompts"


def prompt_versions(name: str, directory: Path | None = None) -> list[str]:
    """The versions of a prompt that exist, e.g. ``['v1', 'v2']``."""
    folder = prompt_dir(directory) / name
    return sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []


def load_prompt(name: str, version: str = "v1", directory: Path | None = None) -> Prompt:
    """Load and validate ``prompts/<name>/<version>.md``."""
    if not _VERSION.match(version) or not re.match(r"^[a-z][a-z0-9_\-]*$", name):
        raise PromptError(f"invalid prompt name or version: {name!r} {version!r}")
    path = prompt_dir(directory) / name / f"{version}.md"
    if not path.is_file():
        found = ", ".join(prompt_versions(name, directory)) or "none"
        raise PromptError(f"prompt {name} {version} not found at {path} (versions: {found})")
    prompt = Prompt.parse(path.read_text(encoding="utf-8"), str(path))
    if prompt.id != name or prompt.version != version:
        raise PromptError(
            f"{path}: front matter says {prompt.id} {prompt.version}, file is {name} {version}"
        )
    return prompt.model_copy(update={"path": path})
