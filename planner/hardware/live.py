"""The GPUs on this machine, read through NVML (``nvidia-ml-py``, module ``pynvml``).

:func:`read_live_gpus` never raises: no package, no library, no driver, no device or an NVML
failure all give a :class:`LiveReport` with ``available=False`` and a ``reason`` fit to show.
Single queries a GPU does not support (``NVMLError_NotSupported``, no permission) leave that
field ``None``. Any other exception a broken binding or library raises (``OSError`` from the
shared library, ``UnicodeDecodeError`` from pynvml's name decoding, ``AttributeError``), from
``nvmlInit``, any query or ``nvmlShutdown``, is caught the same way and named in a warning or the
reason. Memory figures that contradict each other (free above total, used + free + reserved
above total) are refused: the fields are ``None`` and a warning says why. NVML creates no CUDA
context, unlike ``torch.cuda.mem_get_info()``.

The NVML module is a parameter so tests pass a fake; it needs only the calls used here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

from planner.frozen import record
from planner.hardware.gpus import Gpu, match_gpu

# NVML return codes (nvml.h); read from the module when it has them.
_NOT_SUPPORTED = 3
_DRIVER_NOT_LOADED = 9
_LIBRARY_NOT_FOUND = 12
_FUNCTION_NOT_FOUND = 13
_ARGUMENT_VERSION_MISMATCH = 25
_CLOCK_MEM = 2
_MIG_ENABLE = 1
_MEMORY_V2 = 0x02000028
# NOTE: NVML_VALUE_NOT_AVAILABLE for a 64-bit field is (unsigned long long)-1; pynvml turns it
# into None for the _v3 process calls only, so both forms are handled.
_VALUE_NOT_AVAILABLE = 2**64 - 1
#: NVML reports bytes; totals add up exactly (v1: free + used = total; v2: free + used + reserved =
#: total). One MiB of slack covers drivers that round; beyond it the reading is refused.
_SUM_SLACK = 1 << 20

NO_GPU = "no NVIDIA GPU detected"


@record
class GpuProcess:
    """A process holding memory on a GPU. ``used_bytes`` is ``None`` when NVML cannot say.

    NOTE: NVML gives host PIDs; inside a container without ``--pid=host`` they do not match
    ``os.getpid()``. ``used_bytes`` is ``None`` under Windows WDDM and can read 0 on some drivers.
    """

    pid: int
    kind: str  # "compute", "graphics" or "compute+graphics"
    used_bytes: int | None


@record
class MigDevice:
    """One MIG instance of a GPU: NVML's view of it as a GPU of its own."""

    index: int
    name: str | None
    uuid: str | None
    total_bytes: int | None
    free_bytes: int | None
    used_bytes: int | None
    reserved_bytes: int | None


@record
class LiveGpu:
    """One local NVIDIA GPU as NVML reports it, matched to the catalog where possible.

    ``memory_info_version`` is 2 when the driver has ``nvmlDeviceGetMemoryInfo_v2``: then
    ``reserved_bytes`` (driver and firmware) is separate and ``used_bytes`` excludes it. With
    version 1, ``reserved_bytes`` is ``None`` and ``used_bytes`` includes it. Memory fields are
    ``None`` when NVML refuses them (the parent of a MIG-enabled GPU needs privileges).
    """

    index: int
    name: str | None
    uuid: str | None
    total_bytes: int | None
    free_bytes: int | None
    used_bytes: int | None
    reserved_bytes: int | None
    memory_info_version: int | None
    compute_capability: str | None
    memory_bus_width_bits: int | None
    max_memory_clock_mhz: int | None
    mig_enabled: bool | None
    mig_devices: tuple[MigDevice, ...]
    processes: tuple[GpuProcess, ...]
    catalog: Gpu | None

    @property
    def usable_bytes(self) -> int | None:
        """``total - reserved`` when the driver reports reserved memory, else ``total``."""
        if self.total_bytes is None:
            return None
        return self.total_bytes - (self.reserved_bytes or 0)

    @property
    def derived_bandwidth_bytes_per_s(self) -> int | None:
        """Peak bandwidth from NVML: 2 x max memory clock x bus width / 8.

        NOTE: NVML reports the memory clock at half the per-pin data rate for GDDR6/6X/7
        and HBM alike, hence the 2: an RTX 4000 Ada reports 9001 MHz on 160 bit -> 360 GB/s
        (https://github.com/thamada/nvidia-smi, gls/RTX4000Ada_smi.py, "Max Clocks, Memory"),
        an H100 SXM 2619 MHz on 5120 bit -> 3.35 TB/s. It is a peak, and can differ from the
        vendor's figure: a B200 reports 3996 MHz on 7680 bit = 7.67 TB/s against 8 TB/s
        marketed (https://github.com/pytorch/ao/pull/4002). Older GDDR5X/GDDR6X boards may
        report clocks under other conventions. Prefer the catalog figure when the GPU matched.
        """
        if not self.memory_bus_width_bits or not self.max_memory_clock_mhz:
            return None
        return self.max_memory_clock_mhz * self.memory_bus_width_bits * 250_000

    @property
    def bandwidth_bytes_per_s(self) -> int | None:
        """The catalog's bandwidth when matched, else the NVML-derived figure."""
        if self.catalog is not None:
            return self.catalog.memory_bandwidth_bytes_per_s
        return self.derived_bandwidth_bytes_per_s


