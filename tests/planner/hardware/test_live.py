"""NVML reading with a fake NVML module (GPUs, fallbacks, unsupported calls, MIG, failures) and the real one."""

import contextlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from planner.hardware.live import NO_GPU, LiveReport, read_live_gpus

MiB, GiB = 2**20, 2**30
# NVML return codes (nvml.h)
NOT_SUPPORTED, NO_PERMISSION, NOT_FOUND = 3, 4, 6
DRIVER_NOT_LOADED, LIBRARY_NOT_FOUND, FUNCTION_NOT_FOUND = 9, 12, 13


class FakeNVMLError(Exception):
    """Shaped like pynvml's: the NVML return code in ``value``."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return {3: "Not Supported", 4: "Insufficient Permissions", 12: "NVML Shared Library Not Found"}.get(
            self.value, f"NVML Error with code {self.value}"
        )


def proc(pid, used):
    return SimpleNamespace(pid=pid, usedGpuMemory=used)


def device(**overrides):
    spec = {
        "name": "NVIDIA GeForce RTX 4090",
        "uuid": "GPU-4090",
        "total": 24564 * MiB,
        "reserved": 415 * MiB,
        "used": 2 * MiB,
        "cc": (8, 9),
        "bus": 384,
        "clock": 10501,
        "compute": [],
        "graphics": [],
        "mig": None,  # or (current, pending)
        "mig_slots": [],  # MIG children: dicts with name, uuid, total, used, reserved, or None for an empty slot
        "fail": {},  # method name -> NVML error code
    }
    spec.update(overrides)
    return spec


class FakeNvml:
    """The subset of pynvml that ``read_live_gpus`` calls, over a list of device specs."""

    NVMLError = FakeNVMLError
    NVML_CLOCK_MEM = 2
    NVML_DEVICE_MIG_ENABLE = 1
    nvmlMemory_v2 = 0x02000028

    def __init__(
        self, devices=(), *, init_error=None, count_error=None, v2=True, driver="580.95.05", cuda=13000
    ):
        self.devices = list(devices)
        self.init_error = init_error
        self.count_error = count_error
        self.v2 = v2
        self.driver = driver
        self.cuda = cuda
        self.calls = []
        self.shutdowns = 0

    # -- helpers
    def _spec(self, handle, method):
        self.calls.append(method)
        spec = handle["spec"] if isinstance(handle, dict) and "spec" in handle else handle
        if method in spec.get("fail", {}):
            raise self.NVMLError(spec["fail"][method])
        return spec

    # -- system
    def nvmlInit(self):
        if self.init_error is not None:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self):
        return self.driver

    def nvmlSystemGetCudaDriverVersion_v2(self):
        return self.cuda

    def nvmlDeviceGetCount(self):
        if self.count_error is not None:
            raise self.NVMLError(self.count_error)
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        spec = self.devices[index]
        if "nvmlDeviceGetHandleByIndex" in spec["fail"]:
            raise self.NVMLError(spec["fail"]["nvmlDeviceGetHandleByIndex"])
        return {"spec": spec}

    # -- device
    def nvmlDeviceGetName(self, h):
        return self._spec(h, "nvmlDeviceGetName")["name"]

    def nvmlDeviceGetUUID(self, h):
        return self._spec(h, "nvmlDeviceGetUUID")["uuid"]

    def nvmlDeviceGetMemoryInfo(self, h, version=None):
        spec = self._spec(h, "nvmlDeviceGetMemoryInfo")
        total, used, reserved = spec["total"], spec["used"], spec.get("reserved", 0)
        if version is None:  # v1: used includes the reserved memory
            return SimpleNamespace(total=total, free=total - used - reserved, used=used + reserved)
        if not self.v2:
            raise self.NVMLError(FUNCTION_NOT_FOUND)
        assert version == self.nvmlMemory_v2
        return SimpleNamespace(
            version=version, total=total, reserved=reserved, free=total - used - reserved, used=used
        )

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return self._spec(h, "nvmlDeviceGetCudaComputeCapability")["cc"]

    def nvmlDeviceGetMemoryBusWidth(self, h):
        return self._spec(h, "nvmlDeviceGetMemoryBusWidth")["bus"]

    def nvmlDeviceGetMaxClockInfo(self, h, clock_type):
        assert clock_type == self.NVML_CLOCK_MEM
        return self._spec(h, "nvmlDeviceGetMaxClockInfo")["clock"]

    def nvmlDeviceGetComputeRunningProcesses_v3(self, h):
        return self._spec(h, "nvmlDeviceGetComputeRunningProcesses_v3")["compute"]

    def nvmlDeviceGetGraphicsRunningProcesses_v3(self, h):
        return self._spec(h, "nvmlDeviceGetGraphicsRunningProcesses_v3")["graphics"]

    def nvmlDeviceGetMigMode(self, h):
        spec = self._spec(h, "nvmlDeviceGetMigMode")
        if spec["mig"] is None:
            raise self.NVMLError(NOT_SUPPORTED)
        return list(spec["mig"])

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return len(self._spec(h, "nvmlDeviceGetMaxMigDeviceCount")["mig_slots"])

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, k):
        child = self._spec(h, "nvmlDeviceGetMigDeviceHandleByIndex")["mig_slots"][k]
        if child is None:
            raise self.NVMLError(NOT_FOUND)
        return {"spec": device(**child)}


def h100(**overrides):
    spec = {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": "GPU-h100",
        "total": 81559 * MiB,
        "reserved": 530 * MiB,
        "used": 70 * GiB,
        "cc": (9, 0),
        "bus": 5120,
        "clock": 2619,
        "mig": (0, 0),
    }
    spec.update(overrides)
    return device(**spec)


# --------------------------------------------------------------------- a working machine


def test_two_gpus_with_processes():
    not_available = 2**64 - 1  # NVML_VALUE_NOT_AVAILABLE as a raw 64-bit value
    nvml = FakeNvml(
        [
            device(
                compute=[proc(4242, 3 * GiB), proc(77, not_available)],
                graphics=[proc(1001, None), proc(4242, 3 * GiB)],
            ),
            h100(compute=[proc(5, 70 * GiB)]),
        ]
    )
    report = read_live_gpus(nvml)
    assert isinstance(report, LiveReport)
    assert report.available and report.reason is None
    assert report.driver_version == "580.95.05"
    assert report.cuda_driver_version == "13.0"
    assert nvml.shutdowns == 1

    rtx, hop = report.gpus
    assert (rtx.index, rtx.name, rtx.uuid) == (0, "NVIDIA GeForce RTX 4090", "GPU-4090")
    assert rtx.catalog.id == "rtx-4090"
    assert rtx.memory_info_version == 2
    assert rtx.total_bytes == 24564 * MiB
    assert rtx.reserved_bytes == 415 * MiB
    assert rtx.used_bytes == 2 * MiB
    assert rtx.free_bytes == (24564 - 415 - 2) * MiB
    assert rtx.usable_bytes == (24564 - 415) * MiB
    assert rtx.compute_capability == "8.9"
    assert rtx.derived_bandwidth_bytes_per_s == 1_008_096_000_000  # 2 x 10501 MHz x 384 bit / 8
    assert rtx.bandwidth_bytes_per_s == 1008 * 10**9  # the catalog figure wins when matched
    assert rtx.mig_enabled is None  # GeForce: MIG not supported
    assert [(p.pid, p.kind, p.used_bytes) for p in rtx.processes] == [
        (77, "compute", None),
        (1001, "graphics", None),
        (4242, "compute+graphics", 3 * GiB),
    ]

    assert hop.catalog.id == "h100-sxm"
    assert hop.compute_capability == "9.0"
    assert hop.mig_enabled is False and hop.mig_devices == ()
    assert hop.derived_bandwidth_bytes_per_s == 3_352_320_000_000
    assert [(p.pid, p.used_bytes) for p in hop.processes] == [(5, 70 * GiB)]


def test_unknown_gpu_keeps_nvml_bandwidth():
    report = read_live_gpus(FakeNvml([device(name="NVIDIA Imaginary 9000", bus=256, clock=9001)]))
    (gpu,) = report.gpus
    assert gpu.catalog is None
    assert gpu.bandwidth_bytes_per_s == gpu.derived_bandwidth_bytes_per_s == 576_064_000_000


def test_v2_memory_info_missing_falls_back_to_v1():
    report = read_live_gpus(FakeNvml([device()], v2=False))
    (gpu,) = report.gpus
    assert gpu.memory_info_version == 1
    assert gpu.reserved_bytes is None
    assert gpu.total_bytes == 24564 * MiB
    assert gpu.used_bytes == (415 + 2) * MiB  # v1 "used" includes the reserved memory
    assert gpu.usable_bytes == gpu.total_bytes


def test_old_binding_without_version_parameter():
    class OldNvml(FakeNvml):
        def nvmlDeviceGetMemoryInfo(self, h):  # no version keyword at all
            return super().nvmlDeviceGetMemoryInfo(h)

    (gpu,) = read_live_gpus(OldNvml([device()])).gpus
    assert gpu.memory_info_version == 1


def test_unsupported_calls_leave_fields_empty():
    fail = dict.fromkeys(
        [
            "nvmlDeviceGetMemoryBusWidth",
            "nvmlDeviceGetMaxClockInfo",
            "nvmlDeviceGetCudaComputeCapability",
            "nvmlDeviceGetComputeRunningProcesses_v3",
            "nvmlDeviceGetGraphicsRunningProcesses_v3",
            "nvmlDeviceGetUUID",
        ],
        NOT_SUPPORTED,
    )
    report = read_live_gpus(FakeNvml([device(fail=fail)]))
    (gpu,) = report.gpus
    assert report.available
    assert gpu.uuid is None
    assert gpu.memory_bus_width_bits is None and gpu.max_memory_clock_mhz is None
    assert gpu.derived_bandwidth_bytes_per_s is None
    assert gpu.bandwidth_bytes_per_s == 1008 * 10**9  # still known from the catalog
    assert gpu.compute_capability is None
    assert gpu.processes == ()
    assert gpu.total_bytes == 24564 * MiB


def test_memory_refused_leaves_memory_empty():
    (gpu,) = read_live_gpus(FakeNvml([device(fail={"nvmlDeviceGetMemoryInfo": NO_PERMISSION})])).gpus
    assert gpu.total_bytes is gpu.free_bytes is gpu.used_bytes is gpu.usable_bytes is None
    assert gpu.memory_info_version is None
    assert gpu.catalog.id == "rtx-4090"  # the name alone is unique


def test_mig_enabled():
    slots = [
        {
            "name": "NVIDIA A100-SXM4-80GB MIG 3g.40gb",
            "uuid": "MIG-a",
            "total": 40192 * MiB,
            "used": 13 * MiB,
            "reserved": 0,
        },
        None,
        {
            "name": "NVIDIA A100-SXM4-80GB MIG 1g.10gb",
            "uuid": "MIG-b",
            "total": 9728 * MiB,
            "used": 5 * GiB,
            "reserved": 0,
        },
        None,
    ]
    parent = device(
        name="NVIDIA A100-SXM4-80GB",
        uuid="GPU-a100",
        total=81920 * MiB,
        cc=(8, 0),
        bus=5120,
        clock=1593,
        mig=(1, 1),
        mig_slots=slots,
        fail={"nvmlDeviceGetMemoryInfo": NO_PERMISSION},  # the MIG parent needs privileges
    )
    (gpu,) = read_live_gpus(FakeNvml([parent])).gpus
    assert gpu.mig_enabled is True
    assert gpu.total_bytes is None
    assert gpu.catalog.id == "a100-80gb-sxm"
    assert [(m.index, m.uuid, m.total_bytes, m.used_bytes) for m in gpu.mig_devices] == [
        (0, "MIG-a", 40192 * MiB, 13 * MiB),
        (2, "MIG-b", 9728 * MiB, 5 * GiB),
    ]


def test_mig_pending_only_is_not_enabled():
    (gpu,) = read_live_gpus(FakeNvml([h100(mig=(0, 1), mig_slots=[None])])).gpus
    assert gpu.mig_enabled is False and gpu.mig_devices == ()


def test_same_name_told_apart_by_memory():
    nvml = FakeNvml(
        [
            device(name="NVIDIA GeForce RTX 4060 Ti", total=16380 * MiB, reserved=303 * MiB),
            device(name="NVIDIA GeForce RTX 4060 Ti", total=8188 * MiB, reserved=300 * MiB),
        ]
    )
    assert [g.catalog.id for g in read_live_gpus(nvml).gpus] == ["rtx-4060-ti-16gb", "rtx-4060-ti-8gb"]


def test_a_gpu_without_handle_is_skipped_with_a_warning():
    nvml = FakeNvml([device(fail={"nvmlDeviceGetHandleByIndex": 15}), h100()])
    report = read_live_gpus(nvml)
    assert report.available
    assert [g.index for g in report.gpus] == [1]
    assert "GPU 0" in report.warnings[0]


# --------------------------------------------------------------------- no GPU: never raises


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (LIBRARY_NOT_FOUND, "NVML library not found"),
        (DRIVER_NOT_LOADED, "driver is not loaded"),
        (999, "NVML failed to start"),
    ],
)
def test_init_error_is_the_no_gpu_state(code, words):
    nvml = FakeNvml([device()], init_error=code)
    report = read_live_gpus(nvml)
    assert not report.available
    assert report.reason.startswith(NO_GPU) and words in report.reason
    assert report.gpus == ()
    assert nvml.shutdowns == 0  # nothing to shut down


def test_no_devices():
    nvml = FakeNvml([])
    report = read_live_gpus(nvml)
    assert not report.available and "no devices" in report.reason
    assert nvml.shutdowns == 1


def test_count_error():
    nvml = FakeNvml([device()], count_error=999)
    report = read_live_gpus(nvml)
    assert not report.available and "could not count" in report.reason
    assert nvml.shutdowns == 1


def test_every_device_unreadable():
    nvml = FakeNvml([device(fail={"nvmlDeviceGetHandleByIndex": 15})])
    report = read_live_gpus(nvml)
    assert not report.available and "none could be read" in report.reason
    assert nvml.shutdowns == 1


def test_shutdown_error_is_swallowed():
    class Grumpy(FakeNvml):
        def nvmlShutdown(self):
            raise FakeNVMLError(1)

    assert read_live_gpus(Grumpy([device()])).available


def test_pynvml_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes "import pynvml" raise ImportError
    report = read_live_gpus()
    assert not report.available
    assert "nvidia-ml-py" in report.reason and report.reason.startswith(NO_GPU)


def test_module_without_nvml_error_class():
    report = read_live_gpus(SimpleNamespace(nvmlInit=lambda: None))
    assert not report.available


# --------------------------------------------------------------------- with the real pynvml


def test_real_pynvml_error_classes_work():
    """pynvml's own exceptions (NVMLError subclasses chosen by code) go through the same paths."""
    pynvml = pytest.importorskip("pynvml")

    class RealErrors(FakeNvml):
        NVMLError = pynvml.NVMLError
        NVMLLibraryMismatchError = pynvml.NVMLLibraryMismatchError

        def nvmlDeviceGetMemoryBusWidth(self, h):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

        def nvmlDeviceGetMemoryInfo(self, h, version=None):
            if version is not None:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            return super().nvmlDeviceGetMemoryInfo(h)

    # The unversioned process calls raise NVMLLibraryMismatchError (not an NVMLError) on an old driver.
    del_v3 = {"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v3"}

    class Mismatch(RealErrors):
        def __getattribute__(self, name):
            if name in del_v3:
                raise AttributeError(name)
            return super().__getattribute__(name)

        def nvmlDeviceGetComputeRunningProcesses(self, h):
            raise pynvml.NVMLLibraryMismatchError("binding newer than driver")

        def nvmlDeviceGetGraphicsRunningProcesses(self, h):
            raise pynvml.NVMLLibraryMismatchError("binding newer than driver")

    report = read_live_gpus(Mismatch([device()]))
    (gpu,) = report.gpus
    assert gpu.memory_bus_width_bits is None
    assert gpu.memory_info_version == 1
    assert gpu.processes == ()

    init_fails = FakeNvml(init_error=None)
    init_fails.NVMLError = pynvml.NVMLError

    def boom():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    init_fails.nvmlInit = boom
    assert "NVML library not found" in read_live_gpus(init_fails).reason


