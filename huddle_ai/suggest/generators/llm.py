"""The LLM generator: any OpenAI-compatible Chat Completions endpoint.

It renders a prompt file with
the context (everything from the store is untrusted: escaped, delimited and,
when asked, redacted), requests structured output against the JSON schema of
:class:`~huddle_ai.suggest.suggestion.SuggestionBody`, and validates the reply with
:mod:`huddle_ai.suggest.generators.checks` before accepting it. An invalid reply is
repaired: the validation error goes back to the model, up to ``max_repairs``
times (instructor-style; :class:`InvalidOutputError` carries the attempts).
Requests go through the one LLM client (:mod:`huddle_ai.suggest.generators.client`):
rate limits, 5xx, timeouts and lost connections are retried with exponential
backoff, ``max_retries`` times per request. A reply that repeats the system
prompt is rejected outright: the injection worked, a retry would not make it
trustworthy. An accepted reply has PII and other learners' names redacted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from huddle_ai.errors import InvalidOutputError
from huddle_ai.suggest.context import ContextItem, FeedbackContext
from huddle_ai.suggest.generators import Generator
from huddle_ai.suggest.generators.checks import (
    OutputPolicy,
    body_strings,
    leaks_system_prompt,
    redact_body,
    reply_problems,
    shown_ids,
)
from huddle_ai.suggest.generators.client import LLMClient, Usage
from huddle_ai.suggest.privacy import Redactor, delimit, escape
from huddle_ai.suggest.prompts import Prompt, RenderedPrompt, load_prompt
from huddle_ai.suggest.suggestion import FeedbackSuggestion, SuggestionBody

__all__ = ["LLMGenerator", "feedback_variables", "render_feedback_prompt", "strict_schema"]

ResponseFormat = Literal["json_schema", "json_object", "none"]
_MODEL_PARAMS = {
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "stop",
}
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
# the tag each kind of stored text is delimited with in the prompt
_TAGS = {"solution": "past_solution", "feedback": "past_feedback"}
# a long rejected reply is sent back for repair only in part
_ECHO_CHARS = 2_000


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema made acceptable to OpenAI's strict structured output:
    every property required, no defaults or titles."""

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: fix(v) for k, v in node.items() if k not in ("default", "title")}
            if out.get("type") == "object" and "properties" in out:
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return dict(fix(dict(schema)))


_SCHEMA = strict_schema(SuggestionBody.model_json_schema())


def _meta_note(item: ContextItem) -> str:
    notes: list[str] = []
    meta = item.meta
    if item.kind == "feedback":
        if meta.get("solution_id"):
            notes.append(f"on solution:{meta['solution_id']}")
        if meta.get("author_role"):
            notes.append(str(meta["author_role"]))
        if isinstance(meta.get("helpfulness"), (int, float)):
            notes.append(f"helpfulness {float(meta['helpfulness']):.2f}")  # type: ignore[arg-type]
    if meta.get("assessment"):
        notes.append(f"judged {meta['assessment']}")
    if item.kind == "solution" and not meta.get("same_huddle", 1):
        notes.append("other huddle")
    return f" ({', '.join(notes)})" if notes else ""


def feedback_variables(
    context: FeedbackContext, redactor: Redactor | None = None
) -> tuple[dict[str, str], int]:
    """The feedback prompt's variables for ``context`` and the redaction count.

    Everything read from the store is untrusted: it is redacted when a
    redactor is given and escaped, so it cannot open or close a delimiter.
    The solution, each past solution and each past feedback sit inside their
    own tags (``<learner_solution>``, ``<past_solution>``, ``<past_feedback>``),
    which the system prompt declares data, never instructions.
    """
    count = 0

    def clean(text: str) -> str:
        nonlocal count
        if redactor is not None:
            text, n = redactor.redact(text)
            count += n
        return " ".join(text.split())

    huddle = context.huddle
    ids = context.item_ids()
    rubric_lines = []
    for c in huddle.rubric:
        cite = f" [cite criterion:{c.id}]" if f"criterion:{c.id}" in ids else ""
        line = f"- {escape(c.id)}: {escape(clean(c.name))}: {escape(clean(c.description))}{cite}"
        if c.exemplar:
            line += f"\n  Exemplar: {escape(clean(c.exemplar))}"
        rubric_lines.append(line)
    context_blocks = [
        f"[{escape(i.id)}]{escape(_meta_note(i))}\n{delimit(_TAGS[i.kind], clean(i.text))}"
        for i in context.items
        if i.kind in _TAGS
    ]
    values = {
        "huddle_title": escape(clean(huddle.title)),
        "huddle_prompt": escape(clean(huddle.prompt)),
        "huddle_goal": escape(clean(huddle.goal)) + (" [cite goal]" if "goal" in ids else ""),
        "rubric": "\n".join(rubric_lines) or "(no rubric: judge against the goal)",
        "context": "\n".join(context_blocks) or "(no past solutions yet)",
        "solution": escape(clean(context.solution_text)),
    }
    return values, count


def render_feedback_prompt(
    prompt: Prompt, context: FeedbackContext, redactor: Redactor | None = None
) -> tuple[RenderedPrompt, int]:
    """Render a feedback prompt for ``context``; returns it and the redaction count."""
    values, count = feedback_variables(context, redactor)
    return prompt.render(values), count


