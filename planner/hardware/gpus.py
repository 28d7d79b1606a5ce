"""The shipped GPU catalog (``data/gpus.json``), read and validated in one place, and name lookup.

What the figures mean (every row cites its ``source``; doubts are spelled out in ``note``,
marked UNSURE where a figure could not be confirmed):

- ``memory_bytes``: for NVIDIA cards, the total NVML reports (``nvidia-smi``'s MiB figure)
  where a published output was found (``memory_basis == "nvml"``, cited in ``memory_source``);
  otherwise the nominal capacity in binary GiB (``"nominal"``). Vendors write "24 GB" for
  24 GiB of GDDR; NVML totals sit a little below (RTX 4090: 24564 MiB) and drop by about 1/16
  when ECC is on for GDDR cards (T4, A10, L4, L40S).
- ``memory_bandwidth_bytes_per_s``: the vendor's peak figure (decimal GB/s).
- ``fp16_tensor_flops``: dense (no 2:4 sparsity) FP16 matrix throughput **with FP32
  accumulate**, the mode PyTorch and cuBLAS use. GeForce cards run it at half their
  FP16-accumulate rate, so an RTX 4090 is 165 TFLOPS here, not 330. ``fp8_tensor_flops``
  (FP32 accumulate) and ``int8_tensor_ops`` are dense too. ``None``: no such units, or no
  figure could be confirmed (see ``note``).
- ``gpu_usable_bytes``: unified-memory rows only (Apple silicon, AMD Ryzen AI Max, NVIDIA GB10),
  the most the GPU may allocate of the memory it shares with the CPU: Metal's default
  ``recommendedMaxWorkingSetSize`` on a Mac, AMD's largest "Variable Graphics Memory" carve-out on
  Strix Halo, the memory CUDA reports on GB10; each row's note says which.
- ``os_reserve_bytes`` (optional, unified rows): memory the OS, firmware and desktop kept from
  programs in a published reading on that machine (nominal memory less what was available),
  which a plan leaves to them; ``os_reserve_source`` cites the reading.
- ``nvml_names``: the device names the vendor's tools report (NVML for NVIDIA; amd-smi and
  rocm-smi for AMD), matched exactly; several rows may share one (told apart by memory size).
- ``supports``: engine and format support, derived from the rules in :data:`SUPPORT_RULES`
  (the tests check every row against them).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from planner.frozen import record
from planner.hardware.errors import AmbiguousGpuError, GpuCatalogError, UnknownGpuError

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"
GPUS_PATH = DATA_DIR / "gpus.json"

VENDORS = ("nvidia", "amd", "intel", "apple")
FORMS = ("consumer", "laptop", "workstation", "datacenter", "apple", "amd", "intel")
MEMORY_BASES = ("nvml", "nominal")

SUPPORT_RULES: dict[str, str] = {
    "fp8": (
        "hardware FP8 matrix units: NVIDIA compute capability 8.9 or newer (Ada, Hopper, Blackwell), "
        "AMD CDNA 3 and 4 (gfx942, gfx950) and RDNA 4 (gfx1200/gfx1201, FP8 WMMA in the RDNA 4 ISA); none on "
        "RDNA 3 / 3.5, Intel Arc or Apple GPUs"
    ),
    "bitsandbytes": (
        "bitsandbytes 0.50 supports NVIDIA compute capability 6.0+ (LLM.int8() needs 7.5), AMD ROCm "
        "(gfx90a and newer CDNA, RDNA 3 / 3.5 / 4: its backends/cuda/ops.py picks kernels for gfx9, gfx11 and "
        "gfx12), Intel XPU and Apple silicon: https://huggingface.co/docs/bitsandbytes/v0.50.0/installation"
    ),
    "vllm": (
        "vLLM needs NVIDIA compute capability 7.5+ (V100 support was dropped), AMD MI200 (gfx90a), MI300 "
        "(gfx942), MI350 (gfx950), Radeon RX 7900 (gfx1100/1101), Radeon RX 9000 (gfx1200/1201) or Ryzen AI "
        "MAX / AI 300 (gfx1151/1150, ROCm 7.0.2+), or an Intel Data Center / Arc GPU; Apple GPUs only through "
        "the vLLM-Metal plugin: https://docs.vllm.ai/en/latest/getting_started/installation/gpu/ and "
        "https://docs.vllm.ai/en/v0.14.0/getting_started/installation/gpu/"
    ),
    "llama_cpp": "llama.cpp runs on all of them (CUDA, ROCm/HIP, SYCL or Vulkan, Metal)",
}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CC = re.compile(r"^\d+\.\d+$")
# Words a user may leave out: "4090" means "NVIDIA GeForce RTX 4090".
_FILLER = (
    "nvidia",
    "geforce",
    "tesla",
    "rtx",
    "amd",
    "radeon",
    "rx",
    "instinct",
    "intel",
    "arc",
    "apple",
    "mac",
)


@record
class Support:
    """Which formats and engines run on a GPU (see :data:`SUPPORT_RULES`)."""

    fp8: bool
    bitsandbytes: bool
    vllm: bool
    llama_cpp: bool


@record
class Gpu:
    """One catalog GPU. Integer bytes and ops per second; ``None`` where not applicable or unknown."""

    id: str
    name: str
    vendor: str
    form: str
    architecture: str
    compute_capability: str | None
    gfx_target: str | None
    memory_type: str
    memory_nominal: str
    memory_bytes: int
    memory_basis: str
    memory_source: str | None
    memory_bandwidth_bytes_per_s: int
    fp16_tensor_flops: int | None
    fp8_tensor_flops: int | None
    int8_tensor_ops: int | None
    unified_memory: bool
    gpu_usable_bytes: int | None
    gpu_usable_source: str | None
    supports: Support
    source: str
    note: str | None
    aliases: tuple[str, ...] = ()
    nvml_names: tuple[str, ...] = ()
    os_reserve_bytes: int | None = None
    os_reserve_source: str | None = None

    @property
    def usable_bytes(self) -> int:
        """Memory a model may use by default: the GPU share of unified memory, else ``memory_bytes``."""
        return self.gpu_usable_bytes if self.gpu_usable_bytes is not None else self.memory_bytes

    @property
    def shared_bytes(self) -> int | None:
        """Unified memory only: what the GPU and the CPU's programs share once the OS has its part."""
        if not self.unified_memory:
            return None
        return self.memory_bytes - (self.os_reserve_bytes or 0)

    @property
    def plan_bytes(self) -> int:
        """What a plan starts from: the GPU share, never more than the shared memory left after the OS."""
        shared = self.shared_bytes
        return self.usable_bytes if shared is None else min(self.usable_bytes, shared)

    @property
    def compute_capability_tuple(self) -> tuple[int, int] | None:
        """``(8, 9)`` for ``"8.9"``; ``None`` for non-NVIDIA GPUs."""
        if self.compute_capability is None:
            return None
        major, minor = self.compute_capability.split(".")
        return int(major), int(minor)