def test_real_pynvml_never_raises():
    pytest.importorskip("pynvml")
    report = read_live_gpus()
    assert isinstance(report, LiveReport)
    if report.available:
        assert report.gpus and report.reason is None
    else:
        assert report.reason.startswith(NO_GPU) and report.gpus == ()


@pytest.mark.skipif(Path("/proc/driver/nvidia").exists(), reason="an NVIDIA driver is loaded here")
def test_real_pynvml_without_driver():
    pytest.importorskip("pynvml")
    report = read_live_gpus()
    assert not report.available
    assert report.reason.startswith(NO_GPU)
    assert "NVML library not found" in report.reason or "driver is not loaded" in report.reason


def test_module_missing_calls_is_the_no_gpu_state():
    fake = SimpleNamespace(NVMLError=FakeNVMLError, nvmlInit=lambda: None)  # no nvmlDeviceGetCount
    assert not read_live_gpus(fake).available


# --------------------------------------------------------------------- a broken binding or library


def _raising(exc):
    def call(*args, **kwargs):
        raise exc

    return call


def test_undecodable_name_from_real_pynvml_decoding_is_caught():
    """pynvml's own ``convertStrBytes`` decodes the name as UTF-8: bad bytes raise UnicodeDecodeError."""
    pynvml = pytest.importorskip("pynvml")

    class BadName(FakeNvml):
        @pynvml.convertStrBytes
        def nvmlDeviceGetName(self, h):
            return b"NVIDIA GeForce RTX 4090 \xff\xfe"

    report = read_live_gpus(BadName([device()]))
    (gpu,) = report.gpus
    assert report.available
    assert gpu.name is None and gpu.catalog is None
    assert gpu.total_bytes == 24564 * MiB  # the other figures are still read
    assert any("nvmlDeviceGetName" in w and "UnicodeDecodeError" in w for w in report.warnings)


