"""Delimiting untrusted text for a prompt: escaped so it cannot close its tag."""

from __future__ import annotations

__all__ = ["delimit", "escape"]


def escape(text: str) -> str:
    """Escape ``<``, ``>`` and ``&`` so untrusted text cannot fake a delimiter."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def delimit(tag: str, text: str) -> str:
    """``text`` escaped so it cannot open or close tags, inside ``<tag>``."""
    return f"<{tag}>\n{escape(text)}\n</{tag}>"
