"""The first hour of a new user (issue 15): each papercut, checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import huddle_ai.settings

USER_CODE = """\
from pathlib import Path

from user_settings import Settings

default = Settings()
chosen = Settings(data_dir=Path("store"), llm_model="m", embedding_batch_size=8)
wrong = Settings(data_dir=3.5)  # error expected here
"""


def test_settings_type_check_in_user_code_without_the_pydantic_plugin(tmp_path: Path) -> None:
    # settings.py on its own (it imports only pydantic), so mypy need not read the package
    shutil.copy(huddle_ai.settings.__file__, tmp_path / "user_settings.py")
    (tmp_path / "user.py").write_text(USER_CODE)
    (tmp_path / "mypy.ini").write_text("[mypy]\n")  # no plugins
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    # only the wrong call fails: mypy does check the arguments, and needs none of them
    assert [e.split(":")[1] for e in errors] == ["7"], done.stdout
    assert "data_dir" in errors[0] and "Missing named argument" not in done.stdout
