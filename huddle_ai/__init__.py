"""huddle_ai: the AI feedback and context engine for action-based learning huddles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from huddle_ai.engine import DeletionReport, HuddleAI
from huddle_ai.errors import (
    BackendMismatchError,
    ConfigurationError,
    GenerationError,
    HuddleAIError,
    ImportRejectedError,
    InfeasibleError,
    InvalidInputError,
    InvalidOrganizationError,
    InvalidOutputError,
    LineError,
    MissingVariablesError,
    NotFoundError,
    PromptError,
    StoreError,
    TransientError,
    UnknownVariablesError,
)
from huddle_ai.index.embeddings import Embedder, FakeEmbedder, SentenceTransformerEmbedder
from huddle_ai.index.formats import Parsed, parse_csv, parse_jsonl, read_file, write_jsonl
from huddle_ai.index.ingest import IngestReport
from huddle_ai.index.reindex import ReindexReport
from huddle_ai.index.store import Store
from huddle_ai.records import (
    AuthorRole,
    Criterion,
    Feedback,
    Huddle,
    Learner,
    Level,
    Solution,
    validate_org,
)
from huddle_ai.settings import Settings
from huddle_ai.suggest.context import ContextItem, FeedbackContext
from huddle_ai.suggest.prompts import Prompt, load_prompt
from huddle_ai.suggest.retrieval import Neighbor, SimilarResult
from huddle_ai.suggest.suggestion import CriterionAssessment, FeedbackSuggestion, Suggestion

if TYPE_CHECKING:
    from huddle_ai.matching import (
        Affinity,
        NextReviewers,
        PartnerMatching,
        ReviewAssignment,
        Weights,
    )

__version__ = "0.1.0"

__all__ = [
    "Affinity",
    "AuthorRole",
    "BackendMismatchError",
    "ConfigurationError",
    "ContextItem",
    "Criterion",
    "CriterionAssessment",
    "DeletionReport",
    "Embedder",
    "FakeEmbedder",
    "Feedback",
    "FeedbackContext",
    "FeedbackSuggestion",
    "GenerationError",
    "Huddle",
    "HuddleAI",
    "HuddleAIError",
    "ImportRejectedError",
    "InfeasibleError",
    "IngestReport",
    "InvalidInputError",
    "InvalidOrganizationError",
    "InvalidOutputError",
    "Learner",
    "Level",
    "LineError",
    "MissingVariablesError",
    "Neighbor",
    "NextReviewers",
    "NotFoundError",
    "Parsed",
    "PartnerMatching",
    "Prompt",
    "PromptError",
    "ReindexReport",
    "ReviewAssignment",
    "SentenceTransformerEmbedder",
    "Settings",
    "SimilarResult",
    "Solution",
    "Store",
    "StoreError",
    "Suggestion",
    "TransientError",
    "UnknownVariablesError",
    "Weights",
    "__version__",
    "load_prompt",
    "parse_csv",
    "parse_jsonl",
    "read_file",
    "validate_org",
    "write_jsonl",
]


# Matching pulls in SciPy and OR-Tools; load it only when one of its names is used.
_LAZY = {"Affinity", "NextReviewers", "PartnerMatching", "ReviewAssignment", "Weights"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from huddle_ai import matching

        return getattr(matching, name)
    raise AttributeError(f"module 'huddle_ai' has no attribute {name!r}")
