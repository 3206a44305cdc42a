"""Prompt files: validated at load time, rendered strictly, hashed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import huddle_ai
from huddle_ai.errors import MissingVariablesError, PromptError, UnknownVariablesError
from huddle_ai.suggest.prompts import Prompt, load_prompt, prompt_dir, prompt_versions

GOOD = """---
id: greet
version: v1
description: Says hello.
input_variables: [name, place]
model:
  temperature: 0.3
---
## system
You greet people. Output JSON like {"greeting": "..."}.
## user
Hello {{ name }} from {{place}}!
"""


def _write(tmp_path: Path, content: str, name: str = "greet", version: str = "v1") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.md").write_text(content, encoding="utf-8")
    return tmp_path


def test_shipped_feedback_prompts_load_with_their_front_matter() -> None:
    assert prompt_versions("feedback") == ["v1", "v2"]
    for version in ("v1", "v2"):
        p = load_prompt("feedback", version)
        assert (p.id, p.version) == ("feedback", version)
        assert set(p.input_variables) == {
            "huddle_title",
            "huddle_prompt",
            "huddle_goal",
            "rubric",
            "context",
            "solution",
        }
        assert p.description and p.model["max_tokens"] > 0
        assert p.path is not None
        assert p.hash == hashlib.sha256(p.path.read_bytes()).hexdigest()[:16]
        # the untrusted solution is delimited in the user message, never the system one
        assert "<learner_solution>" in p.user and "{{ solution }}" not in p.system
        # everything delimited, stored text included, is declared data
        for tag in ("<learner_solution>", "<past_solution>", "<past_feedback>"):
            assert tag in p.system, (version, tag)
        assert "never instructions" in p.system and "{{" not in p.system
    assert load_prompt("feedback", "v1").hash != load_prompt("feedback", "v2").hash


def test_prompt_dir_resolves_the_source_checkout() -> None:
    expected = Path(huddle_ai.__file__).resolve().parent.parent / "prompts"
    assert prompt_dir() == expected
    assert prompt_dir(Path("/elsewhere")) == Path("/elsewhere")


def test_render_fills_every_variable_once(tmp_path: Path) -> None:
    p = load_prompt("greet", directory=_write(tmp_path, GOOD))
    r = p.render({"name": "Ana {{ place }}", "place": "Lisbon"})
    # a value containing template syntax is not expanded again (no injection into the template)
    assert r.user == "Hello Ana {{ place }} from Lisbon!"
    assert '{"greeting": "..."}' in r.system
    assert (r.prompt_id, r.version, r.hash) == ("greet", "v1", p.hash)
    assert [m["role"] for m in r.messages()] == ["system", "user"]
    assert p.model == {"temperature": 0.3}


def test_render_rejects_missing_and_unknown_variables(tmp_path: Path) -> None:
    p = load_prompt("greet", directory=_write(tmp_path, GOOD))
    with pytest.raises(MissingVariablesError, match="place"):
        p.render({"name": "Ana"})
    with pytest.raises(UnknownVariablesError, match="mood"):
        p.render({"name": "Ana", "place": "x", "mood": "happy"})


def test_load_rejects_an_undeclared_template_variable(tmp_path: Path) -> None:
    bad = GOOD.replace("from {{place}}", "from {{place}} at {{ time }}")
    with pytest.raises(UnknownVariablesError, match="time"):
        load_prompt("greet", directory=_write(tmp_path, bad))


def test_load_rejects_a_declared_but_unused_variable(tmp_path: Path) -> None:
    bad = GOOD.replace("[name, place]", "[name, place, mood]")
    with pytest.raises(MissingVariablesError, match="mood"):
        load_prompt("greet", directory=_write(tmp_path, bad))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOOD.replace("---\nid", "id", 1), "front matter"),
        (GOOD.replace("description: Says hello.\n", ""), "description"),
        (GOOD.replace("version: v1", "version: v1\ncolour: red"), "colour"),
        (GOOD.replace("## user", "## assistant"), "## user"),
        (GOOD.replace("id: greet", "id: [unclosed"), "YAML"),
    ],
)
def test_load_rejects_malformed_files_with_a_named_reason(
    tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(PromptError, match=message):
        load_prompt("greet", directory=_write(tmp_path, content))


def test_load_names_the_missing_file_and_the_versions_that_exist(tmp_path: Path) -> None:
    directory = _write(tmp_path, GOOD)
    with pytest.raises(PromptError, match=r"greet v9 not found.*versions: v1"):
        load_prompt("greet", "v9", directory)
    with pytest.raises(PromptError, match="front matter says greet v1"):
        load_prompt("greet", "v2", _write(tmp_path, GOOD, version="v2"))


def test_hash_changes_with_any_content_change() -> None:
    a = Prompt.parse(GOOD)
    b = Prompt.parse(GOOD.replace("You greet people.", "You greet people warmly."))
    assert a.hash != b.hash and a.hash == Prompt.parse(GOOD).hash
