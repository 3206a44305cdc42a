"""Benchmark: the OpenVINO backend against the default fp32 torch backend, one JSON line.

Throughput is measured interleaved (chunks of 128 texts, alternating which
backend goes first) so both see the same machine noise. Quality is recall@10
of each text's nearest neighbours against the fp32 torch neighbours, on the
demo organization and on the synthetic corpus.

    python bench/embed.py              # 1,024 texts of ~400 chars, batch 16 (about 1 minute)
    python bench/embed.py --n 2048 --batch 8
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _corpus import texts
from _machine import machine
from numpy.typing import NDArray

from huddle_ai.demo import demo_path
from huddle_ai.index.embeddings import Embedder, SentenceTransformerEmbedder
from huddle_ai.index.formats import read_file
from huddle_ai.index.openvino_backend import OpenVINOEmbedder

GOAL_RATIO = 2.5
GOAL_RECALL = 0.98


def recall_at(ref: NDArray[np.float32], got: NDArray[np.float32], k: int = 10) -> float:
    """Mean overlap of each row's k nearest neighbours (self excluded)."""

    def top(v: NDArray[np.float32]) -> NDArray[np.int64]:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :k]

    a, b = top(ref), top(got)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b, strict=True)]))


def interleaved(
    a: Embedder, b: Embedder, corpus: list[str], chunk: int = 128
) -> tuple[float, float, NDArray[np.float32], NDArray[np.float32]]:
    """Seconds spent by each embedder on the same chunks, alternating who goes first."""
    spent = [0.0, 0.0]
    out: list[list[NDArray[np.float32]]] = [[], []]
    for i, start in enumerate(range(0, len(corpus), chunk)):
        part = corpus[start : start + chunk]
        for j in (0, 1) if i % 2 == 0 else (1, 0):
            t0 = time.perf_counter()
            out[j].append((a, b)[j].embed(part))
            spent[j] += time.perf_counter() - t0
    return spent[0], spent[1], np.vstack(out[0]), np.vstack(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="synthetic texts (~400 chars)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--precision", choices=["auto", "bf16", "f32"], default="auto")
    args = ap.parse_args()

    info = machine()
    torch_emb = SentenceTransformerEmbedder(batch_size=args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ov_emb = OpenVINOEmbedder(
            batch_size=args.batch, precision=args.precision, cache_dir=Path(tmp)
        )
        convert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        OpenVINOEmbedder(batch_size=args.batch, precision=args.precision, cache_dir=Path(tmp))
        cached_s = time.perf_counter() - t0

    corpus = texts(args.n)
    warm = corpus[: 2 * args.batch]
    torch_emb.embed(warm)
    ov_emb.embed(warm)
    torch_s, ov_s, ref, got = interleaved(torch_emb, ov_emb, corpus)

    demo = [r.embed_text() for _, r in read_file(demo_path()).records]
    recall_demo = recall_at(torch_emb.embed(demo), ov_emb.embed(demo))
    recall_synth = recall_at(ref, got)
    ratio = torch_s / ov_s
    print(
        json.dumps(
            {
                "bench": "embed",
                "n": args.n,
                "batch": args.batch,
                "chars_mean": round(float(np.mean([len(t) for t in corpus])), 1),
                "openvino": {
                    "id": ov_emb.id,
                    "texts_per_s": round(args.n / ov_s, 1),
                    "convert_s": round(convert_s, 2),
                    "cached_start_s": round(cached_s, 2),
                },
                "baseline_torch_fp32": {
                    "id": torch_emb.id,
                    "texts_per_s": round(args.n / torch_s, 1),
                },
                "ratio_texts_per_s": round(ratio, 2),
                "recall_at_10": {
                    f"demo_{len(demo)}": round(recall_demo, 4),
                    f"synthetic_{args.n}": round(recall_synth, 4),
                },
                "min_cosine_vs_torch": round(float(np.min(np.sum(ref * got, axis=1))), 5),
                "goals": {"ratio": GOAL_RATIO, "recall_at_10": GOAL_RECALL},
                "meets": {
                    "ratio": ratio >= GOAL_RATIO,
                    "recall": min(recall_demo, recall_synth) >= GOAL_RECALL,
                },
                "machine": info,
            }
        )
    )


if __name__ == "__main__":
    main()
