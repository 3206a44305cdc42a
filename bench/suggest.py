"""Benchmark: end-to-end grounded suggestions (offline generator) at 10k and 100k solutions.

The organization is the retrieve benchmark's (synthetic vectors clustered by
huddle, 20 huddles, feedback on 20% of solutions). Every text the engine
embeds is really encoded by the configured model; stored solutions then get
their synthetic vector back, so retrieval sees realistic neighbourhoods.
Suggestions are asked for stored solutions of ``--huddles`` huddles. The first
suggestion per huddle calibrates the grounded generator on the huddle's
labelled history (it embeds that history once per process): reported apart as
``cold``. The rest are ``warm``, interleaved with the baseline of one raw
``SentenceTransformer.encode`` plus one raw Chroma query (k=5).

    python bench/suggest.py                 # 10k and 100k (about 4-5 minutes)
    python bench/suggest.py --n 10000 --queries 20
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from _corpus import SEED, load, make_corpus
from _machine import machine, percentiles
from chromadb.config import Settings as ChromaSettings
from retrieve import part
from sentence_transformers import SentenceTransformer

from huddle_ai import HuddleAI, Settings, Store
from huddle_ai.index.embeddings import (
    Embedder,
    SentenceTransformerEmbedder,
    Vectors,
    default_model_path,
)

ORG = "bench"


class PinnedOrReal(Embedder):
    """Real encodes for every text; stored solutions get their synthetic vector back."""

    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.id, self.dim, self.batch_size = real.id, real.dim, real.batch_size
        self.pinned: dict[str, Vectors] = {}

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        got = self.real.embed_batch(texts)
        return np.vstack([self.pinned.get(t, got[i]) for i, t in enumerate(texts)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="10000,100000", help="comma-separated solution counts")
    ap.add_argument("--queries", type=int, default=20, help="warm suggestions per size")
    ap.add_argument("--huddles", type=int, default=2, help="huddles the suggestions come from")
    ap.add_argument("--feedback", type=float, default=0.2)
    ap.add_argument("--backend", choices=["torch", "openvino"], default="torch")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.n.split(","))
    info = machine()

    corpus = make_corpus(sizes[-1], feedback=args.feedback)
    raw_model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        real: Embedder
        if args.backend == "openvino":
            from huddle_ai.index.openvino_backend import OpenVINOEmbedder

            real = OpenVINOEmbedder(cache_dir=Path(tmp) / "ov")
        else:
            real = SentenceTransformerEmbedder()
        embedder = PinnedOrReal(real)
        store = Store.embedded(Path(tmp), embedder.id)
        hai = HuddleAI(Settings.model_construct(), embedder=embedder, store=store)
        raw_client = chromadb.PersistentClient(
            path=str(Path(tmp) / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        loaded, load_s = 0, 0.0
        for size in sizes:
            t0 = time.perf_counter()
            piece = part(corpus, loaded, size)
            vectors = load(store, ORG, piece, noise_seed=size)
            embedder.pinned.update(
                {s.text: vectors[i : i + 1] for i, s in enumerate(piece.solutions)}
            )
            load_s += time.perf_counter() - t0
            loaded = size
            col = raw_client.get_collection(f"hai-{ORG}-solution")
            wanted = {h.id for h in corpus.huddles[: args.huddles]}
            pool = [s for s in corpus.solutions[:size] if s.huddle_id in wanted]
            rng = random.Random(SEED + size)
            picks = rng.sample(pool, min(len(pool), args.queries + args.huddles))

            cold: list[float] = []
            for huddle_id in sorted(wanted):  # first suggestion per huddle: calibration
                first = next(s for s in picks if s.huddle_id == huddle_id)
                t0 = time.perf_counter()
                hai.suggest(ORG, first.id)
                cold.append(time.perf_counter() - t0)
                picks.remove(first)

            warm: list[float] = []
            base: list[float] = []
            levels: dict[str, int] = {}
            for i, sol in enumerate(picks[: args.queries]):
                for step in ("ours", "base") if i % 2 == 0 else ("base", "ours"):
                    t0 = time.perf_counter()
                    if step == "ours":
                        out: Any = hai.suggest(ORG, sol.id)
                        warm.append(time.perf_counter() - t0)
                        key = str(getattr(out, "assessment", None))
                        levels[key] = levels.get(key, 0) + 1
                    else:
                        raw_model.encode([sol.text], batch_size=16, normalize_embeddings=True)
                        col.query(
                            query_embeddings=embedder.pinned[sol.text],
                            n_results=5,
                            include=["metadatas", "distances"],
                        )
                        base.append(time.perf_counter() - t0)
            w, b = percentiles(warm), percentiles(base)
            results[str(size)] = {
                "suggest_warm": w,
                "suggest_cold_first_per_huddle_ms": [round(c * 1000, 1) for c in cold],
                "baseline_encode_plus_chroma_query": b,
                "ratio_warm_p50": round(w["p50_ms"] / b["p50_ms"], 2),
                "ratio_warm_p95": round(w["p95_ms"] / b["p95_ms"], 2),
                "assessments": levels,
                "stored": {"solutions": size, "feedback": store.count(ORG, "feedback")},
            }
    print(
        json.dumps(
            {
                "bench": "suggest",
                "generator": "grounded (offline)",
                "queries": args.queries,
                "encoder": real.id,
                "vectors": "synthetic, clustered by huddle (20 huddles); every encode is real",
                "load_seconds": round(load_s, 1),
                "sizes": results,
                "goal": "none set (reported for reference)",
                "machine": info,
            }
        )
    )


if __name__ == "__main__":
    main()
