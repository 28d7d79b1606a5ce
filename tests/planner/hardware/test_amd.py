"""AMD GPUs and APUs from recorded rocm-smi / amd-smi outputs, sysfs trees and a fake amdsmi module."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from planner.hardware.amd import (
    AMD_SMI_METRIC,
    AMD_SMI_STATIC,
    ROCM_SMI,
    _match,
    read_amd,
    read_amd_smi,
    read_amdsmi,
    read_rocm_smi,
    read_sysfs,
)
from planner.hardware.host import HostMemory, read_host_memory
from tests.planner.hardware.fakes import FIXTURES, FakeRunner, failed, fixture

GiB, MiB = 1 << 30, 1 << 20
HALO_128 = FIXTURES / "sysfs-strix-halo-gtt128"
HALO_TTM = FIXTURES / "sysfs-strix-halo-ttm96"


def host(root: Path) -> HostMemory:
    memory = read_host_memory(root)
    assert memory is not None
    return memory


# --------------------------------------------------------------------------- rocm-smi


def test_rocm_smi_rx_7900_xt_recorded():
    """marimo-team/marimo#9237: rocm-smi --showproductname --showuse --showmeminfo vram --json."""
    (gpu,), status = read_rocm_smi(FakeRunner({ROCM_SMI: fixture("rocm-smi/rx7900xt.json")}), None)
    assert status.devices == 1 and status.reader == "rocm-smi"
    assert (gpu.vendor, gpu.index, gpu.name) == ("amd", 0, "Radeon RX 7900 XT")
    assert (gpu.total_bytes, gpu.used_bytes) == (21458059264, 27856896)
    assert gpu.free_bytes == gpu.capacity_bytes == 21458059264 - 27856896
    assert not gpu.unified and gpu.catalog.id == "rx-7900-xt"
    assert ("GFX target", "gfx1100") in gpu.details


def test_rocm_smi_after_a_warning_banner():
    text = "WARNING: AMD GPU device(s) is/are in a low-power state. Check power control/runtime_status\n\n"
    (gpu,), _ = read_rocm_smi(FakeRunner({ROCM_SMI: text + fixture("rocm-smi/rx7900xt.json")}), None)
    assert gpu.total_bytes == 21458059264


def test_rocm_smi_gtt_fields_make_an_apu():
    """The GTT keys rocm_smi.py prints for --showmeminfo all ('<TYPE> Total Memory (B)'), on a Strix Halo."""
    card = {
        "VRAM Total Memory (B)": "536870912",
        "VRAM Total Used Memory (B)": "477102080",
        "GTT Total Memory (B)": "137438953472",
        "GTT Total Used Memory (B)": "2147483648",
        "Card series": "AMD Radeon 8060S Graphics",
        "GFX Version": "gfx1151",
    }
    (gpu,), _ = read_rocm_smi(FakeRunner({ROCM_SMI: json.dumps({"card0": card})}), host(HALO_128))
    assert gpu.unified and gpu.catalog.id == "ryzen-ai-max-395-128gb"
    assert gpu.gpu_limit_bytes == 512 * MiB + 128 * GiB


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (failed(ROCM_SMI, "rocm-smi timed out after 10 s"), "timed out"),
        (failed(ROCM_SMI, "rocm-smi exited with status 2: ERROR: GPU[0] : Unable to get memory"), "status 2"),
        ("<html>not json</html>", "unexpected"),
        ("[1, 2, 3]", "unexpected"),
        ('{"system": {"Driver version": "6.14.14"}}', "unexpected"),
    ],
    ids=["timeout", "exit status", "garbage", "a list", "no cards"],
)
def test_rocm_smi_failures_are_messages(answer, words):
    devices, status = read_rocm_smi(FakeRunner({ROCM_SMI: answer}), None)
    assert devices == () and words in status.message


def test_used_above_total_is_refused():
    card = {
        "VRAM Total Memory (B)": "1000",
        "VRAM Total Used Memory (B)": "2000",
        "Card Series": "Radeon RX 7900 XT",
    }
    (gpu,), _ = read_rocm_smi(FakeRunner({ROCM_SMI: json.dumps({"card0": card})}), None)
    assert gpu.total_bytes is gpu.free_bytes is None and "refused" in gpu.notes[0]


