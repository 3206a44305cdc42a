"""LangChain interop: an organization's retrieval as a retriever, prompt files
as chat prompt templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.retrievers import BaseRetriever

from huddle_ai import HuddleAI
from huddle_ai.interop.langchain import OrgRetriever, chat_prompt_template
from huddle_ai.records import Feedback, Huddle, Learner, Solution
from huddle_ai.suggest.prompts import load_prompt

T = datetime(2025, 1, 6, tzinfo=UTC)
H = Huddle(id="h1", title="Interviews", prompt="Run interviews.", goal="Interview customers.")


def _org(prefix: str) -> list[Huddle | Learner | Solution | Feedback]:
    texts = [
        "I interviewed five customers about onboarding and found three themes.",
        "Our postmortem found the root cause in a config change.",
        "I planned interview questions but ran no interviews.",
    ]
    out: list[Huddle | Learner | Solution | Feedback] = [
        H,
        Learner(id="l1", display_name="Lee One"),
        Learner(id="l2", display_name="Lou Two"),
    ]
    for i, text in enumerate(texts):
        out.append(Solution(id=f"s{i}", huddle_id="h1", learner_id="l1", created_at=T, text=text))
        out.append(
            Feedback(
                id=f"f{i}",
                solution_id=f"s{i}",
                author_id="l2",
                author_role="peer",
                text=f"{prefix} feedback {i}",
                helpfulness=0.5 + i / 10,
            )
        )
    return out


@pytest.fixture
def hai(fake_hai: HuddleAI) -> HuddleAI:
    fake_hai.ingest("acme", _org("ACME"))
    fake_hai.ingest("globex", _org("GLOBEX"))
    return fake_hai


def test_org_retriever_returns_that_orgs_solutions_with_feedback(hai: HuddleAI) -> None:
    retriever = OrgRetriever(store=hai.store, embedder=hai.embedder, org="acme", k=2)
    assert isinstance(retriever, BaseRetriever)
    query = "I interviewed five customers about onboarding and found three themes."
    docs = retriever.invoke(query)
    assert len(docs) == 2
    assert docs[0].page_content == query and docs[0].id == "solution:s0"
    assert docs[0].metadata["score"] >= docs[1].metadata["score"]
    for doc in docs:
        assert doc.metadata["org"] == "acme"
        fb = doc.metadata["feedback"]
        assert fb and all(f["text"].startswith("ACME feedback") for f in fb)


def test_org_retriever_never_crosses_organizations(hai: HuddleAI) -> None:
    for org in ("acme", "globex"):
        retriever = OrgRetriever(store=hai.store, embedder=hai.embedder, org=org, k=10)
        docs = retriever.invoke("interviews")
        assert len(docs) == 3
        texts = [f["text"] for d in docs for f in d.metadata["feedback"]]
        assert all(t.startswith(org.upper()) for t in texts)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_prompt_files_become_chat_prompt_templates(version: str) -> None:
    prompt = load_prompt("feedback", version)
    template = chat_prompt_template("feedback", version)
    assert set(template.input_variables) == set(prompt.input_variables)
    assert template.metadata == {
        "prompt_id": "feedback",
        "prompt_version": version,
        "prompt_hash": prompt.hash,
        "model": prompt.model,
    }
    # values with braces (JSON, code) pass through untouched, exactly like our own render
    values = {name: f"{{value of {name}}}" for name in prompt.input_variables}
    system, human = template.format_messages(**values)
    rendered = prompt.render(values)
    assert isinstance(system, SystemMessage) and system.content == rendered.system
    assert isinstance(human, HumanMessage) and human.content == rendered.user
    assert "{value of solution}" in human.content