def _fail(row_id: str, message: str) -> GpuCatalogError:
    return GpuCatalogError(f"gpus.json row '{row_id}': {message}")


def _get(
    row: dict[str, Any], key: str, kind: type | tuple[type, ...], row_id: str, *, nullable: bool = False
) -> Any:
    if key not in row:
        raise _fail(row_id, f"missing '{key}'")
    value = row[key]
    if value is None and nullable:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise _fail(row_id, f"'{key}' must be {names}{' or null' if nullable else ''}")
    return value


def _positive(row: dict[str, Any], key: str, row_id: str, *, nullable: bool = False) -> int | None:
    value = _get(row, key, int, row_id, nullable=nullable)
    if value is not None and value <= 0:
        raise _fail(row_id, f"'{key}' must be positive")
    return value


def _strings(row: dict[str, Any], key: str, row_id: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(row_id, f"'{key}' must be a list of non-empty strings")
    return tuple(value)


def _row(row: Any, position: int) -> Gpu:
    if not isinstance(row, dict):
        raise GpuCatalogError(f"gpus.json item {position} must be an object")
    row_id = row.get("id") if isinstance(row.get("id"), str) else f"#{position}"
    gpu_id = _get(row, "id", str, row_id)
    if not _SLUG.match(gpu_id):
        raise _fail(row_id, "'id' must be a lowercase slug (a-z, 0-9, single hyphens)")
    vendor = _get(row, "vendor", str, row_id)
    if vendor not in VENDORS:
        raise _fail(row_id, f"'vendor' must be one of {VENDORS}")
    form = _get(row, "form", str, row_id)
    if form not in FORMS:
        raise _fail(row_id, f"'form' must be one of {FORMS}")
    cc = _get(row, "compute_capability", str, row_id, nullable=True)
    if (vendor == "nvidia") != (cc is not None) or (cc is not None and not _CC.match(cc)):
        raise _fail(row_id, "'compute_capability' is 'major.minor' for NVIDIA GPUs and null otherwise")
    basis = _get(row, "memory_basis", str, row_id)
    if basis not in MEMORY_BASES:
        raise _fail(row_id, f"'memory_basis' must be one of {MEMORY_BASES}")
    memory_source = _get(row, "memory_source", str, row_id, nullable=True)
    if basis == "nvml" and not (memory_source and memory_source.startswith("http")):
        raise _fail(row_id, "an NVML memory total needs a 'memory_source' URL")
    memory_bytes = _positive(row, "memory_bytes", row_id)
    unified = _get(row, "unified_memory", bool, row_id)
    usable = _positive(row, "gpu_usable_bytes", row_id, nullable=True)
    usable_source = _get(row, "gpu_usable_source", str, row_id, nullable=True)
    if unified != (usable is not None) or (
        usable is not None and (usable > memory_bytes or not usable_source)
    ):
        raise _fail(
            row_id, "unified-memory rows need 'gpu_usable_bytes' <= 'memory_bytes' with a source; others none"
        )
    supports = _get(row, "supports", dict, row_id)
    if set(supports) != {"fp8", "bitsandbytes", "vllm", "llama_cpp"} or not all(
        isinstance(v, bool) for v in supports.values()
    ):
        raise _fail(row_id, "'supports' must hold booleans fp8, bitsandbytes, vllm, llama_cpp")
    source = _get(row, "source", str, row_id)
    if "http" not in source:
        raise _fail(row_id, "'source' must cite at least one URL")
    reserve = row.get("os_reserve_bytes")
    reserve_source = row.get("os_reserve_source")
    if reserve is not None and (
        not unified
        or isinstance(reserve, bool)
        or not isinstance(reserve, int)
        or not 0 < reserve < memory_bytes
        or not (isinstance(reserve_source, str) and "http" in reserve_source)
    ):
        raise _fail(
            row_id, "'os_reserve_bytes' is for unified rows: positive, below 'memory_bytes', with a source"
        )
    fp16 = _positive(row, "fp16_tensor_flops", row_id, nullable=True)
    note = _get(row, "note", str, row_id, nullable=True)
    if fp16 is None and not note:
        raise _fail(row_id, "a row without an FP16 figure must say why in 'note'")
    return Gpu(
        id=gpu_id,
        name=_get(row, "name", str, row_id),
        vendor=vendor,
        form=form,
        architecture=_get(row, "architecture", str, row_id),
        compute_capability=cc,
        gfx_target=_get(row, "gfx_target", str, row_id, nullable=True),
        memory_type=_get(row, "memory_type", str, row_id),
        memory_nominal=_get(row, "memory_nominal", str, row_id),
        memory_bytes=memory_bytes,
        memory_basis=basis,
        memory_source=memory_source,
        memory_bandwidth_bytes_per_s=_positive(row, "memory_bandwidth_bytes_per_s", row_id),
        fp16_tensor_flops=fp16,
        fp8_tensor_flops=_positive(row, "fp8_tensor_flops", row_id, nullable=True),
        int8_tensor_ops=_positive(row, "int8_tensor_ops", row_id, nullable=True),
        unified_memory=unified,
        gpu_usable_bytes=usable,
        gpu_usable_source=usable_source,
        supports=Support(**supports),
        source=source,
        note=note,
        aliases=_strings(row, "aliases", row_id),
        nvml_names=_strings(row, "nvml_names", row_id),
        os_reserve_bytes=reserve,
        os_reserve_source=reserve_source if reserve is not None else None,
    )


def read_gpus(path: Path) -> tuple[Gpu, ...]:
    """Read and validate a GPU catalog file (one JSON list); :class:`GpuCatalogError` on any fault."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GpuCatalogError(f"{path.name}: unreadable ({exc})") from None
    if not isinstance(rows, list) or not rows:
        raise GpuCatalogError(f"{path.name}: must hold a non-empty JSON list")
    gpus = tuple(_row(row, i) for i, row in enumerate(rows))
    owner: dict[str, str] = {}
    for gpu in gpus:
        for key in {_norm(k) for k in (gpu.id, gpu.name, *gpu.aliases)}:
            if key in owner and owner[key] != gpu.id:
                raise GpuCatalogError(f"{path.name}: '{key}' names both '{owner[key]}' and '{gpu.id}'")
            owner[key] = gpu.id
    return gpus


@cache
def load_gpus() -> tuple[Gpu, ...]:
    """Every catalog GPU, in file order (validated once, then cached)."""
    return read_gpus(GPUS_PATH)


def gpus_by_id() -> dict[str, Gpu]:
    """The catalog keyed by ``id``."""
    return {gpu.id: gpu for gpu in load_gpus()}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _variants(text: str) -> set[str]:
    """``text`` normalised, plus the same with leading vendor/series words dropped."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    keys = {"".join(words)}
    while words and words[0] in _FILLER:
        words = words[1:]
        if words:
            keys.add("".join(words))
    return keys


@cache
def _index() -> tuple[dict[str, tuple[str, ...]], tuple[tuple[str, str], ...]]:
    """(exact key -> GPU ids, (key, id) pairs for substring search)."""
    exact: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    for gpu in load_gpus():
        keys: set[str] = set()
        for text in (gpu.id, gpu.name, *gpu.aliases, *gpu.nvml_names):
            keys |= _variants(text)
        for key in keys:
            ids = exact.setdefault(key, [])
            if gpu.id not in ids:
                ids.append(gpu.id)
            pairs.append((key, gpu.id))
    return {k: tuple(v) for k, v in exact.items()}, tuple(pairs)


def _ordered(ids: set[str] | tuple[str, ...]) -> tuple[str, ...]:
    order = {gpu.id: i for i, gpu in enumerate(load_gpus())}
    return tuple(sorted(set(ids), key=order.__getitem__))


def search_gpus(query: str, *, exact_only: bool = False) -> tuple[Gpu, ...]:
    """Catalog GPUs matching ``query`` (case, spaces and hyphens ignored), in catalog order.

    An exact match on an id, name, alias or NVML name (also with vendor words such as
    "NVIDIA GeForce RTX" left out) wins; otherwise, unless ``exact_only``, every GPU with a
    key that contains the query.
    """
    catalog = gpus_by_id()
    exact, pairs = _index()
    keys = _variants(query)
    hits = {gpu_id for key in keys for gpu_id in exact.get(key, ())}
    if not hits and not exact_only:
        hits = {gpu_id for key in keys if len(key) >= 2 for k, gpu_id in pairs if key in k}
    return tuple(catalog[i] for i in _ordered(hits))


def find_gpu(query: str) -> Gpu:
    """The one catalog GPU ``query`` names (``"4090"``, ``"rtx-4090"``, ``"H100 SXM"``).

    Raises :class:`AmbiguousGpuError` (with the candidates) when several match and
    :class:`UnknownGpuError` (with close names) when none does.
    """
    if not isinstance(query, str) or not _norm(query):
        raise UnknownGpuError(str(query))
    hits = search_gpus(query)
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise AmbiguousGpuError(query, tuple(g.id for g in hits), tuple(f"{g.name} ({g.id})" for g in hits))
    names = {_norm(text): gpu.name for gpu in load_gpus() for text in (gpu.id, gpu.name, *gpu.aliases)}
    close = difflib.get_close_matches(_norm(query), list(names), n=8, cutoff=0.6)
    suggestions = tuple(dict.fromkeys(names[c] for c in close))[:5]
    raise UnknownGpuError(query, suggestions)


def match_gpu(name: str, total_bytes: int | None = None) -> Gpu | None:
    """The catalog GPU for a device name as NVML reports it, or ``None``; never raises.

    Names shared by several memory sizes ("NVIDIA GeForce RTX 4060 Ti" is 8 or 16 GB) are
    told apart by ``total_bytes``: the row whose ``memory_bytes`` is closest wins.
    """
    if not name:
        return None
    wanted = _norm(name)
    hits = [g for g in load_gpus() if any(_norm(n) == wanted for n in g.nvml_names)]
    if not hits:
        # NOTE: exact names only. A substring search would read an unknown "NVIDIA H20" as the H200.
        hits = list(search_gpus(name, exact_only=True))
    if not hits:
        return None
    if len(hits) == 1:
        return hits[0]
    if total_bytes is None:
        return None
    return min(hits, key=lambda g: abs(g.memory_bytes - total_bytes))
