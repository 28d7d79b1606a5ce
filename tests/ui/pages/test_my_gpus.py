"""My GPUs page: the plain no-GPU explanation here, and a fake NVML machine's GPUs and processes."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

import planner.hardware
from planner.hardware.live import read_live_gpus
from tests.planner.hardware.test_live import FakeNvml, GiB, device, h100, proc

APP = str(Path(__file__).resolve().parents[3] / "app.py")


def _page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("ui/pages/my_gpus.py")
    return at.run()


def test_without_a_driver_the_page_explains():
    at = _page()
    assert not at.exception
    assert at.title[0].value == "My GPUs"
    assert any("expected on a hosted page" in i.value for i in at.info)


def test_each_detected_gpu_with_memory_and_processes(monkeypatch):
    nvml = FakeNvml([device(compute=[proc(4242, 3 * GiB)]), h100(compute=[proc(5, 70 * GiB)])])
    monkeypatch.setattr(planner.hardware, "read_live_gpus", lambda: read_live_gpus(nvml))
    at = _page()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert headers == ["GPU 0: NVIDIA GeForce RTX 4090", "GPU 1: NVIDIA H100 80GB HBM3"]
    totals = [m.value for m in at.metric if m.label == "Total"]
    assert totals[0].endswith("GiB") and len(totals) == 2
    pids = [set(df.value["pid"]) for df in at.dataframe]
    assert pids == [{4242}, {5}]
    assert any("catalog match: NVIDIA H100 SXM5 80GB" in c.value for c in at.caption)
