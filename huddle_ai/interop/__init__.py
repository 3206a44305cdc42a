"""Interop with other frameworks: LangChain (``huddle_ai.interop.langchain``)."""

from huddle_ai.interop.langchain import OrgRetriever, chat_prompt_template

__all__ = ["OrgRetriever", "chat_prompt_template"]
