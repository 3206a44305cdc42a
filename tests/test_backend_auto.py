"""``embedding_backend="auto"`` (the default): OpenVINO where the CPU supports it,
torch otherwise, and an organization indexed before keeps its backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from huddle_ai import (
    BackendMismatchError,
    Feedback,
    Huddle,
    HuddleAI,
    Learner,
    SentenceTransformerEmbedder,
    Settings,
    Solution,
    Store,
)
from huddle_ai.demo import DEMO_ORG, demo_path
from huddle_ai.engine import build_embedder
from huddle_ai.index.backends import CpuProbe, choose_backend
from huddle_ai.index.formats import read_file
from huddle_ai.records import AnyRecord

pytestmark = pytest.mark.slow

HERE = CpuProbe.read()
NO_AVX2 = CpuProbe(frozenset({"fpu", "sse4_2", "avx"}), None, ("FP32", "INT8"))


def needs_openvino_here() -> None:
    choice = choose_backend(None, HERE)
    if choice.backend != "openvino":
        pytest.skip(f"auto runs torch on this machine: {choice.reason}")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the module: the model is converted into it once."""
    return tmp_path_factory.mktemp("auto")


@pytest.fixture(scope="module")
def auto(root: Path) -> HuddleAI:
    needs_openvino_here()
    return HuddleAI(Settings(data_dir=root))


def top10(vectors: NDArray[np.float32]) -> NDArray[np.intp]:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :10]


# -- the choice --------------------------------------------------------------


def test_auto_is_the_default_and_the_choice_follows_the_machine(tmp_path: Path) -> None:
    assert Settings.model_construct().embedding_backend == "auto"
    assert choose_backend(None, NO_AVX2).backend == "torch"
    assert "no AVX2" in choose_backend(None, NO_AVX2).reason
    missing = CpuProbe(frozenset({"avx2"}), "ModuleNotFoundError: No module named 'openvino'")
    assert choose_backend(None, missing).backend == "torch"
    assert "openvino is not usable" in choose_backend(None, missing).reason
    assert choose_backend(None, CpuProbe(None, None, ("FP32",))).backend == "torch"
    # a hub name, not a local directory: only torch can try it (and it loads local files only)
    named = choose_backend("sentence-transformers/all-MiniLM-L6-v2", CpuProbe(frozenset({"avx2"})))
    assert named.backend == "torch" and "not a local directory" in named.reason
    avx2 = CpuProbe(frozenset({"avx2"}), None, ("FP32", "BF16"))  # BF16 emulated: f32
    assert (choose_backend(None, avx2).backend, choose_backend(None, avx2).precision) == (
        "openvino",
        "f32",
    )
    native = CpuProbe(frozenset({"avx2", "avx512_bf16"}), None, ("FP32", "BF16"))
    assert choose_backend(None, native).precision == "bf16"


