"""The demo organization, shipped as package data (written for this project)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_ORG", "demo_path"]

DEMO_ORG = "demo"


def demo_path() -> Path:
    """The demo organization's JSONL file."""
    return Path(__file__).resolve().parent / "org.jsonl"
