"""AMD GPUs and APUs (Radeon, Instinct, Ryzen AI Max "Strix Halo"): VRAM and GTT in use and in total.

Four ways in, tried in order until one finds a GPU (each fixed, each optional):

1. the ``amdsmi`` Python package (ROCm's AMD SMI library): ``amdsmi_get_gpu_memory_total`` /
   ``_usage`` for ``AmdSmiMemoryType.VRAM`` and ``.GTT`` in bytes, ``amdsmi_get_gpu_asic_info``
   for ``market_name`` and ``target_graphics_version`` (ROCm/amdsmi ``py-interface/amdsmi_interface.py``);
2. ``amd-smi static --asic --json`` and ``amd-smi metric --mem-usage --json``: ``mem_usage`` holds
   ``total_vram``, ``used_vram``, ``total_gtt``, ``used_gtt`` as ``{"value": n, "unit": "MB"}``,
   where the CLI divides bytes by 1024 * 1024 (ROCm/amdsmi ``amdsmi_cli/amdsmi_commands.py``,
   ``metric`` ``mem_usage``), or ``"N/A"``; newer releases wrap the list in ``{"gpu_data": [...]}``;
3. ``rocm-smi --showproductname --showmeminfo all --json``: per ``cardN``, ``"<TYPE> Total Memory (B)"``
   and ``"<TYPE> Total Used Memory (B)"`` for VRAM, VIS_VRAM and GTT, as strings of bytes
   (ROCm/rocm_smi_lib ``python_smi_tools/rocm_smi.py`` ``showMemInfo``), ``Card Series`` (``Card series`` in
   some releases) and ``GFX Version``;
4. the amdgpu driver's sysfs files ``/sys/class/drm/cardN/device/mem_info_{vram,gtt}_{total,used}``
   in bytes (Linux kernel ``Documentation/gpu/amdgpu/driver-misc.rst``), for vendor ``0x1002``.

On an APU (Strix Halo: Radeon 8060S) the "VRAM" is a carve-out of main memory set in the BIOS
(AMD "Variable Graphics Memory"), and the GPU also allocates from GTT, main memory mapped for it,
whose size the kernel caps (``ttm.pages_limit``; by default half of main memory; the older
``amdgpu.gttsize`` is deprecated). Its GPU limit is carve-out + GTT, and what is free is bounded by
what the CPU's programs leave (``MemAvailable``).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.hardware.device import LiveDevice, ReaderStatus
from planner.hardware.gpus import Gpu, match_gpu
from planner.hardware.host import HostMemory
from planner.hardware.tools import Runner, read_int, read_small
from planner.hardware.units import GIB, MIB

AMD_VENDOR_ID = 0x1002
AMD_SMI_STATIC = ("amd-smi", "static", "--asic", "--json")
AMD_SMI_METRIC = ("amd-smi", "metric", "--mem-usage", "--json")
ROCM_SMI = ("rocm-smi", "--showproductname", "--showmeminfo", "all", "--json")
DRM = Path("sys/class/drm")
_CARD = re.compile(r"^card\d+$")
#: Integrated Radeon names as the tools print them: "AMD Radeon 8060S Graphics", "Radeon 890M Graphics".
_INTEGRATED = re.compile(r"Radeon(?:\(TM\))? \d{3,4}[MS]? Graphics|^AMD Radeon(?:\(TM\))? Graphics$", re.I)
#: A carve-out this small next to a larger GTT is an APU's, never a discrete card's.
_SMALL_CARVE_OUT = 2 * GIB
#: Integrated GPUs by PCI device id (sysfs gives no name): Strix Halo 0x1586 (decimal 5510, amdgpu_top's
#: "DeviceName":"Radeon 8060S Graphics" in magnitudedev/magnitude#44; the 8050S shares the id), Raphael
#: 0x164e (rocm-smi's "Raphael,0x164e" in mudler/LocalAI#7761), Renoir 0x1636 (gpu-ls "GPU Type: APU" in
#: Ricks-Lab/gpu-utils#114).
APU_DEVICE_IDS: dict[int, str] = {0x1586: "Radeon 8060S Graphics", 0x164E: "Raphael", 0x1636: "Renoir"}
APU_RULE = (
    "APU: VRAM carve-out + GTT (main memory the kernel maps for the GPU; ttm.pages_limit, by default half of "
    "main memory), bounded by the memory the CPU's programs leave (MemAvailable)"
)


class _Memory:
    """VRAM and GTT totals and use of one GPU, in bytes (``None`` where unknown)."""

    __slots__ = ("gtt_total", "gtt_used", "vram_total", "vram_used")

    def __init__(
        self, vram_total: int | None, vram_used: int | None, gtt_total: int | None, gtt_used: int | None
    ):
        self.vram_total, self.vram_used = vram_total, vram_used
        self.gtt_total, self.gtt_used = gtt_total, gtt_used


def _nonneg(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _json_after_banner(text: str) -> Any:
    """JSON that may follow warning lines ("WARNING: AMD GPU device(s) is/are in a low-power state")."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError("no JSON in the output")
    return json.loads(text[min(starts) :])