@pytest.mark.parametrize(
    "exc",
    [
        OSError("libnvidia-ml.so.1: cannot open shared object file"),
        AttributeError("nvmlInit_v2"),
        RuntimeError(),
    ],
    ids=["OSError", "AttributeError", "RuntimeError"],
)
def test_any_exception_from_init_is_the_no_gpu_state(exc):
    nvml = FakeNvml([device()])
    nvml.nvmlInit = _raising(exc)
    report = read_live_gpus(nvml)
    assert not report.available and report.gpus == ()
    assert report.reason.startswith(f"{NO_GPU}: NVML failed to start ({type(exc).__name__}")
    assert nvml.shutdowns == 0


def test_any_exception_from_the_count_is_the_no_gpu_state():
    nvml = FakeNvml([device()])
    nvml.nvmlDeviceGetCount = _raising(OSError("I/O error"))
    report = read_live_gpus(nvml)
    assert not report.available and "could not count devices (OSError: I/O error)" in report.reason
    assert nvml.shutdowns == 1


def test_shutdown_raising_oserror_is_a_warning():
    class Grumpy(FakeNvml):
        def nvmlShutdown(self):
            raise OSError("driver gone")

    report = read_live_gpus(Grumpy([device()]))
    assert report.available and report.gpus[0].total_bytes == 24564 * MiB
    assert report.warnings == (
        "nvmlShutdown failed (OSError: driver gone); the readings above are unaffected",
    )


