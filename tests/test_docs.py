"""The README stays true and short: every setting documented on the configuration page,
CI runs the README's test command, the README links into the docs."""

from __future__ import annotations

import re
from pathlib import Path

from huddle_ai import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = ROOT / "docs" / "reference" / "configuration.md"


def test_every_setting_is_on_the_configuration_page() -> None:
    page = CONFIGURATION.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`HUDDLE_AI_{name.upper()}`" in page, f"HUDDLE_AI_{name.upper()} undocumented"


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quick, flags=re.S)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    install_demo, install_test = commands
    assert install_demo.endswith("huddle-ai demo")
    assert "pytest" in install_test
    assert install_test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_is_short_and_its_links_resolve() -> None:
    assert len(README.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(local) >= 10, "the README should link into the docs"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
