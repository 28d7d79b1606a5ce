"""Device counters: NVML through the planner's reader (a fake module here), nothing on the CPU."""

import os
from types import SimpleNamespace

from verify.probe import CudaProbe, HostProbe, probe_for

MiB = 1 << 20


class NVMLError(Exception):
    def __init__(self, value=3):
        super().__init__(value)
        self.value = value


class FakeNvml:
    """The calls read_live_gpus needs for one H100; ``used`` can change between reads."""

    NVMLError = NVMLError
    nvmlMemory_v2 = 0x02000028

    def __init__(self, used=5 * MiB, processes=()):
        self.used = used
        self.processes = list(processes)

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return "NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, h):
        return "GPU-1234"

    def nvmlDeviceGetMemoryInfo(self, h, version=None):
        return SimpleNamespace(total=81559 * MiB, free=80000 * MiB, used=self.used, reserved=500 * MiB)

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return (9, 0)

    def nvmlDeviceGetComputeRunningProcesses_v3(self, h):
        return self.processes

    def nvmlSystemGetDriverVersion(self):
        return "580.159.04"


def test_cuda_probe_reads_nvml_without_cuda():
    nvml = FakeNvml(used=7 * MiB)
    probe = CudaProbe(nvml)
    assert probe.capability() == (9, 0)  # from NVML: asking creates no CUDA context
    assert probe.nvml_used() == 7 * MiB
    nvml.used = 900 * MiB
    assert probe.nvml_used() == 900 * MiB
    assert probe.gpu().usable_bytes == (81559 - 500) * MiB


def test_process_figure_only_when_the_pid_matches():
    probe = CudaProbe(FakeNvml(processes=[SimpleNamespace(pid=1, usedGpuMemory=3 * MiB)]))
    assert probe.process_used() is None
    mine = SimpleNamespace(pid=os.getpid(), usedGpuMemory=42 * MiB)
    assert CudaProbe(FakeNvml(processes=[mine])).process_used() == 42 * MiB


def test_no_nvml_means_no_figures():
    class Broken:
        NVMLError = NVMLError

        def nvmlInit(self):
            raise NVMLError(12)

        def nvmlDeviceGetCount(self):
            return 0

    probe = CudaProbe(Broken())
    assert probe.nvml_used() is None and probe.capability() is None


def test_host_probe_measures_nothing():
    probe = probe_for("cpu")
    assert isinstance(probe, HostProbe) and probe.torch_device == "cpu"
    assert probe.allocated() is None and probe.peak() is None and probe.nvml_used() is None
    assert isinstance(probe_for("cuda"), CudaProbe)