def test_pci_ids_style_names_are_matched_by_memory():
    """Older rocm-smi prints pci.ids names: 'Navi 31 [Radeon RX 7900 XT/7900 XTX]' (pci.ids 2023.04.10)."""
    assert _match("Navi 31 [Radeon RX 7900 XT/7900 XTX]", 24 * GiB).id == "rx-7900-xtx"
    assert _match("Navi 31 [Radeon RX 7900 XT/7900 XTX]", 21458059264).id == "rx-7900-xt"
    assert _match("Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", 17163091968) is None  # not in the catalog


# --------------------------------------------------------------------------- amd-smi


def test_amd_smi_list_form():
    run = FakeRunner(
        {
            AMD_SMI_METRIC: fixture("amd-smi/rx7900xt_metric.json"),
            AMD_SMI_STATIC: fixture("amd-smi/rx7900xt_static.json"),
        }
    )
    (gpu,), status = read_amd_smi(run, None)
    assert status.reader == "amd-smi" and gpu.name == "Radeon RX 7900 XT"
    assert gpu.total_bytes == 20464 * MiB == 21458059264  # amd-smi's "MB" is bytes // 2**20
    assert gpu.used_bytes == 26 * MiB and gpu.catalog.id == "rx-7900-xt"
    assert not any(k.startswith("GTT") for k, _ in gpu.details)  # "N/A" fields are left out


def test_amd_smi_gpu_data_form_on_strix_halo():
    run = FakeRunner(
        {
            AMD_SMI_METRIC: fixture("amd-smi/strix_halo_metric_gpu_data.json"),
            AMD_SMI_STATIC: fixture("amd-smi/strix_halo_static_gpu_data.json"),
        }
    )
    memory = host(HALO_128)
    (gpu,), _ = read_amd_smi(run, memory)
    assert gpu.unified and gpu.name == "Radeon 8060S Graphics"
    assert gpu.catalog.id == "ryzen-ai-max-395-128gb"
    assert gpu.gpu_limit_bytes == 512 * MiB + 131072 * MiB
    assert gpu.used_bytes == (455 + 64512) * MiB
    # free: the carve-out's 57 MiB plus the GTT's 66560 MiB (less than MemAvailable's 120 GiB)
    assert gpu.free_bytes == gpu.capacity_bytes == (57 + 66560) * MiB
    assert gpu.total_bytes == memory.total_bytes + 512 * MiB
    assert any("unified memory" in n for n in gpu.notes)


def test_amd_smi_missing_then_rocm_smi_answers():
    run = FakeRunner({ROCM_SMI: fixture("rocm-smi/rx7900xt.json")})
    devices, statuses = read_amd(run, Path("/nonexistent"), None, None)
    assert [s.reader for s in statuses] == ["amdsmi", "amd-smi", "rocm-smi"]
    assert statuses[0].message == "the amdsmi Python package is not installed"
    assert statuses[1].message == "amd-smi is not installed"
    assert devices[0].reader == "rocm-smi"


def test_amd_smi_garbage():
    devices, status = read_amd_smi(
        FakeRunner({AMD_SMI_METRIC: "Segmentation fault", AMD_SMI_STATIC: "{}"}), None
    )
    assert devices == () and "unexpected" in status.message


# --------------------------------------------------------------------------- sysfs


def test_sysfs_strix_halo_with_a_512_mib_carve_out():
    """ROCm/legacy-rocm-build#6004: mem_info_vram_total 536870912, mem_info_gtt_total 137438953472."""
    memory = host(HALO_128)
    (gpu,), status = read_sysfs(HALO_128, memory)
    assert status.devices == 1 and gpu.reader == "sysfs"
    assert gpu.name == "Radeon 8060S Graphics" and gpu.catalog.id == "ryzen-ai-max-395-128gb"
    assert gpu.unified and gpu.gpu_limit_bytes == 536870912 + 137438953472
    assert ("PCI id", "PCI 0x1002:0x1586") in gpu.details and ("DRM card", "card1") in gpu.details
    # GTT free (126 GiB) is bounded by MemAvailable (120 GiB); plus the carve-out's free 59 MiB
    assert gpu.free_bytes == (536870912 - 477102080) + 120 * GiB
    assert gpu.capacity_bytes == gpu.free_bytes