def _is_integrated(name: str | None, catalog: Gpu | None, memory: _Memory) -> tuple[bool, str | None]:
    if catalog is not None:
        return catalog.unified_memory, None
    if name in APU_DEVICE_IDS.values():
        return True, f"{name} is an integrated Radeon: its memory is main memory shared with the CPU"
    if name and _INTEGRATED.search(name):
        return True, f"'{name}' is an integrated Radeon: its memory is main memory shared with the CPU"
    if (
        memory.vram_total is not None
        and memory.gtt_total is not None
        and memory.vram_total <= _SMALL_CARVE_OUT < memory.gtt_total
    ):
        return True, (
            f"treated as an integrated GPU: {memory.vram_total / MIB:.0f} MiB of VRAM is an APU's carve-out, "
            "not a discrete card's memory"
        )
    return False, None


def _match(name: str | None, memory_bytes: int | None) -> Gpu | None:
    """The catalog row for a tool's name; alternatives in brackets ("Navi 31 [Radeon RX 7900 XT/7900 XTX]") tried too."""
    if not name:
        return None
    found = match_gpu(name, memory_bytes)
    if found is not None:
        return found
    bracket = re.search(r"\[(.+)\]", name)
    if not bracket:
        return None
    parts = [p.strip() for p in bracket.group(1).split("/") if p.strip()]
    words = parts[0].split()
    # "Radeon RX 7900 XT/7900 XTX": the later parts drop the words before the first number.
    prefix = " ".join(words[: next((i for i, w in enumerate(words) if any(c.isdigit() for c in w)), 0)])
    candidates: list[Gpu] = []
    for part in parts:
        for text in (part, f"{prefix} {part}" if prefix and not part.startswith(prefix) else part):
            hit = match_gpu(text, memory_bytes)
            if hit is not None and hit not in candidates:
                candidates.append(hit)
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1 and memory_bytes is not None:
        return min(candidates, key=lambda g: abs(g.memory_bytes - memory_bytes))
    return None


