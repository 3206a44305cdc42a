"""The fast embedding backend: the same MiniLM, run by OpenVINO (bf16 where the CPU has it).

The torch module of the model is converted once with ``openvino.convert_model``
(no optimum, no download), tokenized with the ``tokenizers`` package from the
model's own ``tokenizer.json``, then mean-pooled and L2-normalised exactly as
the sentence-transformers pipeline does. bf16 inference is used only when both
OpenVINO and the processor (``avx512_bf16`` or ``amx_bf16``) support it;
otherwise fp32, which matches the torch backend to float precision.

The embedder id names the precision (``openvino-bf16:all-MiniLM-L6-v2:384``),
so a store never mixes these vectors with torch's; switching needs a reindex.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from huddle_ai.errors import ConfigurationError
from huddle_ai.index.backends import BF16_FLAGS
from huddle_ai.index.embeddings import Embedder, Vectors, default_model_path, normalize

__all__ = ["OpenVINOEmbedder", "cpu_supports_bf16"]

Precision = Literal["auto", "bf16", "f32"]


def cpu_supports_bf16(capabilities: Sequence[str], cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when OpenVINO reports BF16 and the CPU has native bf16 instructions.

    OpenVINO may advertise BF16 on CPUs that only emulate it (slower than
    fp32), so the cpuinfo flags must agree where they can be read.
    """
    if "BF16" not in capabilities:
        return False
    try:
        text = cpuinfo.read_text()
    except OSError:
        return True  # no /proc (not Linux): trust OpenVINO
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split()}
    return bool(flags & BF16_FLAGS)


def _model_key(path: Path, max_len: int) -> str:
    """A cache key for the converted model: weights, config and tool versions."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"):
        f = path / name
        if f.exists():
            h.update(name.encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    versions = (*(version(p) for p in ("openvino", "torch", "transformers")), str(max_len))
    h.update("|".join(versions).encode())
    return h.hexdigest()[:24]


class OpenVINOEmbedder(Embedder):
    """all-MiniLM-L6-v2 (or another local sentence-transformers model) on OpenVINO.

    ``cache_dir``, when given, keeps the converted model (keyed by a hash of
    the weights and tool versions) so later starts skip loading torch; pass a
    directory only you can write to, such as the store's data directory.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        batch_size: int = 16,
        precision: Precision = "auto",
        cache_dir: Path | None = None,
    ) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        path = Path(model) if model is not None else default_model_path()
        if not (path / "tokenizer.json").exists():
            raise ConfigurationError(
                f"the openvino backend needs a local model directory with tokenizer.json; "
                f"{str(path)!r} has none (nothing is downloaded)"
            )
        self.batch_size = batch_size
        core = ov.Core()
        caps = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        if precision == "auto":
            precision = "bf16" if cpu_supports_bf16(caps) else "f32"
        elif precision == "bf16" and "BF16" not in caps:
            raise ConfigurationError("this CPU has no bf16 support in OpenVINO; use f32")
        self.precision = precision
        self._max_len = self._read_max_len(path)
        ov_model = self._load(core, path, cache_dir)
        # two compilations of one model: all cores on one request for a single batch
        # (query latency), one stream per core for many batches (ingest throughput)
        self._compiled = core.compile_model(
            ov_model,
            "CPU",
            {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"},
        )
        self._request = self._compiled.create_infer_request()
        self._bulk = core.compile_model(
            ov_model,
            "CPU",
            {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "THROUGHPUT"},
        )
        self._queue = ov.AsyncInferQueue(self._bulk)
        self._queue.set_callback(self._collect)
        self._lock = threading.Lock()  # one request and one queue: serve one caller at a time
        self._inputs = {i.get_any_name() for i in self._compiled.inputs}
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self._max_len)
        self.dim = int(self._compiled.outputs[0].get_partial_shape()[2].get_length())
        name = "all-MiniLM-L6-v2" if model is None else path.name
        self.id = f"openvino-{precision}:{name}:{self.dim}"

    @staticmethod
    def _read_max_len(path: Path) -> int:
        import json

        conf = path / "sentence_bert_config.json"
        if conf.exists():
            return int(json.loads(conf.read_text()).get("max_seq_length") or 256)
        return 256

    def _load(self, core: Any, path: Path, cache_dir: Path | None) -> Any:
        """The OpenVINO model: from the cache, or converted from torch (and cached)."""
        import openvino as ov

        target = None
        if cache_dir is not None:
            target = cache_dir / f"{path.name}-{_model_key(path, self._max_len)}"
            if (target / "model.xml").exists() and (target / "model.bin").exists():
                return core.read_model(str(target / "model.xml"))
        converted = self._convert(path)
        if target is not None:
            # write to a private temp dir, then rename: a crash never leaves half a model
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
            try:
                ov.save_model(converted, str(tmp / "model.xml"), compress_to_fp16=False)
                os.replace(tmp, target)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
        return converted

    def _convert(self, path: Path) -> Any:
        import openvino as ov
        import torch
        from transformers import AutoModel

        try:
            module = AutoModel.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:
            raise ConfigurationError(
                f"cannot load embedding model {str(path)!r} from local files: {exc}".splitlines()[0]
            ) from exc
        module.eval()
        # tracing warnings (python control flow frozen at trace time) are expected here:
        # shapes stay dynamic in the converted graph, which the tests check against torch
        example = {
            "input_ids": torch.ones((2, 8), dtype=torch.long),
            "attention_mask": torch.ones((2, 8), dtype=torch.long),
            "token_type_ids": torch.zeros((2, 8), dtype=torch.long),
        }
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ov.convert_model(module, example_input=example)

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._embed_locked(texts)

    def _embed_locked(self, texts: Sequence[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(list(texts))  # tokenize once
        # like sentence-transformers: batch similar lengths together to minimise padding
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if len(batches) == 1:
            ids, mask = self._feed([encodings[i] for i in batches[0]])
            out[batches[0]] = _pool(self._request.infer(self._inputs_of(ids, mask))[0], mask)
            return out
        for idx in batches:
            ids, mask = self._feed([encodings[i] for i in idx])
            self._queue.start_async(self._inputs_of(ids, mask), (out, idx, mask))
        self._queue.wait_all()
        return out

    @staticmethod
    def _collect(request: Any, userdata: tuple[Vectors, Any, Any]) -> None:
        out, idx, mask = userdata
        out[idx] = _pool(request.get_output_tensor(0).data, mask)

    @staticmethod
    def _feed(encodings: Sequence[Any]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        return ids, mask

    def _inputs_of(self, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> dict[str, Any]:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {k: v for k, v in feed.items() if k in self._inputs}


def _pool(hidden: Any, mask: NDArray[np.int64]) -> Vectors:
    """Mean over real tokens, then unit length (the model's pooling and Normalize)."""
    weights = mask[..., None].astype(np.float32)
    pooled = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
    return normalize(pooled / np.maximum(weights.sum(axis=1), 1e-9))