def test_queries_raising_other_exceptions_leave_fields_empty_with_a_warning():
    class Broken(FakeNvml):
        nvmlDeviceGetUUID = staticmethod(
            _raising(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))
        )
        nvmlDeviceGetMemoryBusWidth = staticmethod(_raising(AttributeError("no symbol")))
        nvmlDeviceGetComputeRunningProcesses_v3 = staticmethod(_raising(OSError("EIO")))
        nvmlSystemGetDriverVersion = staticmethod(_raising(OSError("EIO")))

    report = read_live_gpus(Broken([device(), h100()]))
    assert report.available and len(report.gpus) == 2
    rtx = report.gpus[0]
    assert rtx.uuid is None and rtx.memory_bus_width_bits is None and report.driver_version is None
    assert rtx.catalog.id == "rtx-4090" and rtx.free_bytes == (24564 - 415 - 2) * MiB
    # one warning per failing call name, not one per GPU
    assert sorted(w.split()[2] for w in report.warnings) == [
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetMemoryBusWidth",
        "nvmlDeviceGetUUID",
        "nvmlSystemGetDriverVersion",
    ]


def test_v2_memory_raising_other_exceptions_falls_back_to_v1():
    class BrokenV2(FakeNvml):
        def nvmlDeviceGetMemoryInfo(self, h, version=None):
            if version is not None:
                raise AttributeError("struct nvmlMemory_v2_t has no field 'reserved'")
            return super().nvmlDeviceGetMemoryInfo(h)

    report = read_live_gpus(BrokenV2([device()]))
    assert report.gpus[0].memory_info_version == 1
    assert report.gpus[0].total_bytes == 24564 * MiB
    assert "AttributeError" in report.warnings[0]


