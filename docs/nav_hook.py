"""MkDocs hook: pages that other work adds during a session join the nav when they exist.

docs/scorers.md and docs/accountability.md are written by other engineers; until they
exist the nav must not name them (``mkdocs build --strict`` fails on a missing page), and
once they exist they must be in it (it fails on a page left out of the nav too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (file, title, section of the nav it joins)
OPTIONAL = [
    ("accountability.md", "Run the accountability loop", "How-to guides"),
    ("scorers.md", "Scorers and their agreement", "How-to guides"),
]


def _listed(nav: Any, path: str) -> bool:
    if isinstance(nav, str):
        return nav == path
    if isinstance(nav, list):
        return any(_listed(item, path) for item in nav)
    if isinstance(nav, dict):
        return any(_listed(value, path) for value in nav.values())
    return False


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    nav = config["nav"]
    for path, title, section in OPTIONAL:
        if not (docs / path).exists() or _listed(nav, path):
            continue
        for item in nav:
            if isinstance(item, dict) and section in item:
                item[section].append({title: path})
                break
    return config
