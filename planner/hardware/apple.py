"""A Mac's Apple silicon GPU: chip name, unified memory, and the Metal working-set limit.

Read with fixed ``sysctl`` and ``system_profiler`` commands (macOS only):

- ``sysctl -n machdep.cpu.brand_string hw.memsize``: ``Apple M3 Max`` and the RAM in bytes.
- ``sysctl -n iogpu.wired_limit_mb``: the GPU wired-memory limit set with
  ``sudo sysctl iogpu.wired_limit_mb=<MiB>`` (macOS 14+); ``0`` means macOS's default. MLX's
  ``set_wired_limit`` documentation names this key as the way to raise the "system wired limit",
  which Metal reports as ``recommendedMaxWorkingSetSize``
  (https://ml-explore.github.io/mlx/build/html/python/_autosummary/mlx.core.set_wired_limit.html).
- ``system_profiler SPDisplaysDataType -json``: the GPU core count (``sppci_cores``), which tells
  the catalog's 30- and 40-core M3 Max apart.

The default limit is not readable without Metal itself; :func:`metal_default_limit` applies the
rule the catalog's Apple rows carry (``gpu_usable_bytes``): 2/3 of RAM up to 32 GiB, 3/4 above,
from published ``recommendedMaxWorkingSetSize`` readings (M1 16 GB: 10922.67 MiB; M2 Max 32 GB:
21845.34 MiB; M4 Max 36 GB: 28991.03 MB = 3/4; M1 Max 64 GB: 49152 MiB; M2 Max 96 GB: 73728
MiB, cited in ``data/gpus.json``). NOTE: macOS 26 was seen reporting more (about 0.74 of 16 and
24 GB, 0.84 of 128 GB), so the default is marked approximate; a non-zero ``iogpu.wired_limit_mb``
is exact.
"""

from __future__ import annotations

import json
import re

from planner.hardware.device import LiveDevice, ReaderStatus
from planner.hardware.gpus import Gpu, load_gpus
from planner.hardware.tools import Runner, ToolOutput
from planner.hardware.units import GIB, MIB

READER = "sysctl"
BRAND_AND_MEMORY = ("sysctl", "-n", "machdep.cpu.brand_string", "hw.memsize")
WIRED_LIMIT = ("sysctl", "-n", "iogpu.wired_limit_mb")
DISPLAYS = ("system_profiler", "SPDisplaysDataType", "-json")

#: Above this much RAM the default Metal limit is 3/4 of it, at or below 2/3.
METAL_THRESHOLD_BYTES = 32 * GIB
METAL_RULE = (
    "Metal's default recommendedMaxWorkingSetSize: 2/3 of RAM up to 32 GiB, 3/4 above (published readings "
    "cited in data/gpus.json gpu_usable_source); approximate: macOS 26 was seen reporting more"
)
WIRED_RULE = "iogpu.wired_limit_mb set by the user (sudo sysctl iogpu.wired_limit_mb=<MiB>)"

_CHIP = re.compile(r"^Apple M\d+(?: (?:Pro|Max|Ultra))?$")
_CORES = re.compile(r"(\d+)-core GPU")


def metal_default_limit(ram_bytes: int) -> int:
    """Metal's default GPU working-set limit for a Mac with ``ram_bytes`` of unified memory."""
    if ram_bytes > METAL_THRESHOLD_BYTES:
        return ram_bytes * 3 // 4
    return ram_bytes * 2 // 3


def parse_brand_and_memory(text: str) -> tuple[str, int] | None:
    """(``Apple M3 Max``, RAM bytes) from ``sysctl -n machdep.cpu.brand_string hw.memsize``; ``None`` if garbled."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 2 or not lines[1].isdigit():
        return None
    memory = int(lines[1])
    if memory <= 0:
        return None
    return lines[0][:100], memory


def parse_wired_limit(text: str) -> int | None:
    """MiB from ``sysctl -n iogpu.wired_limit_mb`` (``0`` = the default); ``None`` if garbled."""
    value = text.strip()
    return int(value) if value.isdigit() else None


def parse_gpu_cores(text: str) -> int | None:
    """``sppci_cores`` of the Apple GPU in ``system_profiler SPDisplaysDataType -json``; ``None`` if absent."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    items = data.get("SPDisplaysDataType") if isinstance(data, dict) else None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        vendor = str(item.get("spdisplays_vendor", ""))
        model = str(item.get("sppci_model", item.get("_name", "")))
        cores = item.get("sppci_cores")
        if ("Apple" in vendor or model.startswith("Apple")) and isinstance(cores, str) and cores.isdigit():
            return int(cores)
    return None