def _parse(content: str, context: FeedbackContext) -> SuggestionBody:
    """Validate one reply; raises ValueError with a message fit to feed back."""
    m = _FENCE.match(content)
    raw = m.group(1) if m else content.strip()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg} at char {exc.pos})") from exc
    try:
        body = SuggestionBody.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise ValueError(f"the JSON does not match the schema: {problems}") from exc
    expected = {c.id for c in context.huddle.rubric}
    got = [r.criterion_id for r in body.rubric]
    if expected and (set(got) != expected or len(got) != len(expected)):
        missing = sorted(expected - set(got))
        unknown = shown_ids(set(got) - expected)
        raise ValueError(
            "rubric must have exactly one entry per criterion "
            f"(missing: {missing or 'none'}; unknown: {unknown or 'none'}; "
            f"entries: {len(got)} for {len(expected)} criteria)"
        )
    return body


class LLMGenerator(Generator):
    """Feedback from an OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp)."""

    name = "llm"

    def __init__(
        self,
        base_url: str | None,
        model: str,
        api_key: str | None = None,
        *,
        prompt: Prompt | None = None,
        prompt_version: str = "v1",
        prompt_directory: Path | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        max_repairs: int = 2,
        redact: bool = True,
        response_format: ResponseFormat = "json_schema",
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        policy: OutputPolicy | None = None,
        client: LLMClient | None = None,
    ) -> None:
        self.prompt = prompt or load_prompt("feedback", prompt_version, prompt_directory)
        self.model = model
        self.base_url = base_url
        self.max_repairs = max_repairs
        self.redact = redact
        self.response_format = response_format
        self.policy = policy or OutputPolicy()
        self.client = client or LLMClient(
            base_url,
            model,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
        )

    def generate(
        self, context: FeedbackContext, *, private_names: Collection[str] = ()
    ) -> FeedbackSuggestion:
        """A validated suggestion; ``private_names`` are learner names to redact."""
        start = time.perf_counter()
        hidden = sorted({*private_names, *context.other_names})
        redactor = Redactor(names=hidden, keep=context.learner_name) if self.redact else None
        rendered, redactions = render_feedback_prompt(self.prompt, context, redactor)
        messages: list[dict[str, str]] = rendered.messages()
        usage = Usage()
        failures: list[str] = []
        content = ""
        for attempt in range(1, self.max_repairs + 2):
            content = self.client.complete(messages, usage, **self._request_kwargs())
            try:
                body = self._accept(content, context, rendered.system, failures)
            except ValueError as exc:
                failures.append(str(exc))
                echoed = content if len(content) <= _ECHO_CHARS else content[:_ECHO_CHARS] + "..."
                messages = [
                    *messages,
                    {"role": "assistant", "content": echoed},
                    {
                        "role": "user",
                        "content": f"Your reply was invalid: {exc}. Reply again with only "
                        "the corrected JSON object.",
                    },
                ]
                continue
            # the reply goes to people: never with PII or other learners' names,
            # whatever the endpoint (a local model may have seen them unredacted)
            output_redactor = redactor or Redactor(names=hidden, keep=context.learner_name)
            body, scrubbed = redact_body(body, output_redactor)
            return FeedbackSuggestion(
                **body.model_dump(),
                generator=self.name,
                model=self.model,
                prompt_id=rendered.prompt_id,
                prompt_version=rendered.version,
                prompt_hash=rendered.hash,
                latency_ms=round((time.perf_counter() - start) * 1000, 1),
                prompt_tokens=usage.prompt,
                completion_tokens=usage.completion,
                context_tokens=context.tokens,
                attempts=attempt,
                retries=usage.retries,
                redactions=redactions + scrubbed,
            )
        raise InvalidOutputError(
            f"LLM output invalid after {len(failures)} attempt(s): {failures[-1]}",
            failures,
            content,
        )

    def _accept(
        self, content: str, context: FeedbackContext, system: str, failures: list[str]
    ) -> SuggestionBody:
        """The reply as a body, if it passes every check.

        Raises ValueError (worth a repair) or InvalidOutputError for a reply
        that repeats the system prompt: the injection worked, and a repair
        would not make the model trustworthy again.
        """
        limit = self.policy.max_reply_chars
        if len(content) > limit:
            raise ValueError(f"the reply has {len(content)} characters (at most {limit})")
        leaked = leaks_system_prompt(content, system)
        body: SuggestionBody | None = None
        if not leaked:
            body = _parse(content, context)
            leaked = leaks_system_prompt([*body_strings(body), *body.citations], system)
        if leaked or body is None:
            failures.append("the reply repeats the system prompt")
            raise InvalidOutputError(
                "LLM output rejected: it repeats the system prompt (prompt injection)",
                failures,
                content,
            )
        if problems := reply_problems(body, context, self.policy):
            raise ValueError("; ".join(problems))
        return body

    # -- transport -----------------------------------------------------------

    def _request_kwargs(self) -> dict[str, Any]:
        kwargs = {k: v for k, v in self.prompt.model.items() if k in _MODEL_PARAMS}
        if self.response_format == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "feedback_suggestion", "schema": _SCHEMA, "strict": True},
            }
        elif self.response_format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs
