"""Fixed-seed synthetic corpora shared by the bench scripts.

Texts are about 400 characters of learning-solution prose assembled from word
lists, with a topic vocabulary per huddle so that solutions of one huddle are
closer to each other than to the rest (as in a real organization). Synthetic
vectors, used where embedding every text would take too long, are clustered
the same way: one centroid per huddle plus noise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from huddle_ai.index.store import Store
from huddle_ai.records import AuthorRole, Criterion, Feedback, Huddle, Learner, Level, Solution

__all__ = ["Corpus", "clustered_vectors", "load", "make_corpus", "texts"]

SEED = 20240607

_TOPIC_WORDS: list[tuple[str, str]] = [
    ("customer onboarding", "onboarding|welcome call|churn|first week|checklist|activation"),
    ("incident review", "outage|root cause|timeline|pager|postmortem|rollback"),
    ("sales discovery", "discovery call|pain points|budget|champion|objection|pipeline"),
    ("team retrospective", "retro|action items|psychological safety|sprint|blockers|cadence"),
    ("pricing experiment", "price point|conversion|cohort|A/B test|discount|willingness to pay"),
    ("hiring loop", "interview|scorecard|bias|structured questions|debrief|candidate"),
    ("data quality", "pipeline|null values|validation|schema|dashboard|freshness"),
    ("stakeholder update", "status report|risk|milestone|executive summary|dependencies|ask"),
]
_TOPICS = [(name, words.split("|")) for name, words in _TOPIC_WORDS]
_OPENERS = [
    "In my team we tried",
    "Our approach was to start with",
    "I focused on",
    "We began by mapping",
    "My plan centred on",
    "First, I reviewed",
    "The group decided to test",
    "I proposed a small pilot around",
]
_VERBS = [
    "measured",
    "interviewed",
    "documented",
    "prioritised",
    "compared",
    "shared",
    "reviewed",
    "simplified",
    "tracked",
    "drafted",
    "tested",
    "summarised",
]
_OBJECTS = [
    "the main metric",
    "three customers",
    "the weekly numbers",
    "a short survey",
    "the current process",
    "two alternatives",
    "the feedback we got",
    "our assumptions",
    "the risks",
    "a one-page plan",
    "the baseline",
    "what changed since last month",
]
_LINKERS = [
    "Then",
    "After that",
    "Because of this",
    "To check it",
    "Next",
    "As a result",
    "In hindsight",
    "Looking at the data",
    "With the facilitator",
    "Finally",
]
_CLOSERS = [
    "Next time I would involve the team earlier.",
    "The result was better than expected, but the sample was small.",
    "I am not yet sure the change will last beyond the pilot.",
    "We agreed to repeat the exercise in a month and compare.",
    "The biggest lesson was to write the goal down before starting.",
    "I would like feedback on whether the evidence is convincing.",
]


def _text(rng: random.Random, topic: int, length: int = 400) -> str:
    name, words = _TOPICS[topic % len(_TOPICS)]
    parts = [f"{rng.choice(_OPENERS)} {name} and {rng.choice(words)}."]
    while sum(len(p) + 1 for p in parts) < length - 105:
        parts.append(
            f"{rng.choice(_LINKERS)} we {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"about the {rng.choice(words)} and the {rng.choice(words)}."
        )
    parts.append(rng.choice(_CLOSERS))
    return " ".join(parts)


def texts(n: int, seed: int = SEED, topics: int = len(_TOPICS)) -> list[str]:
    """``n`` texts of about 400 characters, topics assigned round-robin."""
    rng = random.Random(seed)
    return [_text(rng, i % topics) for i in range(n)]


_PRAISE = [
    "You backed the change with a clear baseline.",
    "The plan names a concrete next step and an owner.",
    "Good use of the customer interviews as evidence.",
]
_ADVICE = [
    "Say how you will measure success next month.",
    "The evidence is thin: add numbers from before and after.",
    "Name one risk and how you would notice it early.",
    "Link the action items to the goal of the huddle.",
]


def _feedback(rng: random.Random, i: int, solution: Solution, learners: int) -> Feedback:
    levels = [Level.MET, Level.PARTIAL, Level.NOT_MET]
    evidence, plan = rng.choice(levels), rng.choice(levels)
    overall = evidence if evidence == plan else Level.PARTIAL
    facilitator = rng.random() < 0.2
    return Feedback(
        id=f"f{i:06d}",
        solution_id=solution.id,
        author_id=f"l{rng.randrange(learners):04d}",
        author_role=AuthorRole.FACILITATOR if facilitator else AuthorRole.PEER,
        text=f"{rng.choice(_PRAISE)} {rng.choice(_ADVICE)} {rng.choice(_ADVICE)}",
        helpfulness=round(rng.random(), 2),
        rubric={"evidence": evidence, "plan": plan},
        assessment=overall,
        created_at=solution.created_at + timedelta(days=1),
    )


@dataclass(frozen=True)
class Corpus:
    huddles: list[Huddle]
    learners: list[Learner]
    solutions: list[Solution]
    feedback: list[Feedback]

    @property
    def records(self) -> list[Huddle | Learner | Solution | Feedback]:
        return [*self.huddles, *self.learners, *self.solutions, *self.feedback]

    def huddle_index(self) -> NDArray[np.int64]:
        pos = {h.id: i for i, h in enumerate(self.huddles)}
        return np.array([pos[s.huddle_id] for s in self.solutions], dtype=np.int64)


def make_corpus(
    n: int, *, huddles: int = 20, learners: int = 200, feedback: float = 0.0, seed: int = SEED
) -> Corpus:
    """An organization with ``n`` solutions over ``huddles`` huddles and, on a
    ``feedback`` share of them, one labelled feedback item each."""
    rng = random.Random(seed)
    hs = [
        Huddle(
            id=f"h{i:03d}",
            title=f"{_TOPICS[i % len(_TOPICS)][0].title()} #{i}",
            prompt=f"Describe how you would improve {_TOPICS[i % len(_TOPICS)][0]} in your team.",
            goal="Use evidence to justify one concrete change and say how you will measure it.",
            rubric=[
                Criterion(
                    id="evidence",
                    name="Evidence",
                    description="Claims are backed by data.",
                    exemplar="We measured the baseline for two weeks before changing it.",
                ),
                Criterion(
                    id="plan",
                    name="Plan",
                    description="A concrete, measurable next step.",
                    exemplar="Next sprint we will track activation daily and review it.",
                ),
            ],
        )
        for i in range(huddles)
    ]
    ls = [
        Learner(
            id=f"l{i:04d}",
            display_name=f"Learner {i}",
            team=f"team-{i % 8}",
            skills=rng.sample(_TOPICS[i % len(_TOPICS)][1], 2),
        )
        for i in range(learners)
    ]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ss = []
    for i in range(n):
        h = rng.randrange(huddles)
        ss.append(
            Solution(
                id=f"s{i:06d}",
                huddle_id=hs[h].id,
                learner_id=ls[rng.randrange(learners)].id,
                text=_text(rng, h),
                created_at=start + timedelta(minutes=i),
            )
        )
    fb = [_feedback(rng, i, s, learners) for i, s in enumerate(ss) if rng.random() < feedback]
    return Corpus(hs, ls, ss, fb)


def clustered_vectors(
    cluster: NDArray[np.int64],
    dim: int = 384,
    *,
    spread: float = 0.6,
    seed: int = SEED,
    noise_seed: int = 0,
    clusters: int | None = None,
) -> NDArray[np.float32]:
    """Unit vectors around one random centroid per cluster (huddle)."""
    rng = np.random.default_rng(seed)
    count = clusters if clusters is not None else int(cluster.max()) + 1
    centroids = rng.standard_normal((count, dim)).astype(np.float32)
    if noise_seed:  # same centroids, other points (e.g. queries)
        rng = np.random.default_rng([seed, noise_seed])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    noise = rng.standard_normal((len(cluster), dim)).astype(np.float32) / np.sqrt(dim)
    out = centroids[cluster] + spread * noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return np.asarray(out, dtype=np.float32)


def load(
    store: Store, org: str, corpus: Corpus, *, seed: int = SEED, noise_seed: int = 0
) -> NDArray[np.float32]:
    """Bulk-load a corpus with clustered synthetic vectors (no embedding); returns
    the solution vectors. Feedback vectors sit near their solution's."""
    cluster = corpus.huddle_index()
    vectors = clustered_vectors(
        cluster, seed=seed, noise_seed=noise_seed, clusters=len(corpus.huddles)
    )
    row = {s.id: i for i, s in enumerate(corpus.solutions)}
    n_h, n_l = len(corpus.huddles), len(corpus.learners)
    side: list[tuple[Sequence[Huddle | Learner | Solution | Feedback], NDArray[np.float32]]] = [
        (corpus.huddles, clustered_vectors(np.arange(n_h), seed=seed, spread=0.0)),
        (corpus.learners, clustered_vectors(np.zeros(n_l, np.int64), seed=seed + 1)),
        (corpus.solutions, vectors),
        (corpus.feedback, vectors[[row[f.solution_id] for f in corpus.feedback]]),
    ]
    for records, vecs in side:
        if records:
            hashes = [r.content_hash() for r in records]
            store.upsert(org, records[0].kind, records, vecs, hashes)
    return vectors