def build_device(
    index: int,
    name: str | None,
    reader: str,
    memory: _Memory,
    host: HostMemory | None,
    details: list[tuple[str, str]],
) -> LiveDevice:
    """One AMD :class:`LiveDevice` from VRAM and GTT figures: a discrete card or a unified-memory APU."""
    notes: list[str] = []
    vt, vu = memory.vram_total, memory.vram_used
    if vt is not None and vu is not None and vu > vt:
        notes.append(f"{reader} reported more VRAM used ({vu:,} bytes) than in total ({vt:,}); refused")
        vt = vu = None
    if memory.gtt_total is not None:
        details.append(("GTT total", f"{memory.gtt_total:,} bytes"))
    if memory.gtt_used is not None:
        details.append(("GTT used", f"{memory.gtt_used:,} bytes"))
    if vt is not None:
        details.append(("VRAM total", f"{vt:,} bytes"))
    host_total = host.total_bytes if host else None
    unified, why = _is_integrated(
        name, _match(name, None), _Memory(vt, vu, memory.gtt_total, memory.gtt_used)
    )
    # A name shared by several rows (Strix Halo 64/128 GB) is told apart by the memory size.
    size = (host_total + (vt or 0) if host_total is not None else None) if unified else vt
    catalog = _match(name, size)
    if why:
        notes.append(why)
    if not unified:
        free = vt - vu if vt is not None and vu is not None else None
        return LiveDevice(
            "amd", index, name, reader, vt, free, vu, False, None, None, catalog, tuple(details), tuple(notes)
        )
    gt, gu = memory.gtt_total, memory.gtt_used
    limit = (vt or 0) + (gt or 0) if (vt is not None or gt is not None) else None
    used = (vu or 0) + (gu or 0) if (vu is not None or gu is not None) else None
    gtt_free = gt - gu if gt is not None and gu is not None and gu <= gt else None
    vram_free = vt - vu if vt is not None and vu is not None else 0
    available = host.available_bytes if host else None
    if gtt_free is not None and available is not None:
        gtt_free = min(gtt_free, available)
    free = vram_free + gtt_free if gtt_free is not None else None
    total = host_total + (vt or 0) if host_total is not None else limit
    notes.append(
        "unified memory: the GPU's carve-out and GTT are main memory; the OS and every program share the rest"
    )
    if gt is None:
        notes.append(f"{reader} gave no GTT figures: only the VRAM carve-out is counted")
    return LiveDevice(
        "amd",
        index,
        name,
        reader,
        total,
        free,
        used,
        True,
        limit,
        APU_RULE,
        catalog,
        tuple(details),
        tuple(notes),
    )


# ------------------------------------------------------------------------------------------- amdsmi


def read_amdsmi(amdsmi: Any, host: HostMemory | None) -> tuple[tuple[LiveDevice, ...], ReaderStatus]:
    """Every AMD GPU through the ``amdsmi`` module (``None``: not installed); never raises."""
    if amdsmi is None:
        return (), ReaderStatus("amdsmi", 0, "the amdsmi Python package is not installed")
    try:
        amdsmi.amdsmi_init()
    except Exception as exc:
        return (), ReaderStatus("amdsmi", 0, f"amdsmi could not start ({type(exc).__name__}: {exc})"[:300])
    devices: list[LiveDevice] = []
    try:
        handles = list(amdsmi.amdsmi_get_processor_handles())
        kinds = amdsmi.AmdSmiMemoryType
        for index, handle in enumerate(handles):

            def call(fn: Callable[..., Any], *args: Any) -> Any:
                try:
                    return fn(*args)
                except Exception:
                    return None

            asic = call(amdsmi.amdsmi_get_gpu_asic_info, handle)
            asic = asic if isinstance(asic, dict) else {}
            name = asic.get("market_name") if isinstance(asic.get("market_name"), str) else None
            memory = _Memory(
                _nonneg(call(amdsmi.amdsmi_get_gpu_memory_total, handle, kinds.VRAM)),
                _nonneg(call(amdsmi.amdsmi_get_gpu_memory_usage, handle, kinds.VRAM)),
                _nonneg(call(amdsmi.amdsmi_get_gpu_memory_total, handle, kinds.GTT)),
                _nonneg(call(amdsmi.amdsmi_get_gpu_memory_usage, handle, kinds.GTT)),
            )
            details = (
                [("GFX target", str(asic["target_graphics_version"]))]
                if asic.get("target_graphics_version")
                else []
            )
            devices.append(
                build_device(index, name if name != "N/A" else None, "amdsmi", memory, host, details)
            )
    except Exception as exc:
        return tuple(devices), ReaderStatus(
            "amdsmi", len(devices), f"amdsmi failed ({type(exc).__name__}: {exc})"[:300]
        )
    finally:
        with contextlib.suppress(Exception):
            amdsmi.amdsmi_shut_down()
    return tuple(devices), ReaderStatus(
        "amdsmi", len(devices), f"{len(devices)} GPU(s)" if devices else "no AMD GPU"
    )


