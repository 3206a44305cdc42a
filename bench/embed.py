"""Benchmark: the OpenVINO backend and the default (``auto``) against fp32 torch, one JSON line.

Throughput is measured interleaved (chunks of 128 texts, alternating which
backend goes first) so all see the same machine noise. Quality is recall@10
of each text's nearest neighbours against the fp32 torch neighbours, on the
demo organization and on the synthetic corpus.

``default`` is what ``HuddleAI(Settings())`` runs here (``auto``): its id, why
it was chosen, its throughput against torch in the same run, and the seconds a
fresh process takes to build the engine on an empty data directory (OpenVINO
converts the model into it) and again on the same one (the cached model),
next to a torch engine's start.

    python bench/embed.py              # 1,024 texts of ~400 chars, batch 16 (about 1 minute)
    python bench/embed.py --n 2048 --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _corpus import texts
from _machine import machine
from numpy.typing import NDArray

from huddle_ai.demo import demo_path
from huddle_ai.engine import build_embedder
from huddle_ai.index.backends import CpuProbe, choose_backend
from huddle_ai.index.embeddings import Embedder, SentenceTransformerEmbedder
from huddle_ai.index.formats import read_file
from huddle_ai.index.openvino_backend import OpenVINOEmbedder
from huddle_ai.settings import Settings

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
    embedders: list[Embedder], corpus: list[str], chunk: int = 128
) -> tuple[list[float], list[NDArray[np.float32]]]:
    """Seconds spent by each embedder on the same chunks, rotating who goes first."""
    n = len(embedders)
    spent = [0.0] * n
    out: list[list[NDArray[np.float32]]] = [[] for _ in embedders]
    for i, start in enumerate(range(0, len(corpus), chunk)):
        part = corpus[start : start + chunk]
        for j in [(i + k) % n for k in range(n)]:
            t0 = time.perf_counter()
            out[j].append(embedders[j].embed(part))
            spent[j] += time.perf_counter() - t0
    return spent, [np.vstack(o) for o in out]


_START = """
import sys, time
t0 = time.perf_counter()
from huddle_ai import HuddleAI, Settings
hai = HuddleAI(Settings(data_dir=sys.argv[1], embedding_backend=sys.argv[2]))
hai.embedder.embed(["warm up"])
print(time.perf_counter() - t0)
"""


def start_seconds(data_dir: Path, backend: str) -> float:
    """A fresh process: import huddle_ai, build the engine, embed one text."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _START, str(data_dir), backend],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="synthetic texts (~400 chars)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--precision", choices=["auto", "bf16", "f32"], default="auto")
    args = ap.parse_args()

    info = machine()
    choice = choose_backend(None, CpuProbe.read())
    with tempfile.TemporaryDirectory() as tmp:
        # fresh processes, before this one loads anything: first start converts, second reads
        starts = {
            "first_start_s": start_seconds(Path(tmp), "auto"),
            "second_start_s": start_seconds(Path(tmp), "auto"),
            "torch_start_s": start_seconds(Path(tmp), "torch"),
        }
        default_emb = build_embedder(Settings(data_dir=Path(tmp), embedding_batch_size=args.batch))
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
    # the default is measured on its own only when it is neither of the other two
    runs: list[Embedder] = [torch_emb, ov_emb]
    if default_emb.id not in (torch_emb.id, ov_emb.id):
        runs.append(default_emb)
    for e in runs:
        e.embed(warm)
    spent, vecs = interleaved(runs, corpus)
    torch_s, ov_s = spent[0], spent[1]
    ref, got = vecs[0], vecs[1]
    at = {e.id: n for n, e in enumerate(runs)}
    d = at.get(default_emb.id, len(runs) - 1)

    demo = [r.embed_text() for _, r in read_file(demo_path()).records]
    demo_ref = torch_emb.embed(demo)
    recall_demo = recall_at(demo_ref, ov_emb.embed(demo))
    recall_synth = recall_at(ref, got)
    default_recall = {
        f"demo_{len(demo)}": round(recall_at(demo_ref, runs[d].embed(demo)), 4),
        f"synthetic_{args.n}": round(recall_at(ref, vecs[d]), 4),
    }
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
                "default": {
                    "backend": "auto",
                    "id": default_emb.id,
                    "reason": choice.reason,
                    "texts_per_s": round(args.n / spent[d], 1),
                    "ratio_vs_torch": round(torch_s / spent[d], 2),
                    "recall_at_10": default_recall,
                    **{k: round(v, 2) for k, v in starts.items()},
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
