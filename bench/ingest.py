"""Benchmark: ingest throughput against raw SentenceTransformer.encode, one JSON line.

The corpus (fixed seed, ~400-char solutions, 20 huddles, 50 learners) is
ingested in parts into a fresh embedded store; each part is also encoded by a
raw ``SentenceTransformer.encode`` (batch 16, normalised) on exactly the texts
huddle_ai embeds, alternating which goes first, so both see the same machine
noise. Then the unchanged corpus is ingested again (nothing to embed).

    python bench/ingest.py                        # 1,000 solutions (about 1 minute)
    python bench/ingest.py --n 2000 --backend openvino
    python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test

The records go to SQLite in the temporary directory, or to a scratch database
created (and dropped) on the PostgreSQL server ``--database-url`` names.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _corpus import make_corpus
from _machine import machine
from sentence_transformers import SentenceTransformer

from huddle_ai import HuddleAI, Store
from huddle_ai.index.database import scratch_database
from huddle_ai.index.embeddings import Embedder, SentenceTransformerEmbedder, default_model_path
from huddle_ai.index.ingest import parsed_from

GOAL_RATIO = 0.9
GOAL_REINGEST = 50.0
ORG = "bench"


def build_embedder(backend: str, batch: int, cache: Path) -> Embedder:
    if backend == "openvino":
        from huddle_ai.index.openvino_backend import OpenVINOEmbedder

        return OpenVINOEmbedder(batch_size=batch, cache_dir=cache)
    return SentenceTransformerEmbedder(batch_size=batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="solutions")
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--backend", choices=["torch", "openvino"], default="torch")
    ap.add_argument("--database-url", default=None, help="a PostgreSQL server for the records")
    args = ap.parse_args()
    info = machine()

    corpus = make_corpus(args.n, learners=50)
    records = corpus.records
    raw = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, Path(tmp)) as db,
    ):
        embedder = build_embedder(args.backend, args.batch, Path(tmp) / "ov")
        hai = HuddleAI(embedder=embedder, store=Store.embedded(Path(tmp), embedder.id, db))
        warm = [r.embed_text() for r in records[:32]]
        raw.encode(warm, batch_size=args.batch, normalize_embeddings=True)
        embedder.embed(warm)

        size = -(-len(records) // args.parts)
        ingest_s = raw_s = 0.0
        embedded = 0
        embed_s = 0.0
        for i in range(args.parts):
            part = records[i * size : (i + 1) * size]
            texts = [r.embed_text() for r in part]
            for step in ("ingest", "raw") if i % 2 == 0 else ("raw", "ingest"):
                t0 = time.perf_counter()
                if step == "raw":
                    raw.encode(
                        texts,
                        batch_size=args.batch,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                    raw_s += time.perf_counter() - t0
                else:
                    report = hai.ingest(ORG, parsed_from(part))
                    ingest_s += time.perf_counter() - t0
                    embedded += report.embedded
                    embed_s += report.embed_seconds
        assert embedded == len(records)

        t0 = time.perf_counter()
        again = hai.ingest(ORG, parsed_from(records))
        reingest_s = time.perf_counter() - t0
        assert again.embedded == 0 and again.unchanged == len(records)

    ingest_tps, raw_tps = len(records) / ingest_s, len(records) / raw_s
    out: dict[str, object] = {
        "bench": "ingest",
        "n_solutions": args.n,
        "texts": len(records),
        "backend": embedder.id,
        "batch": args.batch,
        "records": db.engine.dialect.name,
        "ingest": {
            "texts_per_s": round(ingest_tps, 1),
            "seconds": round(ingest_s, 2),
            "embedding_share": round(embed_s / ingest_s, 3),
        },
        "baseline_raw_encode": {"texts_per_s": round(raw_tps, 1), "seconds": round(raw_s, 2)},
        "ratio_texts_per_s": round(ingest_tps / raw_tps, 3),
        "reingest_unchanged": {"seconds": round(reingest_s, 3)},
        "ratio_first_over_reingest": round(ingest_s / reingest_s, 1),
        "goals": {"ratio_texts_per_s": GOAL_RATIO, "ratio_first_over_reingest": GOAL_REINGEST},
        "meets": {
            "ratio_texts_per_s": ingest_tps / raw_tps >= GOAL_RATIO,
            "ratio_first_over_reingest": ingest_s / reingest_s >= GOAL_REINGEST,
        },
        "machine": info,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
