"""My GPUs page: the no-GPU explanation here, and fake machines (NVIDIA, a Mac, an AMD box, a Strix Halo)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

import planner.hardware
from planner.hardware.apple import BRAND_AND_MEMORY, DISPLAYS, WIRED_LIMIT
from planner.hardware.machine import read_machine
from tests.planner.hardware.fakes import FIXTURES, FakeRunner, fixture
from tests.planner.hardware.test_live import FakeNvml, GiB, device, h100, proc

APP = str(Path(__file__).resolve().parents[3] / "app.py")
NO_NVML = FakeNvml(init_error=12)
ROCM_SMI = ("rocm-smi", "--showproductname", "--showmeminfo", "all", "--json")


def _page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("ui/pages/my_gpus.py")
    return at.run()


def _machine(monkeypatch, **kwargs):
    kwargs.setdefault("nvml", NO_NVML)
    kwargs.setdefault("run", FakeRunner())
    kwargs.setdefault("platform", "linux")
    kwargs.setdefault("root", FIXTURES / "nowhere")
    kwargs.setdefault("import_amdsmi", lambda: None)
    monkeypatch.setattr(planner.hardware, "read_machine", lambda: read_machine(**kwargs))


def test_without_a_gpu_the_page_explains_with_each_readers_answer(monkeypatch):
    _machine(monkeypatch)
    at = _page()
    assert not at.exception
    assert at.title[0].value == "My GPUs"
    assert any("expected on a hosted page" in i.value for i in at.info)
    (readers,) = at.dataframe
    assert list(readers.value["reader"]) == ["nvml", "amdsmi", "amd-smi", "rocm-smi", "sysfs", "xpu-smi"]


def test_each_nvidia_gpu_with_memory_and_processes(monkeypatch):
    nvml = FakeNvml([device(compute=[proc(4242, 3 * GiB)]), h100(compute=[proc(5, 70 * GiB)])])
    _machine(monkeypatch, nvml=nvml)
    at = _page()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert headers == ["GPU 0: NVIDIA GeForce RTX 4090", "GPU 1: NVIDIA H100 80GB HBM3"]
    totals = [m.value for m in at.metric if m.label == "Total"]
    assert totals == ["23.99 GiB", "79.65 GiB"]
    pids = [set(df.value["pid"]) for df in at.dataframe if "pid" in df.value]
    assert pids == [{4242}, {5}]
    assert any("catalog match: NVIDIA H100 SXM5 80GB" in c.value for c in at.caption)


def test_a_mac(monkeypatch):
    run = FakeRunner(
        {
            BRAND_AND_MEMORY: "Apple M3 Pro\n38654705664\n",
            WIRED_LIMIT: "0\n",
            DISPLAYS: fixture("apple/m3_pro_displays.json"),
        }
    )
    _machine(monkeypatch, run=run, platform="darwin")
    at = _page()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["Apple GPU 0: Apple M3 Pro"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Unified memory"] == "36.00 GiB"
    assert metrics["GPU limit"] == metrics["A plan starts from"] == "27.00 GiB"
    assert any(
        "approximate" in w.value for w in at.warning
    )  # the default Metal limit is a rule, not a reading
    assert any(
        "catalog match: Apple M3 Pro 36GB" in c.value and "GPU cores: 18" in c.value for c in at.caption
    )


def test_an_amd_card(monkeypatch):
    _machine(monkeypatch, run=FakeRunner({ROCM_SMI: fixture("rocm-smi/rx7900xt.json")}))
    at = _page()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["AMD GPU 0: Radeon RX 7900 XT"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total"] == "19.98 GiB" and metrics["Bandwidth"] == "800 GB/s"
    assert any(
        "catalog match: AMD Radeon RX 7900 XT" in c.value and "GFX target: gfx1100" in c.value
        for c in at.caption
    )


def test_a_strix_halo_apu(monkeypatch):
    _machine(monkeypatch, root=FIXTURES / "sysfs-strix-halo-gtt128")
    at = _page()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["AMD GPU 0: Radeon 8060S Graphics"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["GPU limit"] == "128.50 GiB" and metrics["A plan starts from"] == "120.06 GiB"
    assert any("unified memory" in c.value for c in at.caption)
