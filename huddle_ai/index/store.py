"""The record store: records in the relational database, vectors in Chroma.

The database (:mod:`huddle_ai.index.database`) is the system of record: every
record, its content hash and its relations. Chroma is an index that can be
rebuilt from it: per item a vector, the content hash it was built from and the
few fields queries filter on. This module is the only one that talks to
Chroma and it reaches the database only through :mod:`huddle_ai.index.database`.

A write is one database transaction (records, a new generation, and outbox
entries naming what the index must catch up on), then the index write, then a
small transaction that clears those entries. A crash between the two leaves
outbox entries behind; :meth:`Store.sync` (run by the next ingest and by the
worker on start) brings the index up to date from the records, keyed by content
hash, so running it twice does nothing more.

Each organization has its own four collections (``hai-{org}-huddle``, ...) and
every query names the organization: isolation by construction in both stores.
Every collection records the embedder id it was built with; opening it with
another embedder raises :class:`BackendMismatchError`.

A data directory written before the database held the records (records only as
JSON in Chroma metadata) is copied into the database once, when the store is
opened; its collections are then marked so it never happens again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from huddle_ai.errors import BackendMismatchError, ConfigurationError, StoreError
from huddle_ai.index.database import Database, default_url
from huddle_ai.index.database import records as rows
from huddle_ai.records import AnyRecord, Feedback, RecordAdapter, Solution, validate_org

__all__ = ["KINDS", "Hit", "Kind", "Store"]

Kind = Literal["huddle", "learner", "solution", "feedback"]
KINDS: tuple[Kind, ...] = ("huddle", "learner", "solution", "feedback")
Embed = Callable[[Sequence[str]], NDArray[np.float32]]
_PREFIX = "hai-"
# reindex staging and swap-out names; not "hai-", so orgs() and queries never see them
_STAGED = "haistaged-"
_RETIRED = "hairetired-"
_PAGE = 2000
# collection metadata: the records of this collection live in the database
_MARK = "records"
_MARK_VALUE = "sql"
_WHOLE_ORG = ("org", "")  # outbox entry: drop the organization's collections


@dataclass(frozen=True)
class Hit:
    """One nearest-neighbour result: cosine similarity in [-1, 1]."""

    record: AnyRecord
    score: float


def _collection_name(org: str, kind: Kind, prefix: str = _PREFIX) -> str:
    return f"{prefix}{validate_org(org)}-{kind}"


def _scalars(record: AnyRecord, content_hash: str) -> dict[str, str | float | int | bool]:
    """What the index keeps of a record: its hash and the fields queries filter on."""
    meta: dict[str, str | float | int | bool] = {"hash": content_hash}
    if isinstance(record, Solution):
        meta.update(huddle_id=record.huddle_id, learner_id=record.learner_id)
    elif isinstance(record, Feedback):
        meta.update(
            solution_id=record.solution_id,
            author_id=record.author_id,
            author_role=record.author_role.value,
        )
        if record.helpfulness is not None:
            meta["helpfulness"] = record.helpfulness
    return meta


def _parse(payload: str) -> AnyRecord:
    return RecordAdapter.validate_json(payload)


class Store:
    """An organization's records (database) and their vector index (Chroma).

    ``database`` is the system of record; a store opened without one (an index
    handle only) can count and query nothing but raises on record reads.
    """

    def __init__(self, client: Any, embedder_id: str, database: Database | None = None) -> None:
        self._client = client
        self.embedder_id = embedder_id
        self.database = database
        self._collections: dict[str, Any] = {}
        self._max_batch = int(client.get_max_batch_size())
        if database is not None:
            self._backfill()

    def retagged(self, embedder_id: str) -> Store:
        """The same Chroma client and database, for collections of another embedder
        (an engine serving organizations indexed by two backends); nothing is copied."""
        other = copy.copy(self)
        other.embedder_id = embedder_id
        other._collections = {}
        return other

    @classmethod
    def embedded(cls, path: Path, embedder_id: str, database: Database | None = None) -> Store:
        """Chroma under ``path``; the database is ``database`` or SQLite in ``path``."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        return cls(client, embedder_id, database or Database(default_url(path)))

    @classmethod
    def server(cls, url: str, embedder_id: str, database: Database | None = None) -> Store:
        """A Chroma server; the records live in ``database`` (required)."""
        from urllib.parse import urlparse

        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if database is None:
            raise ConfigurationError(
                "a Chroma server needs a record database too (HUDDLE_AI_DATABASE_URL)"
            )
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigurationError(f"HUDDLE_AI_CHROMA_URL {url!r} is not an http(s) URL")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 80),
                ssl=parsed.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
        except Exception as exc:
            raise StoreError(f"cannot reach Chroma server at {url}: {exc}") from exc
        return cls(client, embedder_id, database)

    # -- the database --------------------------------------------------------

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        """One transaction; a database failure becomes a one-line StoreError."""
        if self.database is None:
            raise ConfigurationError("this store was opened without its record database")
        try:
            with self.database.session() as s:
                yield s
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"database {self.database.safe_url}: {reason}") from exc

    # -- collections -------------------------------------------------------

    def _collection(self, org: str, kind: Kind, *, create: bool = True) -> Any | None:
        name = _collection_name(org, kind)
        col = self._collections.get(name)
        if col is not None:
            return col
        if create:
            col = self._client.get_or_create_collection(
                name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedder": self.embedder_id, "org": org, "kind": kind, _MARK: "sql"},
                embedding_function=None,
            )
        else:
            try:
                col = self._client.get_collection(name, embedding_function=None)
            except Exception:
                return None
        built_with = (col.metadata or {}).get("embedder")
        if built_with != self.embedder_id:
            raise BackendMismatchError(
                f"organization {org!r} was indexed with embedder {built_with!r}, not "
                f"{self.embedder_id!r}; run `huddle-ai reindex --org {org}` to switch backends"
            )
        self._collections[name] = col
        return col

    def orgs(self) -> list[str]:
        """Every organization that has records."""
        with self._unit() as s:
            return rows.orgs(s)

    def embedder_of(self, org: str) -> str | None:
        """The embedder id an organization was indexed with, if it has an index."""
        for kind in KINDS:
            col = self._raw(_collection_name(org, kind))
            if col is not None:
                return cast(str | None, (col.metadata or {}).get("embedder"))
        return None

    # -- generation: a token that changes on every write --------------------

    def generation(self, org: str) -> str:
        """A token that changes whenever ``org``'s records or index change, in any process.

        Caches of per-organization reads (histories, learners) stay valid while it
        is unchanged. It is renewed inside each write's transaction and again once
        the index has caught up.
        """
        with self._unit() as s:
            return rows.generation(s, validate_org(org)) or "none"

    # -- reads: records ------------------------------------------------------

    def count(self, org: str, kind: Kind) -> int:
        """Items in the organization's index of ``kind`` (equal to its records once synced)."""
        col = self._collection(org, kind, create=False)
        return 0 if col is None else int(col.count())

    def hashes(self, org: str, kind: Kind, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the given ids that are stored."""
        if not ids:
            return {}
        with self._unit() as s:
            return rows.hashes(s, validate_org(org), kind, ids)

    def get(self, org: str, kind: Kind, ids: Sequence[str]) -> dict[str, AnyRecord]:
        if not ids:
            return {}
        with self._unit() as s:
            found = rows.get(s, validate_org(org), kind, ids)
        return {i: _parse(payload) for i, payload in found.items()}

    def find(self, org: str, kind: Kind, where: Mapping[str, Any]) -> list[AnyRecord]:
        """Records whose relation fields match ``where`` (a subset of Chroma's where
        syntax: equality, ``$in``, ``$ne``, ``$and``), oldest stored first."""
        with self._unit() as s:
            found = rows.find(s, validate_org(org), kind, where)
        return [_parse(payload) for payload in found]

    def ids(self, org: str, kind: Kind, where: Mapping[str, Any]) -> list[str]:
        """Ids whose relation fields match ``where``, oldest stored first."""
        with self._unit() as s:
            return rows.ids(s, validate_org(org), kind, where)

    def _pages(self, org: str, kind: Kind) -> Iterator[list[tuple[int, str, str, str]]]:
        after: tuple[int, str] | None = None
        while True:
            with self._unit() as s:
                got = rows.page(s, validate_org(org), kind, after, _PAGE)
            if got:
                yield got
            if len(got) < _PAGE:
                return
            after = (got[-1][0], got[-1][1])

    def all(self, org: str, kind: Kind) -> Iterator[AnyRecord]:
        """Every record of a kind, oldest stored first, paged."""
        for got in self._pages(org, kind):
            for _seq, _id, _hash, payload in got:
                yield _parse(payload)

    def texts(self, org: str, kind: Kind) -> Iterator[tuple[str, str]]:
        """(id, embedded text) pairs of a kind, from the records."""
        for got in self._pages(org, kind):
            for _seq, rid, _hash, payload in got:
                yield rid, _parse(payload).embed_text()

    # -- reads: the index ------------------------------------------------------

    def embeddings(
        self, org: str, kind: Kind, ids: Sequence[str]
    ) -> dict[str, NDArray[np.float32]]:
        col = self._collection(org, kind, create=False)
        if col is None or not ids:
            return {}
        out: dict[str, NDArray[np.float32]] = {}
        for start in range(0, len(ids), _PAGE):
            got = col.get(ids=list(ids[start : start + _PAGE]), include=["embeddings"])
            for i, emb in zip(got["ids"], got["embeddings"], strict=True):
                out[i] = np.asarray(emb, dtype=np.float32)
        return out

    def index_hashes(
        self, org: str, kind: Kind, ids: Sequence[str] | None = None
    ) -> dict[str, str]:
        """The items of the index of ``kind`` (all, or those of ``ids`` it holds) with
        the content hash each was built from."""
        col = self._collection(org, kind, create=False)
        out: dict[str, str] = {}
        if col is None or (ids is not None and not ids):
            return out
        offset = 0
        while True:
            if ids is None:
                got = col.get(include=["metadatas"], limit=_PAGE, offset=offset)
            else:
                got = col.get(ids=list(ids[offset : offset + _PAGE]), include=["metadatas"])
            for i, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                out[i] = str((meta or {}).get("hash", ""))
            offset += _PAGE
            if (len(got["ids"]) < _PAGE) if ids is None else offset >= len(ids):
                return out

    def query(
        self,
        org: str,
        kind: Kind,
        vectors: NDArray[np.float32],
        n: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[list[Hit]]:
        """Nearest neighbours of each query vector within one organization."""
        col = self._collection(org, kind, create=False)
        if col is None or n <= 0:
            return [[] for _ in range(len(vectors))]
        # no count() first: Chroma 1.x returns fewer hits when it holds fewer, and counting
        # a 100k collection cost more than the query itself (5 ms against 3.6 ms)
        res = col.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32),
            n_results=n,
            where=dict(where) if where else None,
            include=["distances"],
        )
        found = self.get(org, kind, sorted({i for ids in res["ids"] for i in ids}))
        # an item whose record is gone (a removal the index has not caught up on) is no hit
        return [
            [Hit(found[i], 1.0 - float(d)) for i, d in zip(ids, dists, strict=True) if i in found]
            for ids, dists in zip(res["ids"], res["distances"] or [], strict=True)
        ]

    # -- writes -------------------------------------------------------------

    def put(
        self,
        org: str,
        items: Sequence[tuple[AnyRecord, str]],
        vectors: NDArray[np.float32],
    ) -> None:
        """Write (record, content hash) pairs of any kinds and their vectors: the
        records in one transaction (parents before children), then the index."""
        if not items:
            return
        validate_org(org)
        for kind in KINDS:  # refuses another embedder's index before anything is written
            self._collection(org, kind)
        by_kind: dict[Kind, list[int]] = {k: [] for k in KINDS}
        for n, (rec, _) in enumerate(items):
            by_kind[rec.kind].append(n)
        entries = [(rec.kind, rec.id, h) for rec, h in items]
        with self._unit() as s:
            rows.touch(s, org)
            for kind in KINDS:
                rows.upsert(s, org, kind, [rows.row_of(*items[n]) for n in by_kind[kind]])
            rows.add_pending(s, org, entries)
        for kind in KINDS:
            picked = by_kind[kind]
            if picked:
                self._index(
                    org,
                    kind,
                    [items[n][0] for n in picked],
                    vectors[picked],
                    [items[n][1] for n in picked],
                )
        self._settle(org, entries)

    def upsert(
        self,
        org: str,
        kind: Kind,
        records: Sequence[AnyRecord],
        vectors: NDArray[np.float32],
        hashes: Sequence[str],
    ) -> None:
        """:meth:`put` for records of one kind."""
        self.put(org, list(zip(records, hashes, strict=True)), vectors)

    def remove(self, org: str, ids: Mapping[Kind, Sequence[str]]) -> dict[Kind, int]:
        """Delete records of several kinds in one transaction (children first),
        then their index entries; returns how many records each kind lost."""
        validate_org(org)
        entries = [(kind, i, "") for kind, got in ids.items() for i in got]
        if not entries:
            return {}
        counts: dict[Kind, int] = {}
        with self._unit() as s:
            for kind in reversed(KINDS):
                if ids.get(kind):
                    counts[kind] = rows.delete_records(s, org, kind, ids[kind])
            rows.touch(s, org)
            rows.add_pending(s, org, entries)
        for kind, got in ids.items():
            self._unindex(org, kind, got)
        self._settle(org, entries)
        return counts

    def delete(self, org: str, kind: Kind, ids: Sequence[str]) -> None:
        self.remove(org, {kind: ids})

    def delete_org(self, org: str) -> bool:
        """Delete every record and collection of an organization; False if it had none."""
        with self._unit() as s:
            found = rows.delete_org(s, validate_org(org))
            rows.add_pending(s, org, [(*_WHOLE_ORG, "")])
        found = self._drop_collections(org) or found
        with self._unit() as s:
            rows.clear_pending(s, org, [(*_WHOLE_ORG, "")])
        return found

    # -- the index ------------------------------------------------------------

    def _index(
        self,
        org: str,
        kind: Kind,
        records: Sequence[AnyRecord],
        vectors: NDArray[np.float32],
        hashes: Sequence[str],
    ) -> None:
        col = self._collection(org, kind)
        assert col is not None
        step = self._max_batch
        for start in range(0, len(records), step):
            chunk = records[start : start + step]
            col.upsert(
                ids=[r.id for r in chunk],
                embeddings=np.asarray(vectors[start : start + step], dtype=np.float32),
                metadatas=[
                    _scalars(r, h) for r, h in zip(chunk, hashes[start : start + step], strict=True)
                ],
            )

    def _unindex(self, org: str, kind: Kind, ids: Sequence[str]) -> None:
        # removing items needs no vectors: whatever embedder built the collection
        col = self._raw(_collection_name(org, kind))
        if col is None or not ids:
            return
        for start in range(0, len(ids), self._max_batch):
            col.delete(ids=list(ids[start : start + self._max_batch]))

    def _settle(self, org: str, entries: Sequence[rows.Pending]) -> None:
        """The index reflects ``entries``: clear them and renew the generation."""
        with self._unit() as s:
            rows.clear_pending(s, org, entries)
            rows.touch(s, org)

    def _drop_collections(self, org: str) -> bool:
        found = False
        for kind in KINDS:
            name = _collection_name(org, kind)
            self._collections.pop(name, None)
            try:
                self._client.delete_collection(name)
                found = True
            except Exception:
                continue
        return found

    def pending_orgs(self) -> list[str]:
        """Organizations whose index has outbox entries to catch up on."""
        with self._unit() as s:
            return rows.pending_orgs(s)

    def sync(self, org: str, embed: Embed) -> int:
        """Bring ``org``'s index up to date with its records after an interrupted
        write, from the outbox, keyed by content hash (an item the index already
        holds with the record's hash is not embedded again). Returns the number of
        index entries written or removed; 0 when nothing was pending."""
        validate_org(org)
        with self._unit() as s:
            entries = rows.pending(s, org)
        if not entries:
            return 0
        done = 0
        if (*_WHOLE_ORG, "") in entries:
            self._drop_collections(org)
        by_kind: dict[Kind, list[str]] = {k: [] for k in KINDS}
        for kind, rid, _ in entries:
            if kind in by_kind:
                by_kind[kind].append(rid)
        for kind, ids in by_kind.items():
            if not ids:
                continue
            with self._unit() as s:
                current = rows.get(s, org, kind, ids)
                stored = rows.hashes(s, org, kind, list(current))
            gone = [i for i in ids if i not in current]
            self._unindex(org, kind, gone)
            indexed = self.index_hashes(org, kind, list(current))
            stale = [i for i in current if indexed.get(i) != stored[i]]
            if stale:
                recs = [_parse(current[i]) for i in stale]
                vectors = embed([r.embed_text() for r in recs])
                self._index(org, kind, recs, vectors, [stored[i] for i in stale])
            done += len(gone) + len(stale)
        self._settle(org, entries)
        return done

    # -- data directories of older versions ------------------------------------

    def _backfill(self) -> None:
        """Copy records that only an older version's index holds into the database."""
        legacy: dict[str, list[Any]] = {}
        for col in self._client.list_collections():
            name = getattr(col, "name", col)
            if not str(name).startswith(_PREFIX):
                continue
            raw = col if hasattr(col, "metadata") else self._raw(str(name))
            if raw is not None and (raw.metadata or {}).get(_MARK) != _MARK_VALUE:
                legacy.setdefault(str(name)[len(_PREFIX) :].rsplit("-", 1)[0], []).append(raw)
        for org, cols in sorted(legacy.items()):
            self._backfill_org(org, cols)

    def _backfill_org(self, org: str, cols: list[Any]) -> None:
        order: dict[str, int] = {kind: n for n, kind in enumerate(KINDS)}
        cols = sorted(cols, key=lambda c: order.get(str(c.name).rsplit("-", 1)[1], 9))
        with self._unit() as s:
            rows.touch(s, org)
            for col in cols:
                kind = str(col.name).rsplit("-", 1)[1]
                if kind not in order:
                    continue
                offset = 0
                while True:
                    got = col.get(include=["metadatas"], limit=_PAGE, offset=offset)
                    metas = got["metadatas"] or []
                    batch = []
                    for i, meta in zip(got["ids"], metas, strict=True):
                        if not meta or "record" not in meta:
                            raise StoreError(
                                f"collection {col.name!r} item {i!r} has no record to copy"
                            )
                        batch.append(rows.row_of(_parse(str(meta["record"])), str(meta["hash"])))
                    rows.upsert(s, org, kind, batch)
                    if len(metas) < _PAGE:
                        break
                    offset += _PAGE
        for col in cols:
            col.modify(metadata={**(col.metadata or {}), _MARK: _MARK_VALUE})

    # -- reindex ------------------------------------------------------------

    def _raw(self, name: str) -> Any | None:
        """A collection by name, whatever embedder built it (reindex only)."""
        try:
            return self._client.get_collection(name, embedding_function=None)
        except Exception:
            return None

    def backends(self, org: str) -> set[str | None]:
        """The embedder ids of an organization's live collections (two after a crash)."""
        cols = [self._raw(_collection_name(org, kind)) for kind in KINDS]
        return {(c.metadata or {}).get("embedder") for c in cols if c is not None}

    def recover(self, org: str) -> None:
        """Finish or undo what an interrupted :meth:`reembed` left behind."""
        for kind in KINDS:
            live = self._raw(_collection_name(org, kind))
            retired = self._raw(_collection_name(org, kind, _RETIRED))
            if retired is not None and live is None:  # crashed between the two renames
                retired.modify(name=_collection_name(org, kind))
            elif retired is not None:
                self._client.delete_collection(retired.name)
            if self._raw(_collection_name(org, kind, _STAGED)) is not None:
                self._client.delete_collection(_collection_name(org, kind, _STAGED))
        self._forget(org)

    def _forget(self, org: str) -> None:
        for kind in KINDS:
            self._collections.pop(_collection_name(org, kind), None)

    def reembed(
        self,
        org: str,
        embed: Embed,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[Kind, int]:
        """Rebuild an organization's collections from its records alone, with
        vectors from ``embed``.

        Every record is embedded page by page into staging collections tagged
        with this store's embedder; the live collections are swapped out only
        once all are written. Interrupted, the old collections stay live (or are
        restored by :meth:`recover`), so nothing is lost and running it again
        finishes the job. Outbox entries seen before the rebuild are cleared.
        """
        self.recover(org)
        with self._unit() as s:
            entries = rows.pending(s, validate_org(org))
            total = sum(rows.count(s, org, kind) for kind in KINDS)
        done = 0
        counts: dict[Kind, int] = {}
        staged: dict[Kind, Any] = {}
        for kind in KINDS:
            dst = staged[kind] = self._client.create_collection(
                _collection_name(org, kind, _STAGED),
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedder": self.embedder_id, "org": org, "kind": kind, _MARK: "sql"},
                embedding_function=None,
            )
            counts[kind] = 0
            for got in self._pages(org, kind):
                recs = [_parse(payload) for *_, payload in got]
                vectors = embed([r.embed_text() for r in recs])
                step = self._max_batch
                for start in range(0, len(recs), step):
                    chunk = got[start : start + step]
                    dst.upsert(
                        ids=[rid for _, rid, _, _ in chunk],
                        embeddings=np.asarray(vectors[start : start + step], dtype=np.float32),
                        metadatas=[
                            _scalars(r, h)
                            for r, (_, _, h, _) in zip(
                                recs[start : start + step], chunk, strict=True
                            )
                        ],
                    )
                counts[kind] += len(recs)
                done += len(recs)
                if progress is not None:
                    progress(done, total)
        # swap: every staged collection is complete; retire the old ones, then drop them
        self._forget(org)
        retired = []
        for kind, dst in staged.items():
            live = self._raw(_collection_name(org, kind))
            if live is not None:
                live.modify(name=_collection_name(org, kind, _RETIRED))
                retired.append(kind)
            dst.modify(name=_collection_name(org, kind))
        for kind in retired:
            self._client.delete_collection(_collection_name(org, kind, _RETIRED))
        self._settle(org, entries)
        return counts
