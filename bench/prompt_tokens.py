"""Prompt token counts of the LLM path on every demo solution (one JSON line).

For each stored demo solution it builds the real context (real model, default
token budget), sends it through the LLM generator to the scripted fake server
with redaction on, and reads ``prompt_tokens`` from the server's usage field
(counted with ``huddle_ai.suggest.tokens`` on the messages actually received). Prompts
v1 and v2 are both measured.

    python bench/prompt_tokens.py
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from huddle_ai import HuddleAI, SentenceTransformerEmbedder, Store
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.fake_llm import FakeLLM, Reply
from huddle_ai.records import Solution
from huddle_ai.suggest.context import build_context
from huddle_ai.suggest.feedback import learner_names
from huddle_ai.suggest.generators.llm import LLMGenerator


def _body(criteria: list[str]) -> dict[str, object]:
    return {
        "text": "t",
        "strengths": [],
        "suggestions": [],
        "questions": [],
        "next_step": "n",
        # a partial reply passes the output checks without quoting the solution
        "rubric": [{"criterion_id": c, "level": "partial", "evidence": "e"} for c in criteria],
        "assessment": "partial",
        "citations": [],
    }


def main() -> None:
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        hai = HuddleAI(embedder=embedder, store=Store.embedded(Path(tmp), embedder.id))
        hai.ingest(DEMO_ORG, demo_path())
        solutions = [r for r in hai.records(DEMO_ORG) if isinstance(r, Solution)]
        names = learner_names(hai.store, DEMO_ORG)
        out: dict[str, object] = {"bench": "prompt_tokens", "solutions": len(solutions)}
        with FakeLLM() as llm:
            gens = {
                v: LLMGenerator(llm.base_url, "fake", prompt_version=v, redact=True)
                for v in ("v1", "v2")
            }
            counts: dict[str, list[int]] = {v: [] for v in gens}
            context_tokens: list[int] = []
            for sol in solutions:
                ctx = build_context(hai.store, embedder, DEMO_ORG, solution_id=sol.id)
                context_tokens.append(ctx.tokens)
                private = [n for lid, n in names.items() if lid != ctx.learner_id]
                for v, gen in gens.items():
                    llm.push(Reply.json(_body([c.id for c in ctx.huddle.rubric])))
                    s = gen.generate(ctx, private_names=private)
                    counts[v].append(s.prompt_tokens)
        for v, c in counts.items():
            arr = np.asarray(c)
            out[f"{v}_prompt_tokens"] = {
                "mean": round(float(arr.mean()), 1),
                "p50": int(np.percentile(arr, 50)),
                "p95": int(np.percentile(arr, 95)),
                "max": int(arr.max()),
            }
        out["context_tokens_mean"] = round(float(np.mean(context_tokens)), 1)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
