"""Every reader together: a DGX Spark, a Mac, an AMD box, nothing at all; the JSON and text views."""

import json

import planner.hardware.machine as machine
from planner.hardware.apple import BRAND_AND_MEMORY, DISPLAYS, WIRED_LIMIT
from planner.hardware.machine import read_machine
from planner.hardware.report import machine_lines, machine_report_to_dict
from tests.planner.hardware.fakes import FIXTURES, FakeRunner, fixture
from tests.planner.hardware.test_live import NOT_SUPPORTED, FakeNvml, device

GiB, MiB = 1 << 30, 1 << 20
NO_NVML = FakeNvml(init_error=12)


def _read(**kwargs):
    kwargs.setdefault("nvml", NO_NVML)
    kwargs.setdefault("run", FakeRunner())
    kwargs.setdefault("platform", "linux")
    kwargs.setdefault("import_amdsmi", lambda: None)
    return read_machine(**kwargs)


def test_dgx_spark_memory_comes_from_meminfo():
    """NVML answers NOT_SUPPORTED for GB10's memory (NVIDIA known issue); /proc/meminfo has it (nvitop#208)."""
    gb10 = device(name="NVIDIA GB10", fail={"nvmlDeviceGetMemoryInfo": NOT_SUPPORTED}, cc=(12, 1))
    report = _read(nvml=FakeNvml([gb10]), root=FIXTURES / "dgx-spark")
    (spark,) = report.devices
    assert spark.reader == "nvml+meminfo" and spark.unified and spark.catalog.id == "dgx-spark"
    assert spark.total_bytes == spark.gpu_limit_bytes == 127600748 * 1024
    assert spark.free_bytes == spark.capacity_bytes == 118566368 * 1024
    assert spark.used_bytes == (127600748 - 118566368) * 1024
    assert report.available and report.nvml.gpus[0].total_bytes is None


def test_a_mac():
    run = FakeRunner(
        {
            BRAND_AND_MEMORY: "Apple M3 Pro\n38654705664\n",
            WIRED_LIMIT: "0\n",
            DISPLAYS: fixture("apple/m3_pro_displays.json"),
        }
    )
    report = _read(run=run, platform="darwin")
    (mac,) = report.devices
    assert mac.vendor == "apple" and mac.capacity_bytes == 27 * GiB and mac.catalog.id == "m3-pro-36gb"
    assert [r.reader for r in report.readers] == ["nvml", "sysctl"]
    assert report.host is None  # /proc/meminfo is Linux's


def test_an_amd_box_reads_no_apple_tool():
    run = FakeRunner(
        {
            ("rocm-smi", "--showproductname", "--showmeminfo", "all", "--json"): fixture(
                "rocm-smi/rx7900xt.json"
            )
        }
    )
    report = _read(run=run, root=FIXTURES / "nowhere")
    assert [d.name for d in report.devices] == ["Radeon RX 7900 XT"]
    assert not any(call[0] in {"sysctl", "system_profiler"} for call in run.calls)
    assert [r.reader for r in report.readers] == ["nvml", "amdsmi", "amd-smi", "rocm-smi", "xpu-smi"]


def test_nothing_found_says_why_for_every_reader():
    report = _read(root=FIXTURES / "nowhere")
    assert not report.available and report.devices == ()
    reason = report.reason
    assert reason.startswith("no GPU detected: nvml: no NVIDIA GPU detected: NVML library not found")
    for words in ("amdsmi: the amdsmi Python package is not installed", "rocm-smi: rocm-smi is not installed",
                  "sysfs: ", "xpu-smi: xpu-smi is not installed"):  # fmt: skip
        assert words in reason


def test_a_reader_with_a_bug_is_a_warning(monkeypatch):
    def broken(run):
        raise KeyError("boom")

    monkeypatch.setattr(machine, "read_intel", broken)
    report = _read(root=FIXTURES / "nowhere")
    assert any("a GPU reader failed (KeyError" in w for w in report.warnings)


def test_json_keeps_nvml_fields_and_adds_every_device():
    gb10 = device(name="NVIDIA GB10", fail={"nvmlDeviceGetMemoryInfo": NOT_SUPPORTED})
    data = machine_report_to_dict(_read(nvml=FakeNvml([gb10, device()]), root=FIXTURES / "dgx-spark"))
    json.dumps(data)  # plain JSON
    assert {"available", "reason", "driver_version", "cuda_driver_version", "gpus", "warnings"} <= set(data)
    assert data["available"] and len(data["gpus"]) == 2
    spark, rtx = data["devices"]
    assert spark["unified_memory"] and spark["catalog_id"] == "dgx-spark"
    assert spark["capacity_bytes"] == 118566368 * 1024
    assert rtx["catalog_id"] == "rtx-4090" and not rtx["unified_memory"]
    assert data["host_memory"]["total_bytes"] == 127600748 * 1024
    assert data["readers"][0] == {"reader": "nvml", "devices": 2, "message": "2 NVIDIA GPU(s)"}


def test_text_lines():
    run = FakeRunner(
        {
            ("rocm-smi", "--showproductname", "--showmeminfo", "all", "--json"): fixture(
                "rocm-smi/rx7900xt.json"
            )
        }
    )
    lines = machine_lines(_read(run=run, root=FIXTURES / "nowhere"))
    assert lines[0] == "AMD GPU 0: Radeon RX 7900 XT  [rx-7900-xt]  (read by rocm-smi)"
    assert lines[1].startswith("  memory: total 19.98 GiB")
    assert any(line.startswith("(NVML: no NVIDIA GPU detected") for line in lines)
    nothing = machine_lines(_read(root=FIXTURES / "nowhere"))
    assert nothing[0].startswith("no GPU detected: nvml:")