def _chip_of(gpu: Gpu) -> str:
    name = _CORES.sub("", gpu.name)
    return re.sub(r"\s*\d+GB$", "", name).strip()


def match_apple(chip: str, memory_bytes: int, gpu_cores: int | None = None) -> Gpu | None:
    """The catalog row for ``chip`` (``Apple M3 Max``) with exactly ``memory_bytes``; ``None`` if none or unsure.

    ``gpu_cores`` (from system_profiler) must agree with a row that names its core count; it picks
    between core variants.
    """
    rows = [
        g
        for g in load_gpus()
        if g.vendor == "apple" and g.memory_bytes == memory_bytes and " ".join(_chip_of(g).split()) == chip
    ]
    if gpu_cores is not None:
        rows = [g for g in rows if (m := _CORES.search(g.name)) is None or int(m.group(1)) == gpu_cores]
    return rows[0] if len(rows) == 1 else None


def read_apple(run: Runner) -> tuple[tuple[LiveDevice, ...], ReaderStatus]:
    """The Mac's GPU as one unified-memory :class:`LiveDevice`; a status saying why when none."""
    brand_out: ToolOutput = run(BRAND_AND_MEMORY, 5.0)
    if not brand_out.ok:
        return (), ReaderStatus(READER, 0, f"could not read the chip: {brand_out.error}")
    parsed = parse_brand_and_memory(brand_out.stdout or "")
    if parsed is None:
        return (), ReaderStatus(READER, 0, "sysctl printed something unexpected for the chip and memory")
    chip, memory = parsed
    if not _CHIP.match(chip):
        return (), ReaderStatus(
            READER, 0, f"not an Apple silicon Mac ('{chip}'): Metal's unified memory not read"
        )
    notes: list[str] = []
    details: list[tuple[str, str]] = [("chip", chip), ("unified memory", f"{memory:,} bytes")]
    wired_out = run(WIRED_LIMIT, 5.0)
    wired = parse_wired_limit(wired_out.stdout or "") if wired_out.ok else None
    if wired:
        limit, rule = wired * MIB, WIRED_RULE
        if limit >= memory:
            notes.append(
                "iogpu.wired_limit_mb is at or above the whole memory: macOS and its apps have no room left"
            )
        details.append(("iogpu.wired_limit_mb", str(wired)))
    else:
        limit, rule = metal_default_limit(memory), METAL_RULE
        if wired == 0:
            details.append(("iogpu.wired_limit_mb", "0 (macOS default)"))
        else:
            why = wired_out.error or "unreadable output"
            notes.append(f"iogpu.wired_limit_mb not read ({why}; macOS 13 and older use another key)")
        notes.append("approximate: Metal's default working-set limit follows a published rule, not a reading")
    cores_out = run(DISPLAYS, 10.0)
    cores = parse_gpu_cores(cores_out.stdout or "") if cores_out.ok else None
    if cores is not None:
        details.append(("GPU cores", str(cores)))
    catalog = match_apple(chip, memory, cores)
    notes.append(
        "unified memory: macOS and every app share it; the plan uses the GPU's working-set limit, "
        "and other apps' memory is not subtracted (macOS compresses or pages it out)"
    )
    device = LiveDevice(
        vendor="apple",
        index=0,
        name=chip,
        reader=READER,
        total_bytes=memory,
        free_bytes=None,
        used_bytes=None,
        unified=True,
        gpu_limit_bytes=min(limit, memory),
        gpu_limit_rule=rule,
        catalog=catalog,
        details=tuple(details),
        notes=tuple(notes),
    )
    return (device,), ReaderStatus(READER, 1, f"{chip}, {memory / GIB:.0f} GiB unified memory")