# ------------------------------------------------------------------------------------------- amd-smi


def _gpu_rows(data: Any) -> list[dict[str, Any]]:
    rows = data.get("gpu_data") if isinstance(data, dict) else data
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _mib_field(section: Any, key: str) -> int | None:
    """``{"value": 20464, "unit": "MB"}`` -> bytes (amd-smi's "MB" is bytes // 2**20); ``"N/A"`` -> ``None``."""
    field = section.get(key) if isinstance(section, dict) else None
    if not isinstance(field, dict):
        return None
    value = _nonneg(field.get("value"))
    unit = str(field.get("unit", "MB")).upper()
    if value is None or unit not in {"MB", "MIB"}:
        return None
    return value * MIB


def parse_amd_smi(static_text: str, metric_text: str, host: HostMemory | None) -> tuple[LiveDevice, ...]:
    """Devices from ``amd-smi static --asic --json`` and ``amd-smi metric --mem-usage --json``; ValueError if garbled."""
    names: dict[int, dict[str, Any]] = {}
    for row in _gpu_rows(_json_after_banner(static_text)):
        gpu = _nonneg(row.get("gpu"))
        if gpu is not None and isinstance(row.get("asic"), dict):
            names[gpu] = row["asic"]
    devices = []
    rows = _gpu_rows(_json_after_banner(metric_text))
    if not rows:
        raise ValueError("no GPU rows")
    for position, row in enumerate(rows):
        gpu = _nonneg(row.get("gpu"))
        index = gpu if gpu is not None else position
        usage = row.get("mem_usage")
        memory = _Memory(
            _mib_field(usage, "total_vram"),
            _mib_field(usage, "used_vram"),
            _mib_field(usage, "total_gtt"),
            _mib_field(usage, "used_gtt"),
        )
        asic = names.get(index, {})
        name = asic.get("market_name") if isinstance(asic.get("market_name"), str) else None
        details = (
            [("GFX target", str(asic["target_graphics_version"]))]
            if asic.get("target_graphics_version")
            else []
        )
        devices.append(build_device(index, name if name != "N/A" else None, "amd-smi", memory, host, details))
    return tuple(devices)


def read_amd_smi(run: Runner, host: HostMemory | None) -> tuple[tuple[LiveDevice, ...], ReaderStatus]:
    """AMD GPUs through the ``amd-smi`` command; never raises."""
    metric = run(AMD_SMI_METRIC, 10.0)
    if not metric.ok:
        return (), ReaderStatus("amd-smi", 0, metric.error or "no output")
    static = run(AMD_SMI_STATIC, 10.0)
    try:
        devices = parse_amd_smi(static.stdout or "[]", metric.stdout or "", host)
    except (ValueError, TypeError, AttributeError) as exc:
        return (), ReaderStatus("amd-smi", 0, f"amd-smi printed something unexpected ({exc})"[:300])
    return devices, ReaderStatus("amd-smi", len(devices), f"{len(devices)} GPU(s)")


# ------------------------------------------------------------------------------------------- rocm-smi


def _field(card: dict[str, Any], key: str) -> Any:
    wanted = key.lower()
    for k, v in card.items():
        if isinstance(k, str) and k.lower() == wanted:
            return v
    return None