@record
class LiveReport:
    """What NVML saw. ``available`` is False (with ``reason``) when no GPU could be read."""

    available: bool
    reason: str | None
    driver_version: str | None
    cuda_driver_version: str | None
    gpus: tuple[LiveGpu, ...]
    warnings: tuple[str, ...] = ()


def _unavailable(reason: str) -> LiveReport:
    return LiveReport(False, reason, None, None, ())


def _code(nvml: Any, name: str, default: int) -> int:
    value = getattr(nvml, name, default)
    return value if isinstance(value, int) else default


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:  # a broken binding's object with a failing __str__
        return None


def _failure(exc: BaseException) -> str:
    """``OSError: libnvidia-ml.so.1: cannot open shared object file`` (type and message, capped)."""
    try:
        message = str(exc)
    except Exception:
        message = ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:200]


def _bytes(value: Any) -> int | None:
    if value is None or not isinstance(value, int) or value < 0 or value >= _VALUE_NOT_AVAILABLE:
        return None
    return value


class _Reader:
    """One NVML session: every call goes through :meth:`call`, which turns any exception into None.

    NVML errors (not supported, no permission, not found) are expected and silent; any other
    exception (a broken library or binding) is noted once per call name in :attr:`warnings`.
    """

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        self.errors: tuple[type[BaseException], ...] = tuple(
            e
            for e in (getattr(nvml, "NVMLError", None), getattr(nvml, "NVMLLibraryMismatchError", None))
            if isinstance(e, type) and issubclass(e, BaseException)
        )
        self.warnings: list[str] = []
        self._broken: set[str] = set()

    def note_broken(self, name: str, exc: BaseException) -> None:
        """Record an exception that is not an NVML error (once per call name)."""
        if name not in self._broken:
            self._broken.add(name)
            self.warnings.append(f"NVML call {name} failed ({_failure(exc)}); that figure is left empty")

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            fn: Callable[..., Any] | None = getattr(self.nvml, name, None)
        except Exception as exc:
            self.note_broken(name, exc)
            return None
        if not callable(fn):
            return None
        try:
            return fn(*args, **kwargs)
        except self.errors:
            return None
        except Exception as exc:
            self.note_broken(name, exc)
            return None

    def error_code(self, exc: BaseException) -> int | None:
        value = getattr(exc, "value", None)
        return value if isinstance(value, int) else None

    def memory(self, handle: Any) -> tuple[Any, int | None]:
        """(memory struct, version) using v2 where the driver has it, else v1."""
        nvml = self.nvml
        name = "nvmlDeviceGetMemoryInfo"
        fn = getattr(nvml, name, None)
        if not callable(fn):
            return None, None
        version = getattr(nvml, "nvmlMemory_v2", _MEMORY_V2)
        try:
            return fn(handle, version=version), 2
        except TypeError:
            pass  # an old binding without the version parameter
        except self.errors as exc:
            fallback = {
                _code(nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", _FUNCTION_NOT_FOUND),
                _code(nvml, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", _ARGUMENT_VERSION_MISMATCH),
                _code(nvml, "NVML_ERROR_NOT_SUPPORTED", _NOT_SUPPORTED),
            }
            if self.error_code(exc) not in fallback:
                return None, None
        except Exception as exc:  # a broken v2 binding: the v1 call may still work
            self.note_broken(f"{name} (v2)", exc)
        try:
            return fn(handle), 1
        except self.errors:
            return None, None
        except Exception as exc:
            self.note_broken(name, exc)
            return None, None

    def processes(self, handle: Any) -> tuple[GpuProcess, ...]:
        found: dict[int, GpuProcess] = {}
        for kind in ("Compute", "Graphics"):
            listed = self._process_list(kind, handle)
            for proc in listed or ():
                pid = getattr(proc, "pid", None)
                if not isinstance(pid, int):
                    continue
                used = _bytes(getattr(proc, "usedGpuMemory", None))
                if pid in found:
                    before = found[pid]
                    kinds = before.kind if kind.lower() in before.kind else f"{before.kind}+{kind.lower()}"
                    found[pid] = GpuProcess(
                        pid, kinds, before.used_bytes if before.used_bytes is not None else used
                    )
                else:
                    found[pid] = GpuProcess(pid, kind.lower(), used)
        return tuple(found[pid] for pid in sorted(found))

    def _process_list(self, kind: str, handle: Any) -> list[Any] | None:
        # NOTE: the unversioned call raises NVMLLibraryMismatchError (not an NVMLError) when the
        # binding is newer than the driver, so the versioned calls are tried first, newest first.
        not_found = _code(self.nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", _FUNCTION_NOT_FOUND)
        for suffix in ("_v3", "_v2", ""):
            name = f"nvmlDeviceGet{kind}RunningProcesses{suffix}"
            fn = getattr(self.nvml, name, None)
            if not callable(fn):
                continue
            try:
                return list(fn(handle))
            except self.errors as exc:
                if self.error_code(exc) == not_found or type(exc).__name__ == "NVMLLibraryMismatchError":
                    continue
                return None
            except Exception as exc:
                self.note_broken(name, exc)
                return None
        return None

    def checked_memory(self, mem: Any, version: int | None, what: str) -> tuple[int | None, ...]:
        """(total, free, used, reserved) from a memory struct, or all ``None`` when they contradict.

        Refused: free or used above total, or free + used (+ reserved with v2) above total by more
        than :data:`_SUM_SLACK` (v1's ``used`` already holds the reserved memory).
        """
        total = _bytes(getattr(mem, "total", None))
        free = _bytes(getattr(mem, "free", None))
        used = _bytes(getattr(mem, "used", None))
        reserved = _bytes(getattr(mem, "reserved", None)) if version == 2 else None
        if total is None:
            return None, None, None, None
        problem = None
        if free is not None and free > total:
            problem = f"free {free:,} bytes is above total {total:,}"
        elif used is not None and used > total:
            problem = f"used {used:,} bytes is above total {total:,}"
        elif free is not None and used is not None and free + used + (reserved or 0) > total + _SUM_SLACK:
            parts = "free + used" + (" + reserved" if reserved else "")
            problem = f"{parts} = {free + used + (reserved or 0):,} bytes is above total {total:,}"
        if problem:
            self.warnings.append(f"{what}: NVML's memory figures contradict each other ({problem}); refused")
            return None, None, None, None
        return total, free, used, reserved

    def mig_devices(self, handle: Any) -> tuple[MigDevice, ...]:
        count = self.call("nvmlDeviceGetMaxMigDeviceCount", handle)
        if not isinstance(count, int):
            return ()
        devices = []
        for k in range(count):
            mig = self.call("nvmlDeviceGetMigDeviceHandleByIndex", handle, k)
            if mig is None:
                continue  # an empty slot answers NVML_ERROR_NOT_FOUND
            mem, version = self.memory(mig)
            total, free, used, reserved = self.checked_memory(mem, version, f"MIG {k}")
            devices.append(
                MigDevice(
                    index=k,
                    name=_text(self.call("nvmlDeviceGetName", mig)),
                    uuid=_text(self.call("nvmlDeviceGetUUID", mig)),
                    total_bytes=total,
                    free_bytes=free,
                    used_bytes=used,
                    reserved_bytes=reserved,
                )
            )
        return tuple(devices)

    def gpu(self, index: int) -> LiveGpu | None:
        handle = self.call("nvmlDeviceGetHandleByIndex", index)
        if handle is None:
            self.warnings.append(f"GPU {index}: NVML gave no handle (lost, or no permission); skipped")
            return None
        name = _text(self.call("nvmlDeviceGetName", handle))
        mem, version = self.memory(handle)
        total, free, used, reserved = self.checked_memory(mem, version, f"GPU {index} ({name or '?'})")
        cc = self.call("nvmlDeviceGetCudaComputeCapability", handle)
        mig_mode = self.call("nvmlDeviceGetMigMode", handle)
        mig_enabled = None
        if isinstance(mig_mode, (list, tuple)) and mig_mode:
            mig_enabled = mig_mode[0] == _code(self.nvml, "NVML_DEVICE_MIG_ENABLE", _MIG_ENABLE)
        bus = self.call("nvmlDeviceGetMemoryBusWidth", handle)
        clock = self.call("nvmlDeviceGetMaxClockInfo", handle, _code(self.nvml, "NVML_CLOCK_MEM", _CLOCK_MEM))
        return LiveGpu(
            index=index,
            name=name,
            uuid=_text(self.call("nvmlDeviceGetUUID", handle)),
            total_bytes=total,
            free_bytes=free,
            used_bytes=used,
            reserved_bytes=reserved,
            memory_info_version=version if total is not None else None,
            compute_capability=f"{cc[0]}.{cc[1]}" if isinstance(cc, (list, tuple)) and len(cc) == 2 else None,
            memory_bus_width_bits=bus if isinstance(bus, int) and bus > 0 else None,
            max_memory_clock_mhz=clock if isinstance(clock, int) and clock > 0 else None,
            mig_enabled=mig_enabled,
            mig_devices=self.mig_devices(handle) if mig_enabled else (),
            processes=self.processes(handle),
            catalog=match_gpu(name, total) if name else None,
        )


def _import_pynvml() -> ModuleType | None:
    try:
        import pynvml
    except Exception:  # ImportError, or a broken install failing at import time
        return None
    return pynvml


def _cuda_version(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return f"{value // 1000}.{value % 1000 // 10}"


def _init_failure(nvml: Any, exc: BaseException) -> str:
    code = getattr(exc, "value", None)
    if code == _code(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", _LIBRARY_NOT_FOUND):
        return f"{NO_GPU}: NVML library not found (is the NVIDIA driver installed?)"
    if code == _code(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", _DRIVER_NOT_LOADED):
        return f"{NO_GPU}: the NVIDIA driver is not loaded"
    return f"{NO_GPU}: NVML failed to start ({_failure(exc)})"


def read_live_gpus(nvml: Any = None) -> LiveReport:
    """Every local NVIDIA GPU through NVML; ``nvml`` defaults to the ``pynvml`` module.

    Never raises (short of ``KeyboardInterrupt``): a missing package, library, driver or device,
    an NVML error or any other exception from the binding gives ``available=False`` with a reason,
    or a warning when only one figure or the shutdown failed.
    """
    if nvml is None:
        nvml = _import_pynvml()
        if nvml is None:
            return _unavailable(f"{NO_GPU}: the nvidia-ml-py package (module pynvml) is not installed")
    try:
        reader = _Reader(nvml)
        init = getattr(nvml, "nvmlInit", None)
        get_count = getattr(nvml, "nvmlDeviceGetCount", None)
    except Exception as exc:
        return _unavailable(f"{NO_GPU}: the NVML module is unusable ({_failure(exc)})")
    if not reader.errors or not callable(init) or not callable(get_count):
        return _unavailable(f"{NO_GPU}: the NVML module lacks nvmlInit, nvmlDeviceGetCount or NVMLError")
    try:
        init()
    except reader.errors as exc:
        return _unavailable(_init_failure(nvml, exc))
    except Exception as exc:
        return _unavailable(_init_failure(nvml, exc))
    try:
        report = _read_started(reader, get_count)
    except Exception as exc:  # a bug or a binding failing outside any single call
        report = _unavailable(f"{NO_GPU}: NVML could not be read ({_failure(exc)})")
    shutdown_warning = _shutdown(nvml, reader)
    if shutdown_warning:
        report = replace(report, warnings=(*report.warnings, shutdown_warning))
    return report


def _read_started(reader: _Reader, get_count: Callable[[], Any]) -> LiveReport:
    """The devices of an initialised NVML session."""
    try:
        count = get_count()
    except Exception as exc:
        return _unavailable(f"{NO_GPU}: NVML could not count devices ({_failure(exc)})")
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
        return _unavailable(f"{NO_GPU}: the driver is loaded but reports no devices")
    gpus = []
    for i in range(count):
        try:
            gpu = reader.gpu(i)
        except Exception as exc:
            reader.warnings.append(f"GPU {i}: could not be read ({_failure(exc)}); skipped")
            continue
        if gpu is not None:
            gpus.append(gpu)
    cuda = reader.call("nvmlSystemGetCudaDriverVersion_v2")
    if cuda is None:
        cuda = reader.call("nvmlSystemGetCudaDriverVersion")
    return LiveReport(
        available=bool(gpus),
        reason=None if gpus else f"{NO_GPU}: NVML listed {count} device(s) but none could be read",
        driver_version=_text(reader.call("nvmlSystemGetDriverVersion")),
        cuda_driver_version=_cuda_version(cuda),
        gpus=tuple(gpus),
        warnings=tuple(reader.warnings),
    )


def _shutdown(nvml: Any, reader: _Reader) -> str | None:
    """Call ``nvmlShutdown``; a warning (never an exception) when it fails other than with an NVML error."""
    try:
        shutdown = getattr(nvml, "nvmlShutdown", None)
        if callable(shutdown):
            shutdown()
    except reader.errors:
        return None
    except Exception as exc:
        return f"nvmlShutdown failed ({_failure(exc)}); the readings above are unaffected"
    return None
