"""The OpenVINO backend: same neighbours as fp32 torch, its own id, clean CPU fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from huddle_ai import BackendMismatchError, HuddleAI, SentenceTransformerEmbedder, Solution, Store
from huddle_ai.demo import DEMO_ORG
from huddle_ai.index.openvino_backend import OpenVINOEmbedder, cpu_supports_bf16

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ov-cache")


@pytest.fixture(scope="module")
def ov(cache_dir: Path) -> OpenVINOEmbedder:
    return OpenVINOEmbedder(cache_dir=cache_dir)


def top10(vectors: NDArray[np.float32]) -> NDArray[np.intp]:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :10]


def test_recall_at_10_against_torch_on_the_demo_org(
    ov: OpenVINOEmbedder, demo_hai: HuddleAI
) -> None:
    solutions = [r for r in demo_hai.records(DEMO_ORG) if isinstance(r, Solution)]
    stored = demo_hai.store.embeddings(DEMO_ORG, "solution", [s.id for s in solutions])
    ref = np.vstack([stored[s.id] for s in solutions])
    got = ov.embed([s.embed_text() for s in solutions])
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(ref * got, axis=1))) > 0.995
    a, b = top10(ref), top10(got)
    recall = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)])
    assert recall >= 0.98


def test_batching_padding_and_order_do_not_change_a_vector(ov: OpenVINOEmbedder) -> None:
    texts = ["short", "a much longer text " * 30, "medium length text about a retro", "x"]
    together = ov.embed(texts)
    alone = np.vstack([ov.embed([t]) for t in texts])
    assert float(np.min(np.sum(together * alone, axis=1))) > 0.999
    assert ov.embed([]).shape == (0, 384)
    # longer than the model's 256 tokens: truncated, not an error
    assert ov.embed(["word " * 2000]).shape == (1, 384)


def test_fp32_fallback_matches_torch_and_has_its_own_id(
    ov: OpenVINOEmbedder, cache_dir: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    f32 = OpenVINOEmbedder(precision="f32", cache_dir=cache_dir)
    assert f32.id == "openvino-f32:all-MiniLM-L6-v2:384"
    assert ov.id.startswith("openvino-") and ov.id != real_embedder.id
    texts = ["We measured the baseline for two weeks.", "Next sprint we track activation."]
    got, ref = f32.embed(texts), real_embedder.embed(texts)
    np.testing.assert_allclose(got, ref, atol=2e-4)


def test_the_converted_model_is_cached_and_reused(
    ov: OpenVINOEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = [p for p in cache_dir.iterdir() if not p.name.startswith(".")]
    assert len(cached) == 1 and (cached[0] / "model.xml").exists()
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]

    def no_conversion(self: object, path: Path) -> None:
        raise AssertionError("converted again despite the cache")

    monkeypatch.setattr(OpenVINOEmbedder, "_convert", no_conversion)
    again = OpenVINOEmbedder(cache_dir=cache_dir)
    np.testing.assert_allclose(again.embed(["same text"]), ov.embed(["same text"]), atol=1e-6)


def test_bf16_needs_both_openvino_and_the_cpu_flags(tmp_path: Path) -> None:
    with_flag = tmp_path / "bf16"
    with_flag.write_text("processor : 0\nflags : fpu avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "plain"
    without.write_text("processor : 0\nflags : fpu avx2 avx512f\n")
    assert cpu_supports_bf16(["FP32", "BF16"], with_flag)
    assert not cpu_supports_bf16(["FP32", "BF16"], without)  # emulated bf16 is slower
    assert not cpu_supports_bf16(["FP32", "INT8"], with_flag)
    assert cpu_supports_bf16(["FP32", "BF16"], tmp_path / "missing")  # no /proc: trust OpenVINO


def test_a_torch_store_refuses_openvino_vectors(ov: OpenVINOEmbedder, demo_hai: HuddleAI) -> None:
    path = demo_hai.store  # read-only: only opened with another embedder id
    other = Store(path._client, ov.id)
    with pytest.raises(BackendMismatchError, match="reindex --org demo"):
        other.count(DEMO_ORG, "solution")


def test_reindex_from_torch_to_openvino_keeps_the_neighbours(
    ov: OpenVINOEmbedder, demo_hai: HuddleAI, tmp_path: Path
) -> None:
    # copy the demo org's torch vectors into a fresh store (no re-embedding needed)
    torch_store = Store.embedded(tmp_path, demo_hai.embedder.id)
    for kind in ("huddle", "learner", "solution"):  # feedback: not needed, and slow to embed
        records = sorted(demo_hai.store.all(DEMO_ORG, kind), key=lambda r: r.id)
        vecs = demo_hai.store.embeddings(DEMO_ORG, kind, [r.id for r in records])
        torch_store.upsert(
            DEMO_ORG,
            kind,
            records,
            np.vstack([vecs[r.id] for r in records]),
            [r.content_hash() for r in records],
        )
    torch_hai = HuddleAI(embedder=demo_hai.embedder, store=torch_store)
    probes = [s.id for s in demo_hai.records(DEMO_ORG) if isinstance(s, Solution)][::5]
    before = {
        p: [n.solution.id for n in torch_hai.similar(DEMO_ORG, solution_id=p, k=5).neighbors]
        for p in probes
    }

    ov_hai = HuddleAI(embedder=ov, store=Store.embedded(tmp_path, ov.id))
    report = ov_hai.reindex(DEMO_ORG)
    assert report.previous == [demo_hai.embedder.id] and report.embedder == ov.id
    after = {
        p: [n.solution.id for n in ov_hai.similar(DEMO_ORG, solution_id=p, k=5).neighbors]
        for p in probes
    }
    overlap = np.mean([len(set(before[p]) & set(after[p])) / 5 for p in probes])
    assert overlap >= 0.9


def test_concurrent_callers_get_their_own_vectors(ov: OpenVINOEmbedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    batches = [[f"text {i} {j} about retros and pricing" for j in range(40)] for i in range(4)]
    expected = [ov.embed(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(ov.embed, batches))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-6)
