"""Which embedding backend ``auto`` (the default) runs on this machine.

OpenVINO when the ``openvino`` package imports, its CPU device loads, the
processor has AVX2 and the model is a local directory with ``tokenizer.json``;
there it embeds 2.4-2.8x faster than torch with the same neighbours
(recall@10 1.000 against fp32 torch, ``bench/embed.py``). bf16 only where the
processor has native bf16 (``avx512_bf16`` or ``amx_bf16``) and OpenVINO
reports it; otherwise f32. Anywhere else: torch.

The machine is read once into a :class:`CpuProbe`; tests pass their own to
exercise the fallback. Nothing here loads a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from huddle_ai.index.embeddings import default_model_path

__all__ = ["BF16_FLAGS", "BackendChoice", "CpuProbe", "choose_backend"]

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def _flags(cpuinfo: Path) -> frozenset[str] | None:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None  # no /proc (not Linux): unknown
    found = [
        line.split(":", 1)[-1].split() for line in text.splitlines() if line.startswith("flags")
    ]
    return frozenset(f for fs in found for f in fs) if found else None


@dataclass(frozen=True)
class CpuProbe:
    """What the choice needs to know of the machine.

    ``flags`` are the processor's (``/proc/cpuinfo``), ``None`` when they cannot
    be read; ``openvino`` is ``None`` when the package imports and its CPU device
    loads, else why not; ``capabilities`` are OpenVINO's CPU
    ``OPTIMIZATION_CAPABILITIES`` (``FP32``, ``BF16``...).
    """

    flags: frozenset[str] | None
    openvino: str | None = None
    capabilities: tuple[str, ...] = ()

    @classmethod
    def read(cls, cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuProbe:
        """This machine: its CPU flags, and whether OpenVINO's CPU device loads."""
        flags = _flags(cpuinfo)
        try:
            import openvino as ov

            caps: Iterable[object] = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        except Exception as exc:  # ImportError, or the plugin's RuntimeError
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return cls(flags, f"{type(exc).__name__}: {reason}")
        return cls(flags, None, tuple(str(c) for c in caps))


@dataclass(frozen=True)
class BackendChoice:
    """The backend ``auto`` runs, its precision (OpenVINO only) and why."""

    backend: Literal["torch", "openvino"]
    precision: Literal["bf16", "f32"] | None
    reason: str


def choose_backend(model: str | Path | None, probe: CpuProbe) -> BackendChoice:
    """The fastest backend that holds torch's neighbours for ``model`` (the
    packaged MiniLM when ``None``) on the machine ``probe`` describes."""
    if probe.openvino is not None:
        return BackendChoice("torch", None, f"openvino is not usable here ({probe.openvino})")
    if probe.flags is None:
        return BackendChoice("torch", None, "the CPU flags cannot be read")
    if "avx2" not in probe.flags:
        return BackendChoice("torch", None, "the CPU has no AVX2")
    path = Path(model) if model is not None else default_model_path()
    if not (path / "tokenizer.json").is_file():
        return BackendChoice(
            "torch", None, f"model {str(model)!r} is not a local directory with tokenizer.json"
        )
    if "BF16" in probe.capabilities and probe.flags & BF16_FLAGS:
        return BackendChoice("openvino", "bf16", "AVX2 and native bf16")
    return BackendChoice("openvino", "f32", "AVX2, no native bf16")