def parse_rocm_smi(text: str, host: HostMemory | None) -> tuple[LiveDevice, ...]:
    """Devices from ``rocm-smi --showproductname --showmeminfo ... --json``; ValueError if garbled."""
    data = _json_after_banner(text)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    devices = []
    cards = sorted(
        (k for k in data if isinstance(k, str) and re.match(r"^card:?\d+$", k)),
        key=lambda k: int(k.strip("card:")),
    )
    for key in cards:
        card = data[key]
        if not isinstance(card, dict):
            continue
        memory = _Memory(
            _nonneg(_field(card, "VRAM Total Memory (B)")),
            _nonneg(_field(card, "VRAM Total Used Memory (B)")),
            _nonneg(_field(card, "GTT Total Memory (B)")),
            _nonneg(_field(card, "GTT Total Used Memory (B)")),
        )
        name = _field(card, "Card Series")
        name = name if isinstance(name, str) and name.strip() and name != "N/A" else None
        gfx = _field(card, "GFX Version")
        details = [("GFX target", gfx)] if isinstance(gfx, str) and gfx.startswith("gfx") else []
        devices.append(build_device(int(key.strip("card:")), name, "rocm-smi", memory, host, details))
    if not devices:
        raise ValueError("no cardN entries")
    return tuple(devices)


def read_rocm_smi(run: Runner, host: HostMemory | None) -> tuple[tuple[LiveDevice, ...], ReaderStatus]:
    """AMD GPUs through the ``rocm-smi`` command; never raises."""
    out = run(ROCM_SMI, 10.0)
    if not out.ok:
        return (), ReaderStatus("rocm-smi", 0, out.error or "no output")
    try:
        devices = parse_rocm_smi(out.stdout or "", host)
    except (ValueError, TypeError, AttributeError) as exc:
        return (), ReaderStatus("rocm-smi", 0, f"rocm-smi printed something unexpected ({exc})"[:300])
    return devices, ReaderStatus("rocm-smi", len(devices), f"{len(devices)} GPU(s)")


# ------------------------------------------------------------------------------------------- sysfs


def read_sysfs(root: Path, host: HostMemory | None) -> tuple[tuple[LiveDevice, ...], ReaderStatus]:
    """amdgpu devices from ``<root>/sys/class/drm/cardN/device``; never raises."""
    folder = root / DRM
    try:
        cards = sorted((p for p in folder.iterdir() if _CARD.match(p.name)), key=lambda p: int(p.name[4:]))
    except OSError:
        return (), ReaderStatus("sysfs", 0, f"{'/' / DRM} is not readable (not Linux, or no GPU driver)")
    devices = []
    for card in cards:
        dev = card / "device"
        if read_int(dev / "vendor") != AMD_VENDOR_ID:
            continue
        memory = _Memory(
            read_int(dev / "mem_info_vram_total"),
            read_int(dev / "mem_info_vram_used"),
            read_int(dev / "mem_info_gtt_total"),
            read_int(dev / "mem_info_gtt_used"),
        )
        if memory.vram_total is None and memory.gtt_total is None:
            continue
        device_id = read_int(dev / "device")
        product = (read_small(dev / "product_name") or "").strip() or APU_DEVICE_IDS.get(device_id or -1)
        pci = f"PCI 0x1002:0x{device_id:04x}" if device_id is not None else "PCI 0x1002"
        details = [("PCI id", pci), ("DRM card", card.name)]
        devices.append(build_device(len(devices), product, "sysfs", memory, host, details))
    message = f"{len(devices)} amdgpu device(s)" if devices else "no amdgpu device with memory figures"
    return tuple(devices), ReaderStatus("sysfs", len(devices), message)


def read_amd(
    run: Runner, root: Path, host: HostMemory | None, amdsmi: Any = None, *, linux: bool = True
) -> tuple[tuple[LiveDevice, ...], tuple[ReaderStatus, ...]]:
    """AMD GPUs by the first reader that finds one (amdsmi, amd-smi, rocm-smi, sysfs); every reader's status."""
    statuses: list[ReaderStatus] = []
    steps: list[Callable[[], tuple[tuple[LiveDevice, ...], ReaderStatus]]] = [
        lambda: read_amdsmi(amdsmi, host),
        lambda: read_amd_smi(run, host),
    ]
    if linux:
        steps += [lambda: read_rocm_smi(run, host), lambda: read_sysfs(root, host)]
    for step in steps:
        devices, status = step()
        statuses.append(status)
        if devices:
            return devices, tuple(statuses)
    return (), tuple(statuses)
