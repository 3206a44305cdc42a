"""The README stays true: every setting documented, CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from huddle_ai import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"`HUDDLE_AI_{name.upper()}`" in README, f"HUDDLE_AI_{name.upper()} undocumented"


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quick, flags=re.S)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    install_demo, install_test = commands
    assert install_demo.endswith("huddle-ai demo")
    assert "pytest" in install_test
    assert install_test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
