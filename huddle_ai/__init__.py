"""huddle_ai: the AI feedback and context engine for action-based learning huddles."""

from __future__ import annotations

from huddle_ai.embeddings import Embedder, FakeEmbedder, SentenceTransformerEmbedder
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
from huddle_ai.formats import Parsed, parse_csv, parse_jsonl, read_file, write_jsonl
from huddle_ai.ingest import IngestReport
from huddle_ai.prompts import Prompt, load_prompt
from huddle_ai.reindex import ReindexReport
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
from huddle_ai.retrieval import Neighbor, SimilarResult
from huddle_ai.settings import Settings
from huddle_ai.store import Store

__version__ = "0.1.0"

__all__ = [
    "AuthorRole",
    "BackendMismatchError",
    "ConfigurationError",
    "Criterion",
    "DeletionReport",
    "Embedder",
    "FakeEmbedder",
    "Feedback",
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
    "NotFoundError",
    "Parsed",
    "Prompt",
    "PromptError",
    "ReindexReport",
    "SentenceTransformerEmbedder",
    "Settings",
    "SimilarResult",
    "Solution",
    "Store",
    "StoreError",
    "TransientError",
    "UnknownVariablesError",
    "__version__",
    "load_prompt",
    "parse_csv",
    "parse_jsonl",
    "read_file",
    "validate_org",
    "write_jsonl",
]
