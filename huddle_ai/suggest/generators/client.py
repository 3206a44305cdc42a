"""The one OpenAI-compatible LLM client: the only code that talks to an LLM.

:class:`LLMClient` sends Chat Completions requests to any OpenAI-compatible
endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp, the shipped
:class:`~huddle_ai.fake_llm.FakeLLM`). It owns what every caller needs:

- retries with exponential backoff and jitter on rate limits (429), 5xx,
  timeouts and lost connections, ``max_retries`` times per request (the SDK's
  own retries are off, so each one is counted);
- error mapping into :mod:`huddle_ai.errors`: :class:`TransientError` when the
  retries ran out, :class:`GenerationError` for a refused request;
- token usage, from the reply's ``usage`` field or estimated offline;
- untrusted text: :meth:`LLMClient.untrusted` redacts it (the PII hook: a
  :class:`~huddle_ai.suggest.privacy.Redactor`, the client's own or one per call),
  escapes it and wraps it in a tag the system prompt declares data.

Callers (the feedback generator, the eval judge, the commitment drafter)
build prompts and validate replies; they never import ``openai`` themselves.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai

from huddle_ai.errors import GenerationError, TransientError
from huddle_ai.suggest.privacy import Redactor, escape
from huddle_ai.suggest.tokens import count_tokens

__all__ = ["LLMClient", "Usage"]


@dataclass
class Usage:
    """Tokens and retries spent, accumulated over one or more requests."""

    prompt: int = 0
    completion: int = 0
    retries: int = 0
    redactions: int = 0


class LLMClient:
    """Chat completions from one endpoint and model, with retries and redaction."""

    def __init__(
        self,
        base_url: str | None,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        redactor: Redactor | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.redactor = redactor
        # retries are ours (counted, with our backoff), so the SDK's are off
        self._openai = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
        )

    def scrub(
        self, text: str, usage: Usage | None = None, *, redactor: Redactor | None = None
    ) -> str:
        """``text`` redacted (with ``redactor`` or the client's own) and escaped so
        it cannot open or close a tag; redactions are added to ``usage``."""
        chosen = redactor or self.redactor
        if chosen is not None:
            text, n = chosen.redact(text)
            if usage is not None:
                usage.redactions += n
        return escape(text)

    def untrusted(
        self,
        tag: str,
        text: str,
        usage: Usage | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> str:
        """``text`` scrubbed (:meth:`scrub`) and inside ``<tag>``, a tag the
        system prompt declares data, never instructions."""
        return f"<{tag}>\n{self.scrub(text, usage, redactor=redactor)}\n</{tag}>"

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        usage: Usage | None = None,
        **params: Any,
    ) -> str:
        """The reply's text; transient failures are retried with backoff.

        ``params`` go to the request as they are (``temperature``,
        ``response_format`` ...). Raises :class:`TransientError` once the
        retries are spent, :class:`GenerationError` for a refused request.
        """
        spent = usage if usage is not None else Usage()
        for retry in range(self.max_retries + 1):
            try:
                return self._call(messages, spent, params)
            except TransientError as exc:
                if retry == self.max_retries:
                    raise TransientError(f"{exc} (after {retry} retries)") from exc
                spent.retries += 1
                delay = min(self.backoff_max_s, self.backoff_base_s * 2**retry)
                time.sleep(delay + random.uniform(0, self.backoff_base_s))
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(
        self, messages: Sequence[Mapping[str, str]], usage: Usage, params: Mapping[str, Any]
    ) -> str:
        try:
            resp = self._openai.chat.completions.create(
                model=self.model,
                messages=[dict(m) for m in messages],  # type: ignore[misc]
                **params,
            )
        except openai.APITimeoutError as exc:
            raise TransientError(f"LLM request timed out after {self.timeout_s}s") from exc
        except openai.APIConnectionError as exc:
            raise TransientError(f"cannot reach the LLM at {self.base_url}: {exc}") from exc
        except openai.RateLimitError as exc:
            raise TransientError("LLM rate limited (429)") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise TransientError(f"LLM server error ({exc.status_code})") from exc
            raise GenerationError(
                f"LLM request refused ({exc.status_code}): {exc.message}"
            ) from exc
        except openai.OpenAIError as exc:
            raise GenerationError(f"LLM call failed: {exc}") from exc
        choice = resp.choices[0] if resp.choices else None
        content = (choice.message.content if choice else None) or ""
        if resp.usage is not None:
            usage.prompt += int(resp.usage.prompt_tokens or 0)
            usage.completion += int(resp.usage.completion_tokens or 0)
        else:
            # some local servers omit usage: estimate offline
            usage.prompt += sum(count_tokens(m["content"]) for m in messages)
            usage.completion += count_tokens(content)
        return content