def test_the_probe_reads_cpu_flags_and_says_when_it_cannot(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse4_2 avx2\n\nprocessor\t: 1\nflags\t: fpu\n")
    probe = CpuProbe.read(info)
    assert probe.flags == frozenset({"fpu", "sse4_2", "avx2"})
    assert CpuProbe.read(tmp_path / "absent").flags is None
    assert (HERE.openvino is None) == bool(HERE.capabilities)


def test_auto_picks_openvino_on_this_machine(auto: HuddleAI, root: Path) -> None:
    precision = choose_backend(None, HERE).precision
    assert auto.embedder.id == f"openvino-{precision}:all-MiniLM-L6-v2:384"
    # the converted model is kept under the data directory: the next start skips torch
    cached = [p for p in (root / "openvino-cache").iterdir() if not p.name.startswith(".")]
    assert len(cached) == 1 and (cached[0] / "model.xml").is_file()


def test_auto_without_avx2_falls_back_to_torch(tmp_path: Path) -> None:
    embedder = build_embedder(Settings(data_dir=tmp_path), cpu_probe=NO_AVX2)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.id == "torch:all-MiniLM-L6-v2:384"
    assert not (tmp_path / "openvino-cache").exists()


# -- an organization keeps the backend it was indexed with ----------------------


def test_an_org_built_with_torch_stays_on_torch_under_auto(
    auto: HuddleAI, root: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    old = HuddleAI(Settings(data_dir=root, embedding_backend="torch"), embedder=real_embedder)
    # two of the demo's huddles; the last ten solutions come later
    records = [r for _, r in read_file(demo_path()).records]
    huddles = [r for r in records if isinstance(r, Huddle)][:2]
    solutions = [
        r for r in records if isinstance(r, Solution) and r.huddle_id in {h.id for h in huddles}
    ]
    early = {s.id for s in solutions[:-10]}
    first: list[AnyRecord] = [*huddles, *(r for r in records if isinstance(r, Learner))]
    first += solutions[:-10]
    first += [r for r in records if isinstance(r, Feedback) and r.solution_id in early]
    old.ingest("legacy", first)

    assert auto.embedder.id.startswith("openvino-")
    legacy = auto.embedder_for("legacy")
    assert legacy.id == real_embedder.id and legacy is not auto.embedder
    assert auto.embedder_for("legacy") is legacy  # loaded once
    # reads answer with torch vectors on a torch index: the same neighbours as torch itself
    query = "we tracked the metric for two weeks before changing the checklist"
    hid = solutions[0].huddle_id
    got = auto.similar("legacy", text=query, huddle_id=hid, k=5)
    want = old.similar("legacy", text=query, huddle_id=hid, k=5)
    assert [n.solution.id for n in got.neighbors] == [n.solution.id for n in want.neighbors]
    # writes add torch vectors, never the default backend's
    report = auto.ingest("legacy", solutions[-10:])
    assert report.added == 10
    assert auto.store.embedder_of("legacy") == real_embedder.id
    added = [s.id for s in solutions[-10:]]
    stored = old.store.embeddings("legacy", "solution", added)
    ref = real_embedder.embed([s.embed_text() for s in solutions[-10:]])
    np.testing.assert_allclose(np.vstack([stored[i] for i in added]), ref, atol=1e-5)
    # the suggestion path and matching run on the torch index too
    assert auto.suggest("legacy", solutions[0].id).generator == "grounded"
    assert auto.match_partners("legacy").groups

    # a new organization takes the default backend; explicit torch refuses it as before
    auto.ingest("fresh", [r for r in first if not isinstance(r, Feedback)][:20])
    assert auto.store.embedder_of("fresh") == auto.embedder.id
    assert auto.embedder_for("fresh") is auto.embedder
    with pytest.raises(BackendMismatchError, match="reindex --org fresh"):
        old.similar("fresh", text=query, huddle_id=hid)

    # reindex moves the torch organization to the default backend
    done = auto.reindex("legacy")
    assert done.previous == [real_embedder.id] and done.embedder == auto.embedder.id
    assert auto.embedder_for("legacy") is auto.embedder
    assert auto.similar("legacy", text=query, huddle_id=hid, k=5).neighbors


def test_a_recorded_backend_that_cannot_load_here_is_a_clear_error(
    auto: HuddleAI, root: Path
) -> None:
    if choose_backend(None, HERE).precision == "bf16":
        pytest.skip("this CPU runs bf16: that index would load")
    store = Store.embedded(root, "openvino-bf16:all-MiniLM-L6-v2:384")
    records = [r for _, r in read_file(demo_path()).records][:30]
    hid = next(r.huddle_id for r in records if isinstance(r, Solution))
    vectors = np.eye(len(records), 384, dtype=np.float32)
    store.put("bf16org", [(r, f"h{n}") for n, r in enumerate(records)], vectors)
    with pytest.raises(BackendMismatchError) as err:
        auto.similar("bf16org", text="anything", huddle_id=hid)
    message = str(err.value)
    assert "'openvino-bf16:all-MiniLM-L6-v2:384'" in message and "cannot be loaded" in message
    assert "reindex --org bf16org" in message and len(message.splitlines()) == 1
    assert auto.reindex("bf16org").embedder == auto.embedder.id
    assert auto.similar("bf16org", text="anything", huddle_id=hid).neighbors


# -- quality: the default backend holds torch's neighbours ---------------------------


def test_recall_at_10_of_the_default_backend_against_torch(
    auto: HuddleAI, demo_hai: HuddleAI
) -> None:
    # the demo organization's 300 solutions and feedback, as the torch backend stored them
    rows: list[NDArray[np.float32]] = []
    texts: list[str] = []
    for kind in ("solution", "feedback"):
        mine = [r for r in demo_hai.records(DEMO_ORG) if r.kind == kind]
        stored = demo_hai.store.embeddings(DEMO_ORG, kind, [r.id for r in mine])
        rows += [stored[r.id] for r in mine]
        texts += [r.embed_text() for r in mine]
    assert len(texts) == 300
    ref, got = np.vstack(rows), auto.embedder.embed(texts)
    recall = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(top10(ref), top10(got), strict=True)]
    )
    assert recall >= 0.98, recall
    assert float(np.min(np.sum(ref * got, axis=1))) > 0.99