def test_sysfs_strix_halo_with_ttm_pages_limit():
    """noamsto/nix-amd-ai#42: ttm.pages_limit=25165824 gives mem_info_gtt_total 103079215104 (96 GiB)."""
    (gpu,), _ = read_sysfs(HALO_TTM, host(HALO_TTM))
    assert gpu.unified and gpu.gpu_limit_bytes == 4 * GiB + 96 * GiB
    assert gpu.capacity_bytes == 4 * GiB + 96 * GiB  # nothing in use; MemAvailable (120 GiB) is not binding


def test_sysfs_skips_other_vendors_and_connectors(tmp_path):
    nv = tmp_path / "sys/class/drm/card0/device"
    nv.mkdir(parents=True)
    (nv / "vendor").write_text("0x10de\n")
    (tmp_path / "sys/class/drm/card0-DP-1").mkdir()
    devices, status = read_sysfs(tmp_path, None)
    assert devices == () and status.message == "no amdgpu device with memory figures"


def test_sysfs_without_drm():
    devices, status = read_sysfs(Path("/nonexistent-root"), None)
    assert devices == () and "not readable" in status.message


def test_sysfs_discrete_card_with_an_unknown_id(tmp_path):
    dev = tmp_path / "sys/class/drm/card0/device"
    dev.mkdir(parents=True)
    for name, value in {"vendor": "0x1002", "device": "0x744c", "mem_info_vram_total": "25753026560",
                        "mem_info_vram_used": "1048576", "mem_info_gtt_total": "33554432000",
                        "mem_info_gtt_used": "0"}.items():  # fmt: skip
        (dev / name).write_text(value + "\n")
    (gpu,), _ = read_sysfs(tmp_path, None)
    assert not gpu.unified and gpu.name is None and gpu.total_bytes == 25753026560
    assert gpu.capacity_bytes == 25753026560 - 1048576


# --------------------------------------------------------------------------- the amdsmi module


class FakeAmdSmi:
    """The amdsmi calls the reader makes (ROCm/amdsmi py-interface/amdsmi_interface.py)."""

    AmdSmiMemoryType = SimpleNamespace(VRAM=0, VIS_VRAM=1, GTT=2)

    def __init__(self, fail_init=None, memory=None):
        self.fail_init = fail_init
        self.memory = memory or {0: 536870912, 2: 137438953472}
        self.used = {0: 477102080, 2: 2 * GiB}
        self.shut = 0

    def amdsmi_init(self):
        if self.fail_init:
            raise self.fail_init

    def amdsmi_shut_down(self):
        self.shut += 1
        raise OSError("already shut down")  # must not escape

    def amdsmi_get_processor_handles(self):
        return ["h0"]

    def amdsmi_get_gpu_asic_info(self, handle):
        return {"market_name": "AMD Radeon 8060S Graphics", "target_graphics_version": "gfx1151"}

    def amdsmi_get_gpu_memory_total(self, handle, kind):
        return self.memory[kind]

    def amdsmi_get_gpu_memory_usage(self, handle, kind):
        if kind == 2:
            raise RuntimeError("AMDSMI_STATUS_NOT_SUPPORTED")
        return self.used[kind]


def test_amdsmi_module():
    module = FakeAmdSmi()
    (gpu,), status = read_amdsmi(module, host(HALO_128))
    assert status.reader == "amdsmi" and module.shut == 1
    assert gpu.unified and gpu.catalog.id == "ryzen-ai-max-395-128gb"
    assert ("GFX target", "gfx1151") in gpu.details
    assert gpu.gpu_limit_bytes == 536870912 + 137438953472
    assert gpu.used_bytes == 477102080  # GTT use unreadable: only the carve-out's


@pytest.mark.parametrize(
    "exc", [OSError("libamd_smi.so: cannot open"), KeyError("AMDSMI_STATUS"), RuntimeError()]
)
def test_amdsmi_init_failure_is_a_message(exc):
    devices, status = read_amdsmi(FakeAmdSmi(fail_init=exc), None)
    assert devices == () and status.message.startswith("amdsmi could not start")
