"""LLM-as-judge: grade a feedback sample with a rubric prompt on any OpenAI-compatible endpoint.

The rubric lives in ``prompts/judge/<version>.md``. The judge asks for 1-5
grades per dimension and returns them as scores in [0, 1] named
``judge_<dimension>``, so they sit beside the automatic scorers and can be
checked against the same human labels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from huddle_ai.errors import GenerationError
from huddle_ai.evals.labelled import DIMENSIONS as LABELLED
from huddle_ai.evals.sample import Sample
from huddle_ai.evals.scorers import Score
from huddle_ai.suggest.generators.client import LLMClient, Usage
from huddle_ai.suggest.privacy import Redactor
from huddle_ai.suggest.prompts import load_prompt

__all__ = ["DIMENSIONS", "DIMENSIONS_BY_VERSION", "Judge"]

DIMENSIONS = ("specificity", "actionability", "tone_balance", "rubric_coverage", "overall")
# what each prompt version grades: v2 grades the five dimensions people label
# (huddle_ai.evals.labelled), so its agreement is measured like the learned scorers'
DIMENSIONS_BY_VERSION = {"v1": DIMENSIONS, "v2": LABELLED}
_JSON = re.compile(r"\{.*\}", re.S)
_PARAMS = ("temperature", "max_tokens")


class Judge:
    """Grades samples with the judge prompt; one chat completion per sample.

    Requests go through the one LLM client (retries, error mapping); the
    solution and the feedback are untrusted: redacted when a redactor is
    given, and escaped so they cannot close the tags they sit in.
    """

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
        backoff_base_s: float = 0.2,
        redactor: Redactor | None = None,
        client: LLMClient | None = None,
    ) -> None:
        self.prompt = load_prompt("judge", prompt_version, prompt_directory)
        self.client = client or LLMClient(
            base_url,
            model,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=2.0,
            redactor=redactor,
        )
        self.model = self.client.model
        self.usage = Usage()
        self.dimensions = DIMENSIONS_BY_VERSION.get(self.prompt.version, DIMENSIONS)

    @property
    def metric_names(self) -> list[str]:
        return [f"judge_{d}" for d in self.dimensions]

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_version": self.prompt.version,
            "prompt_hash": self.prompt.hash,
        }

    def _ask(self, messages: list[dict[str, str]]) -> str:
        params = {k: v for k, v in self.prompt.model.items() if k in _PARAMS}
        try:
            return self.client.complete(messages, self.usage, **params)
        except GenerationError as exc:
            raise GenerationError(f"judge request failed: {exc}") from exc

    def grade(self, sample: Sample) -> dict[str, Score]:
        """``judge_<dimension>`` scores in [0, 1]; nan scores when the reply is unusable."""
        huddle = sample.huddle
        rubric = "\n".join(
            f"- {c.id} {c.name}: {c.description}" for c in (huddle.rubric if huddle else [])
        )
        if not rubric and sample.criteria:
            rubric = "\n".join(f"- {c}" for c in sample.criteria)
        scrub = self.client.scrub
        values = {
            "huddle": scrub(f"{huddle.title}: {huddle.goal}") if huddle else "(unknown)",
            "task": scrub(sample.task or (f"{huddle.title}: {huddle.prompt}" if huddle else ""))
            or "(unknown)",
            "reference": scrub(sample.answer) if sample.answer else "(none)",
            "rubric": scrub(rubric) if rubric else "(none)",
            # the prompt puts these inside their tags; escaped, they cannot close them
            "solution": scrub(sample.solution, self.usage) if sample.solution else "(none)",
            "feedback": scrub(sample.text, self.usage),
        }
        rendered = self.prompt.render(
            {k: v for k, v in values.items() if k in self.prompt.input_variables}
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
        for dim in self.dimensions:
            raw = data.get(dim)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and 1 <= raw <= 5:
                out[f"judge_{dim}"] = Score((float(raw) - 1) / 4, f"judge: {raw}/5. {why}")
            else:
                out[f"judge_{dim}"] = Score.na(f"judge gave no 1-5 grade for {dim}")
        return out