def test_a_module_whose_attributes_raise_is_the_no_gpu_state():
    class Exploding:
        NVMLError = FakeNVMLError

        def __getattr__(self, name):
            raise RuntimeError(f"lazy symbol {name} failed to load")

    report = read_live_gpus(Exploding())
    assert not report.available and report.reason.startswith(NO_GPU)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"total": 24 * GiB, "free": 30 * GiB, "used": 0}, "free 32,212,254,720 bytes is above total"),
        ({"total": 24 * GiB, "free": 1 * GiB, "used": 25 * GiB}, "used 26,843,545,600 bytes is above total"),
        ({"total": 24 * GiB, "free": 20 * GiB, "used": 5 * GiB}, "free + used = 26,843,545,600 bytes"),
    ],
    ids=["free above total", "used above total", "free + used above total"],
)
def test_inconsistent_memory_is_refused(fields, words):
    class Liar(FakeNvml):
        def nvmlDeviceGetMemoryInfo(self, h, version=None):
            if version is not None:
                raise FakeNVMLError(FUNCTION_NOT_FOUND)
            return SimpleNamespace(**fields)

    report = read_live_gpus(Liar([device()]))
    (gpu,) = report.gpus
    assert gpu.total_bytes is gpu.free_bytes is gpu.used_bytes is None
    assert gpu.memory_info_version is None
    (warning,) = report.warnings
    assert warning.startswith("GPU 0 (NVIDIA GeForce RTX 4090): NVML's memory figures contradict")
    assert words in warning and warning.endswith("refused")


