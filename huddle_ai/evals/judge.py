"""LLM-as-judge: grade a feedback sample with a rubric prompt on any OpenAI-compatible endpoint.

The rubric lives in ``prompts/judge/<version>.md``. The judge asks for 1-5
grades per dimension and returns them as scores in [0, 1] named
``judge_<dimension>``, so they sit beside the automatic scorers and can be
checked against the same human labels.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import openai

from huddle_ai.errors import GenerationError
from huddle_ai.evals.sample import Sample
from huddle_ai.evals.scorers import Score
from huddle_ai.prompts import load_prompt

__all__ = ["DIMENSIONS", "Judge"]

DIMENSIONS = ("specificity", "actionability", "tone_balance", "rubric_coverage", "overall")
_JSON = re.compile(r"\{.*\}", re.S)


class Judge:
    """Grades samples with the judge prompt; one chat completion per sample."""

    def __init__(
        self,
        base_url: str | None,
        model: str,
        api_key: str | None = None,
        *,
        prompt_version: str = "v1",
        prompt_directory: Path | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self.prompt = load_prompt("judge", prompt_version, prompt_directory)
        self.model = model
        self.base_url = base_url
        self.max_retries = max_retries
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )

    @property
    def metric_names(self) -> list[str]:
        return [f"judge_{d}" for d in DIMENSIONS]

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_version": self.prompt.version,
            "prompt_hash": self.prompt.hash,
        }

    def _ask(self, messages: list[dict[str, str]]) -> str:
        params = {k: v for k, v in self.prompt.model.items() if k in ("temperature", "max_tokens")}
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    **params,
                )
                return resp.choices[0].message.content or ""
            except (
                openai.APIConnectionError,
                openai.RateLimitError,
                openai.InternalServerError,
            ) as exc:
                last = exc
                time.sleep(min(2.0, 0.2 * 2**attempt))
            except openai.APIError as exc:
                raise GenerationError(f"judge request failed: {exc}") from exc
        raise GenerationError(f"judge request failed after retries: {last}")

    def grade(self, sample: Sample) -> dict[str, Score]:
        """``judge_<dimension>`` scores in [0, 1]; nan scores when the reply is unusable."""
        huddle = sample.huddle
        rubric = "\n".join(
            f"- {c.id} {c.name}: {c.description}" for c in (huddle.rubric if huddle else [])
        )
        rendered = self.prompt.render(
            {
                "huddle": f"{huddle.title}: {huddle.goal}" if huddle else "(unknown)",
                "rubric": rubric or "(none)",
                "solution": sample.solution or "(none)",
                "feedback": sample.text,
            }
        )
        try:
            content = self._ask(rendered.messages())
        except GenerationError as exc:
            return {m: Score.na(str(exc)) for m in self.metric_names}
        match = _JSON.search(content)
        try:
            data = json.loads(match.group(0)) if match else None
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            return {m: Score.na("judge reply was not a JSON object") for m in self.metric_names}
        why = str(data.get("explanation", ""))[:200]
        out: dict[str, Score] = {}
        for dim in DIMENSIONS:
            raw = data.get(dim)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and 1 <= raw <= 5:
                out[f"judge_{dim}"] = Score((float(raw) - 1) / 4, f"judge: {raw}/5. {why}")
            else:
                out[f"judge_{dim}"] = Score.na(f"judge gave no 1-5 grade for {dim}")
        return out
