"""``HuddleAI``: the one entry object of the library.

It owns an embedder and a store, built once, and delegates every operation to
the module that owns it. It holds no logic of its own beyond wiring.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from huddle_ai.errors import (
    BackendMismatchError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
)
from huddle_ai.index.backends import CpuProbe, choose_backend
from huddle_ai.index.database import Database, resolve_url
from huddle_ai.index.embeddings import (
    Embedder,
    FakeEmbedder,
    Progress,
    SentenceTransformerEmbedder,
    Vectors,
)
from huddle_ai.index.formats import Parsed, read_file, write_jsonl
from huddle_ai.index.ingest import IngestReport, ingest, parsed_from
from huddle_ai.index.reindex import ReindexReport, reindex
from huddle_ai.index.store import KINDS, Store
from huddle_ai.records import AnyRecord, Solution, validate_org
from huddle_ai.requests import (
    AffinityRequest,
    IngestRequest,
    MatchRequest,
    NextReviewersRequest,
    PartnersRequest,
    SimilarRequest,
    SuggestRequest,
    validated,
)
from huddle_ai.settings import Settings
from huddle_ai.suggest.context import ContextCache
from huddle_ai.suggest.generators.registry import Generators, build_generators
from huddle_ai.suggest.retrieval import SimilarResult, similar
from huddle_ai.suggest.suggestion import FeedbackSuggestion

if TYPE_CHECKING:
    from huddle_ai.accountability import Accountability, Clock
    from huddle_ai.matching import Affinity, NextReviewers, PartnerMatching, ReviewAssignment
    from huddle_ai.suggest.generators import Generator

__all__ = ["DeletionReport", "HuddleAI", "build_embedder", "build_generators", "build_store"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeletionReport:
    org: str
    learners: int
    solutions: int
    feedback: int

    def as_dict(self) -> dict[str, object]:
        return {
            "org": self.org,
            "learners": self.learners,
            "solutions": self.solutions,
            "feedback": self.feedback,
        }


def build_embedder(settings: Settings, *, cpu_probe: CpuProbe | None = None) -> Embedder:
    """The embedder the settings name (the model is loaded here, once).

    ``auto`` runs :func:`~huddle_ai.index.backends.choose_backend` on
    ``cpu_probe`` (default: this machine, read now): OpenVINO where the CPU
    supports it, else torch.
    """
    backend = settings.embedding_backend
    if backend == "fake":
        return FakeEmbedder()
    if backend == "openvino":
        return _openvino(settings, "auto")
    if backend == "auto":
        choice = choose_backend(
            settings.embedding_model, cpu_probe if cpu_probe is not None else CpuProbe.read()
        )
        if choice.backend == "openvino" and choice.precision is not None:
            try:
                return _openvino(settings, choice.precision)
            except Exception as exc:  # a conversion or compilation failure: torch still works
                log.warning("embedding backend auto: openvino failed (%s); using torch", exc)
    return _torch(settings)


def _torch(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(
        settings.embedding_model, batch_size=settings.embedding_batch_size
    )


def _openvino(settings: Settings, precision: Literal["auto", "bf16", "f32"]) -> Embedder:
    try:
        from huddle_ai.index.openvino_backend import OpenVINOEmbedder
    except ImportError as exc:
        raise ConfigurationError(f"the openvino backend is not available here: {exc}") from exc
    return OpenVINOEmbedder(
        settings.embedding_model,
        batch_size=settings.embedding_batch_size,
        precision=precision,
        cache_dir=settings.data_dir / "openvino-cache",  # the converted model, user-private
    )


def _embedder_with_id(settings: Settings, embedder_id: str) -> Embedder | None:
    """The embedder of the settings' model whose id is ``embedder_id``, or ``None``
    when no backend of these settings produces that id (another model, say)."""
    backend = embedder_id.split(":", 1)[0]
    built: Embedder
    if backend == "torch":
        built = _torch(settings)
    elif backend in ("openvino-f32", "openvino-bf16"):
        built = _openvino(settings, "bf16" if backend == "openvino-bf16" else "f32")
    else:
        return None
    return built if built.id == embedder_id else None


def build_store(settings: Settings, embedder: Embedder, database: Database | None = None) -> Store:
    """The vector index the settings name over ``database`` (default: the settings')."""
    if database is None:
        database = Database(resolve_url(settings.database_url, settings.data_dir))
    if settings.chroma_url:
        return Store.server(settings.chroma_url, embedder.id, database)
    return Store.embedded(settings.data_dir, embedder.id, database)


@dataclass(frozen=True)
class _Backend:
    """An embedder, the store handle tagged with its id, and the generators on it."""

    embedder: Embedder
    store: Store
    generators: Generators


class HuddleAI:
    """Ingest, retrieve, delete and export an organization's learning records.

    ``HuddleAI(settings)`` builds the embedder, store, database and generators
    the settings name, all here, once. Pass ``embedder=``, ``store=``,
    ``database=`` or ``generators=`` to supply your own (tests pass a
    :class:`FakeEmbedder`). Without ``settings`` the embedder and the store
    must be given; what is still built then takes the documented defaults of
    :class:`Settings` (the offline grounded generator), never the environment.

    With ``embedding_backend="auto"`` (the default) and the embedder and store
    built here, an organization already indexed by another backend (torch,
    say, before ``auto`` chose OpenVINO) keeps that backend: see
    :meth:`embedder_for`. ``cpu_probe`` stands in for this machine in
    ``auto``'s choice (tests).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        store: Store | None = None,
        database: Database | None = None,
        generators: Generators | None = None,
        cpu_probe: CpuProbe | None = None,
    ) -> None:
        if settings is None and (embedder is None or store is None):
            raise ConfigurationError(
                "HuddleAI needs settings to build its embedder and store: pass "
                "HuddleAI(Settings()) (it reads HUDDLE_AI_* variables), or embedder= and store="
            )
        # the declared defaults, not the environment: only the edges read the environment
        self.settings = settings if settings is not None else Settings.model_construct()
        self.embedder = (
            embedder if embedder is not None else build_embedder(self.settings, cpu_probe=cpu_probe)
        )
        # the relational store (the store's, when one is given); no connection until first use
        if database is None and store is not None and store.database is not None:
            database = store.database
        self.database = (
            database
            if database is not None
            else Database(resolve_url(self.settings.database_url, self.settings.data_dir))
        )
        self.store = (
            store if store is not None else build_store(self.settings, self.embedder, self.database)
        )
        self.generators = (
            generators if generators is not None else build_generators(self.settings, self.embedder)
        )
        # learners and labelled histories, valid until the store's next write
        self.context_cache = ContextCache()
        # auto: the backends of organizations indexed before, by embedder id, built on use
        self._per_org = self.settings.embedding_backend == "auto" and embedder is None
        self._per_org = self._per_org and store is None
        self._given_generators = generators
        self._others: dict[str, _Backend] = {}
        self._unusable: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- the backend of an organization ---------------------------------------

    def embedder_for(self, org: str) -> Embedder:
        """The embedder ``org``'s vectors come from: :attr:`embedder`, except under
        ``auto`` for an organization indexed by another backend, which keeps it
        (one index never mixes two backends; ``reindex`` moves it to :attr:`embedder`).

        Raises :class:`BackendMismatchError` when that backend cannot be loaded here.
        """
        return self._for(org).embedder

    def _for(self, org: str) -> _Backend:
        default = _Backend(self.embedder, self.store, self.generators)
        if not self._per_org:
            return default
        recorded = self.store.embedder_of(validate_org(org))
        if recorded is None or recorded == self.embedder.id:
            return default
        with self._lock:  # one model load per backend, whatever the threads
            got = self._others.get(recorded)
            if got is None and recorded not in self._unusable:
                got = self._load(recorded)
        if got is None:
            raise BackendMismatchError(
                f"organization {org!r} was indexed with embedder {recorded!r}, which cannot "
                f"be loaded here ({self._unusable[recorded]}); run `huddle-ai reindex --org "
                f"{org}` to switch it to {self.embedder.id!r}"
            )
        return got

    def _load(self, embedder_id: str) -> _Backend | None:
        try:
            embedder = _embedder_with_id(self.settings, embedder_id)
        except Exception as exc:  # openvino missing, no bf16 on this CPU, a model that fails
            self._unusable[embedder_id] = (str(exc).strip().splitlines() or [repr(exc)])[0]
            return None
        if embedder is None:
            self._unusable[embedder_id] = "the configured model does not produce it"
            return None
        generators = self._given_generators
        if generators is None:
            generators = build_generators(self.settings, embedder)
        got = self._others[embedder_id] = _Backend(
            embedder, self.store.retagged(embedder_id), generators
        )
        return got

    # -- ingest ------------------------------------------------------------

    def ingest(
        self,
        org: str,
        source: Path | str | Sequence[AnyRecord] | Parsed | IngestRequest,
        *,
        kind: str | None = None,
        skip_invalid: bool = False,
        strict: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest a file path, parsed lines, in-memory records or an
        :class:`IngestRequest` (whose ``skip_invalid`` applies) into ``org``."""
        if isinstance(source, IngestRequest):
            parsed = parsed_from(source.records)
            skip_invalid = source.skip_invalid
        elif isinstance(source, Parsed):
            parsed = source
        elif isinstance(source, (str, Path)):
            parsed = read_file(Path(source), kind)
        else:
            parsed = parsed_from(source)
        b = self._for(org)
        return ingest(
            b.store,
            b.embedder,
            org,
            parsed,
            skip_invalid=skip_invalid,
            strict=strict,
            progress=progress,
        )

    # -- read --------------------------------------------------------------

    def similar(
        self,
        org: str,
        request: SimilarRequest | None = None,
        *,
        solution_id: str | None = None,
        text: str | None = None,
        huddle_id: str | None = None,
        k: int = 5,
    ) -> SimilarResult:
        """Neighbours of a stored solution or of new text: a :class:`SimilarRequest`,
        or its fields as keywords."""
        if request is None:
            with validated():
                request = SimilarRequest(
                    solution_id=solution_id, huddle_id=huddle_id, text=text, k=k
                )
        elif solution_id is not None or huddle_id is not None or text is not None:
            raise InvalidInputError("give a SimilarRequest or its fields, not both")
        b = self._for(org)
        return similar(
            b.store,
            b.embedder,
            org,
            solution_id=request.solution_id,
            text=request.text,
            huddle_id=request.huddle_id,
            k=request.k,
        )

    def records(self, org: str) -> list[AnyRecord]:
        """Every record of an organization, parents first, each kind sorted by id."""
        validate_org(org)
        out: list[AnyRecord] = []
        for kind in KINDS:
            out.extend(sorted(self.store.all(org, kind), key=lambda r: r.id))
        return out

    def export(self, org: str, out: IO[str]) -> int:
        """Write an organization as JSONL (the import format); returns the record count."""
        if validate_org(org) not in self.store.orgs():
            raise NotFoundError(f"organization {org!r} not found")
        return write_jsonl(self.records(org), out)

    # -- delete ------------------------------------------------------------

    def delete_learner(self, org: str, learner_id: str) -> DeletionReport:
        """Delete a learner's profile, their solutions, the feedback they wrote and
        the feedback on their solutions (it quotes and describes their work)."""
        validate_org(org)
        learner = self.store.get(org, "learner", [learner_id])
        solutions = self.store.ids(org, "solution", {"learner_id": learner_id})
        if not learner and not solutions:
            raise NotFoundError(f"learner {learner_id!r} not found in organization {org!r}")
        written = set(self.store.ids(org, "feedback", {"author_id": learner_id}))
        received: set[str] = set()
        if solutions:
            received = set(self.store.ids(org, "feedback", {"solution_id": {"$in": solutions}}))
        feedback = sorted(written | received)
        # one transaction in the database, then the index
        self.store.remove(
            org, {"feedback": feedback, "solution": solutions, "learner": list(learner)}
        )
        return DeletionReport(org, len(learner), len(solutions), len(feedback))

    def sync_index(self, org: str | None = None) -> dict[str, int]:
        """Repair the vector index after an interrupted write, for ``org`` or every
        organization with pending entries; returns index entries repaired per org."""
        if org is not None:
            return {org: self._sync(validate_org(org))}
        done: dict[str, int] = {}
        for o in self.store.pending_orgs():
            try:
                done[o] = self._sync(o)
            except BackendMismatchError:
                continue  # indexed by another embedder: its reindex settles it
        return done

    def _sync(self, org: str) -> int:
        b = self._for(org)

        def embed(texts: Sequence[str]) -> Vectors:
            return b.embedder.embed(list(texts))

        return b.store.sync(org, embed)

    def delete_org(self, org: str) -> None:
        if not self.store.delete_org(validate_org(org)):
            raise NotFoundError(f"organization {org!r} not found")

    def reindex(
        self, org: str, *, force: bool = False, progress: Progress | None = None
    ) -> ReindexReport:
        """Re-embed every stored text of ``org`` with this engine's embedder
        (:attr:`embedder`: the one ``auto`` chose, also for an organization that
        kept another backend); needed after switching backends. Records are kept."""
        return reindex(self.store, self.embedder, org, force=force, progress=progress)

    def solution(self, org: str, solution_id: str) -> Solution:
        got = self.store.get(org, "solution", [solution_id]).get(solution_id)
        if not isinstance(got, Solution):
            raise NotFoundError(f"solution {solution_id!r} not found in organization {org!r}")
        return got

    # -- suggest -----------------------------------------------------------

    def suggest(
        self,
        org: str,
        request: SuggestRequest | str | None = None,
        *,
        huddle_id: str | None = None,
        text: str | None = None,
        generator: Generator | None = None,
        k: int = 5,
    ) -> FeedbackSuggestion:
        """A feedback draft: a :class:`SuggestRequest`, or a stored solution id, or
        new ``text`` of ``huddle_id`` as keywords.

        ``generator`` overrides the configured one; a failing LLM falls back to
        the offline generator with ``degraded=True``.
        """
        from huddle_ai.suggest.feedback import suggest

        if not isinstance(request, SuggestRequest):
            with validated():
                request = SuggestRequest(solution_id=request, huddle_id=huddle_id, text=text, k=k)
        elif huddle_id is not None or text is not None:
            raise InvalidInputError("give a SuggestRequest or its fields, not both")
        b = self._for(org)
        configured, fallback = b.generators
        chosen = generator if generator is not None else configured
        if fallback is None and chosen is not configured:
            fallback = configured
        if chosen is fallback:
            fallback = None
        return suggest(
            b.store,
            b.embedder,
            org,
            solution_id=request.solution_id,
            text=request.text,
            huddle_id=request.huddle_id,
            generator=chosen,
            fallback=fallback,
            token_budget=self.settings.context_token_budget,
            k=request.k,
            cache=self.context_cache,
        )

    # -- matching ----------------------------------------------------------

    def match_reviewers(self, org: str, request: MatchRequest | str) -> ReviewAssignment:
        """Exactly k reviewers per solution of a huddle, optimal total affinity, explained.

        ``request`` is a :class:`MatchRequest`, or a huddle id (every option at its default).
        """
        from huddle_ai.matching import Weights, match_reviewers

        if isinstance(request, str):
            with validated():
                request = MatchRequest(huddle_id=request)
        return match_reviewers(
            self._for(org).store,
            org,
            request.huddle_id,
            k=request.k,
            min_load=request.min_load,
            max_load=request.max_load,
            reviewers=request.reviewers,
            weights=Weights.parse(request.weights),
            same_team_conflict=request.same_team_conflict,
            do_not_pair=request.do_not_pair,
            forced=request.forced,
            fairness=request.fairness,
            floor=request.floor,
            now=request.now,
            half_life_days=request.half_life_days,
            time_limit=request.time_limit,
        )

    def next_reviewers(self, org: str, request: NextReviewersRequest | str) -> NextReviewers:
        """Who should review this solution now, given open loads: a
        :class:`NextReviewersRequest`, or a solution id (no open loads)."""
        from huddle_ai.matching import Weights, next_reviewers

        if isinstance(request, str):
            with validated():
                request = NextReviewersRequest(solution_id=request)
        return next_reviewers(
            self._for(org).store,
            org,
            request.solution_id,
            n=request.n,
            open_loads=request.open_loads,
            max_load=request.max_load,
            reviewers=request.reviewers,
            exclude=request.exclude,
            weights=Weights.parse(request.weights),
            same_team_conflict=request.same_team_conflict,
            do_not_pair=request.do_not_pair,
            balance=request.balance,
            now=request.now,
            half_life_days=request.half_life_days,
        )

    def match_partners(self, org: str, request: PartnersRequest | None = None) -> PartnerMatching:
        """Partner pairs (``group_size=2``) or groups, avoiding repeats and conflicts."""
        from huddle_ai.matching import Weights, match_partners

        request = request if request is not None else PartnersRequest()
        return match_partners(
            self._for(org).store,
            org,
            learners=request.learners,
            huddle_id=request.huddle_id,
            group_size=request.group_size,
            weights=Weights.parse(request.weights),
            same_team_conflict=request.same_team_conflict,
            do_not_pair=request.do_not_pair,
            past_pairs=request.past_pairs,
            avoid_repeats=request.avoid_repeats,
            now=request.now,
            half_life_days=request.half_life_days,
        )

    def affinity_scores(self, org: str, request: AffinityRequest | None = None) -> Affinity:
        """The learner x solution affinity matrix the review assignment optimises."""
        from huddle_ai.matching import Weights, affinity_scores

        request = request if request is not None else AffinityRequest()
        return affinity_scores(
            self._for(org).store,
            org,
            huddle_id=request.huddle_id,
            learners=request.learners,
            solutions=request.solutions,
            weights=Weights.parse(request.weights),
            now=request.now,
            half_life_days=request.half_life_days,
        )

    def accountability(self, *, clock: Clock | None = None) -> Accountability:
        """The accountability loop (commitments, follow-ups, risk) on this engine's database."""
        from huddle_ai.accountability import Accountability

        return Accountability(self.database, clock=clock)
