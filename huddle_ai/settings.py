"""Settings, read from ``HUDDLE_AI_*`` environment variables.

Only the edges (the CLI, the worker, the HTTP API) build a :class:`Settings`
from the environment. Library code takes the values it needs as arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every setting of huddle_ai. See the README's Configuration table."""

    model_config = SettingsConfigDict(env_prefix="HUDDLE_AI_", extra="ignore")

    data_dir: Path = Field(default=Path(".huddle_ai"), description="Embedded store directory.")
    chroma_url: str | None = Field(
        default=None, description="Chroma server URL; embedded when unset."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (PostgreSQL for several workers); SQLite when unset.",
    )
    embedding_model: str | None = Field(
        default=None,
        description="sentence-transformers model name or path; the packaged MiniLM when unset.",
    )
    embedding_backend: Literal["auto", "torch", "openvino", "fake"] = Field(
        default="auto",
        description=(
            "'auto': OpenVINO where the CPU supports it (AVX2), else torch; "
            "an organization keeps the backend it was indexed with."
        ),
    )
    embedding_batch_size: int = Field(default=16, ge=1, le=1024)

    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=3, ge=0, le=10)
    llm_max_repairs: int = Field(default=2, ge=0, le=5)
    llm_prompt_version: str = Field(default="v1", description="Version of prompts/feedback to use.")
    redact_pii: bool | None = Field(
        default=None,
        description="Redact PII before text leaves for an LLM; on for non-local endpoints.",
    )
    context_token_budget: int = Field(default=1800, ge=200)
    prompt_dir: Path | None = None

    redis_url: str | None = None
    api_keys_file: Path | None = None
    api_keys: str | None = Field(
        default=None, description="'org:key,org:key' pairs (prefer a file)."
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_header_bytes: int = Field(default=16_384, ge=1024, description="Request line and headers.")
    http_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A request's head, and then its body, must arrive within this.",
    )
    webhook_secret: SecretStr | None = None
    webhook_retries: int = Field(
        default=6, ge=0, le=20, description="Delivery attempts after the first."
    )
    webhook_backoff_s: int = Field(
        default=2, ge=1, description="First retry delay; doubles each time."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    job_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a job on transient errors."
    )
    job_backoff_s: int = Field(
        default=2, ge=1, description="First job retry delay; doubles each time."
    )
    job_result_ttl_s: int = Field(
        default=86_400, ge=60, description="Results and idempotency keys live this long."
    )
    job_heartbeat_s: int = Field(default=10, ge=1, description="A busy worker reports this often.")
    job_recovery_s: int = Field(
        default=30,
        ge=1,
        description="A job whose worker missed its heartbeat this long is recovered.",
    )
    worker_class: Literal["simple", "fork"] = Field(
        default="simple", description="'simple' runs jobs in the worker process (measured faster)."
    )