def test_v2_reserved_counts_in_the_sum():
    class Liar(FakeNvml):
        def nvmlDeviceGetMemoryInfo(self, h, version=None):
            # free + used fits the total, but with the reserved memory the sum is 1 GiB over
            return SimpleNamespace(total=24 * GiB, free=20 * GiB, used=3 * GiB, reserved=2 * GiB)

    report = read_live_gpus(Liar([device()]))
    assert report.gpus[0].total_bytes is None
    assert "free + used + reserved" in report.warnings[0]


def test_mig_instance_with_inconsistent_memory_is_refused():
    slot = {
        "name": "NVIDIA H100 MIG 1g.10gb",
        "uuid": "MIG-x",
        "total": 10 * GiB,
        "used": 11 * GiB,
        "reserved": 0,
    }
    (gpu,) = read_live_gpus(FakeNvml([h100(mig=(1, 1), mig_slots=[slot])])).gpus
    (mig,) = gpu.mig_devices
    assert mig.total_bytes is mig.free_bytes is None


_EXCEPTIONS = (
    OSError("EIO"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
    AttributeError("gone"),
    TypeError("bad struct"),
    ValueError("bad value"),
    RuntimeError("boom"),
    FakeNVMLError(999),
)


def test_every_call_failing_in_every_way_never_raises():
    """Each NVML call in turn raises each exception: the reading never raises and the budget raises only FitError."""
    from planner.errors import PlannerError
    from planner.fit.budget import budget_from_live

    names = [n for n in dir(FakeNvml) if n.startswith("nvml")]
    for name in names:
        for exc in _EXCEPTIONS:
            nvml = FakeNvml([device(), h100(mig=(1, 1), mig_slots=[{"name": "m", "total": GiB, "used": 0}])])
            setattr(nvml, name, _raising(exc))
            report = read_live_gpus(nvml)
            assert isinstance(report, LiveReport), (name, exc)
            assert report.available or report.reason.startswith(NO_GPU), (name, exc)
            with contextlib.suppress(PlannerError):
                budget_from_live(count=1, nvml=nvml)
