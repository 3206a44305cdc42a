"""LangChain interop: an organization's retrieval as a retriever, prompt files
as chat prompt templates, for teams that already run LangChain pipelines.

``langchain_core`` is imported here only, so the rest of the library does not
depend on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from huddle_ai.index.embeddings import Embedder
from huddle_ai.index.store import Store
from huddle_ai.suggest.prompts import Prompt, load_prompt
from huddle_ai.suggest.retrieval import similar

__all__ = ["OrgRetriever", "chat_prompt_template"]

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class OrgRetriever(BaseRetriever):
    """The most similar past solutions of one organization, with their most
    helpful feedback in ``metadata['feedback']``. Queries never leave ``org``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Store
    embedder: Embedder
    org: str
    k: int = Field(4, ge=1)
    huddle_id: str | None = None
    feedback_per_solution: int = Field(2, ge=0)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = similar(
            self.store, self.embedder, self.org, text=query, huddle_id=self.huddle_id, k=self.k
        )
        docs = []
        for nb in result.neighbors:
            feedback = nb.feedback[: self.feedback_per_solution]
            docs.append(
                Document(
                    page_content=nb.solution.text,
                    id=f"solution:{nb.solution.id}",
                    metadata={
                        "org": self.org,
                        "solution_id": nb.solution.id,
                        "huddle_id": nb.solution.huddle_id,
                        "score": nb.score,
                        "same_huddle": nb.same_huddle,
                        "feedback": [
                            {"id": f.id, "text": f.text, "helpfulness": f.helpfulness}
                            for f in feedback
                        ],
                    },
                )
            )
        return docs


def _to_fstring(template: str) -> str:
    # literal braces (e.g. JSON in the instructions) must survive f-string formatting
    pieces: list[str] = []
    last = 0
    for m in _VAR.finditer(template):
        pieces.append(template[last : m.start()].replace("{", "{{").replace("}", "}}"))
        pieces.append("{" + m.group(1) + "}")
        last = m.end()
    pieces.append(template[last:].replace("{", "{{").replace("}", "}}"))
    return "".join(pieces)


def chat_prompt_template(
    prompt: Prompt | str, version: str = "v1", directory: Path | None = None
) -> ChatPromptTemplate:
    """A prompt file (or a loaded :class:`Prompt`) as a LangChain ``ChatPromptTemplate``.

    The template's metadata records the prompt id, version and content hash.
    """
    loaded = prompt if isinstance(prompt, Prompt) else load_prompt(prompt, version, directory)
    template = ChatPromptTemplate.from_messages(
        [("system", _to_fstring(loaded.system)), ("human", _to_fstring(loaded.user))]
    )
    meta: dict[str, Any] = {
        "prompt_id": loaded.id,
        "prompt_version": loaded.version,
        "prompt_hash": loaded.hash,
        "model": dict(loaded.model),
    }
    return template.model_copy(update={"metadata": meta})
