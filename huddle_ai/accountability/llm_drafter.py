"""The LLM path of the commitment drafter, through the one LLM client
(:class:`~huddle_ai.suggest.generators.client.LLMClient`).

The next step is learner text, so it is untrusted: PII is redacted before it
leaves (always, whatever the endpoint), it is escaped and sent inside
``<next_step>`` tags that the prompt (``prompts/commitment``) declares data.
The reply must be one JSON object ``{"text": "When ..., I will ..."}`` and
pass the same check as the offline draft (:func:`check_draft`: no vague
verb, an action, short) plus the output checks: no links or markup, no
instruction to an AI, no echo of the system prompt, no PII. An invalid reply
is sent back once with the reason; after that, or when the LLM fails, the
offline draft is returned with ``degraded=True`` and the reason.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from datetime import datetime

from huddle_ai.accountability.drafting import (
    CommitmentDraft,
    check_draft,
    draft_commitment,
    is_intention,
)
from huddle_ai.errors import GenerationError
from huddle_ai.settings import Settings
from huddle_ai.suggest.generators.checks import leaks_system_prompt
from huddle_ai.suggest.generators.client import LLMClient, Usage
from huddle_ai.suggest.privacy import Redactor, is_instruction, visible
from huddle_ai.suggest.prompts import Prompt, load_prompt

__all__ = ["LLMDrafter", "build_drafter"]

_JSON = re.compile(r"\{.*\}", re.DOTALL)
_LINK_OR_MARKUP = re.compile(r"https?://|www\.|<[^>]*>|\]\(|`", re.I)
_PARAMS = {"temperature", "top_p", "max_tokens", "seed"}
_MAX_WORDS = 60
# what the check may say of an LLM draft without rejecting it (the request's own gaps)
_REQUEST_GAPS = {"no_date", "past_date", "no_owner"}


class LLMDrafter:
    """Commitment drafts written by an LLM, checked like the offline ones."""

    name = "llm"

    def __init__(
        self,
        client: LLMClient,
        *,
        prompt: Prompt | None = None,
        max_repairs: int = 1,
        names: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.prompt = prompt or load_prompt("commitment")
        self.max_repairs = max_repairs
        self.names = tuple(names)  # people's names to redact besides the detected PII

    def _problems(self, text: str, system: str, learner_id: str | None) -> list[str]:
        problems = []
        if not is_intention(text):
            problems.append('it must read "When <situation>, I will <action>."')
        if len(text.split()) > _MAX_WORDS or "\n" in text.strip():
            problems.append(f"it must be one sentence of at most {_MAX_WORDS} words")
        issues = check_draft(text, learner_id=learner_id, due_at=None)
        problems += [i.message for i in issues if i.code not in _REQUEST_GAPS]
        shown = visible(text)
        if _LINK_OR_MARKUP.search(shown):
            problems.append("plain text only: no links, markup or code")
        if is_instruction(shown):
            problems.append("it addresses an AI or a grader; write the learner's commitment")
        if Redactor(names=self.names).redact(text)[1]:
            problems.append("it contains personal data (an email, phone number, name ...)")
        if leaks_system_prompt(text, system):
            problems.append("it repeats the instructions")
        return problems

    def _reply_text(self, content: str) -> str:
        m = _JSON.search(content)
        if m is None:
            raise ValueError("the reply is not a JSON object")
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError as exc:
            raise ValueError(f"the reply is not valid JSON ({exc.msg})") from exc
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ValueError('the JSON object has no "text" string')
        return " ".join(text.split())

    def draft(
        self,
        step: str,
        *,
        learner_id: str | None,
        huddle_id: str | None = None,
        due_at: datetime | None = None,
        cue: str | None = None,
        partner_id: str | None = None,
        solution_id: str | None = None,
        source: str = "next_step",
        now: datetime | None = None,
    ) -> CommitmentDraft:
        offline = draft_commitment(
            step,
            learner_id=learner_id,
            huddle_id=huddle_id,
            due_at=due_at,
            cue=cue,
            partner_id=partner_id,
            solution_id=solution_id,
            source=source,
            now=now,
        )
        usage = Usage()
        redactor = Redactor(names=self.names)
        rendered = self.prompt.render(
            {
                "step": self.client.scrub(step, usage, redactor=redactor),
                "cue": self.client.scrub(cue, usage, redactor=redactor) if cue else "(none)",
                "due": due_at.strftime("%A %-d %B %Y, %H:%M %Z") if due_at else "(not set)",
            }
        )
        messages = rendered.messages()
        params = {k: v for k, v in self.prompt.model.items() if k in _PARAMS}
        reasons: list[str] = []
        for _ in range(self.max_repairs + 1):
            try:
                content = self.client.complete(messages, usage, **params)
            except GenerationError as exc:
                reasons.append(str(exc))
                break
            try:
                text = self._reply_text(content)
                problems = self._problems(text, rendered.system, learner_id)
            except ValueError as exc:
                text, problems = "", [str(exc)]
            if not problems:
                return dataclasses.replace(
                    offline,
                    text=text,
                    issues=check_draft(text, learner_id=learner_id, due_at=due_at, now=now),
                    generator=self.name,
                    model=self.client.model,
                    prompt_version=rendered.version,
                    prompt_hash=rendered.hash,
                )
            reasons.append("; ".join(problems))
            messages = [
                *messages,
                {"role": "assistant", "content": content[:1000]},
                {
                    "role": "user",
                    "content": f"Your reply was rejected: {reasons[-1]}. Reply again with only "
                    'the JSON object {"text": "When ..., I will ..."}.',
                },
            ]
        return dataclasses.replace(
            offline, degraded=True, degraded_reason=f"LLM draft not used: {reasons[-1]}"
        )


def build_drafter(settings: Settings) -> LLMDrafter | None:
    """The LLM drafter when ``llm_base_url`` is set, else None (offline drafts)."""
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    client = LLMClient(
        settings.llm_base_url,
        settings.llm_model,
        key,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    return LLMDrafter(
        client,
        prompt=load_prompt("commitment", "v1", settings.prompt_dir),
        max_repairs=min(settings.llm_max_repairs, 2),
    )
