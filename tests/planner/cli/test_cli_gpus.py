"""``gpus`` command (planner/cli/gpus.py): listing, lookup, JSON, live (every reader), errors."""

import argparse
import json

import pytest

from planner.cli import gpus as hw_cli
from planner.hardware.errors import AmbiguousGpuError, UnknownGpuError
from planner.hardware.gpus import gpus_by_id, load_gpus
from planner.hardware.live import LiveGpu, LiveReport


def run(argv, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    hw_cli.add_parser(sub)
    args = parser.parse_args(["gpus", *argv])
    assert args.func is hw_cli.run
    status = args.func(args)
    return status, capsys.readouterr().out


def test_list_all(capsys):
    status, out = run([], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["id", "memory"]
    assert len(lines) == len(load_gpus()) + 1
    assert any(line.startswith("rtx-4090 ") and "23.99 GiB" in line and "1008 GB/s" in line for line in lines)


def test_list_by_form_json(capsys):
    status, out = run(["--form", "apple", "--json"], capsys)
    rows = json.loads(out)
    assert status == 0 and rows
    assert {r["form"] for r in rows} == {"apple"}
    assert all(
        isinstance(r["memory_bytes"], int) and r["usable_bytes"] == r["gpu_usable_bytes"] for r in rows
    )


def test_lookup_text_and_json(capsys):
    status, out = run(["4090"], capsys)
    assert status == 0
    assert "NVIDIA GeForce RTX 4090" in out and "25,757,220,864 bytes" in out and "reported by NVML" in out
    status, out = run(["M3 Max 64GB", "--json"], capsys)
    row = json.loads(out)
    assert row["id"] == "m3-max-40c-64gb" and row["usable_bytes"] == 48 * 2**30
    assert row["supports"] == {"fp8": False, "bitsandbytes": True, "vllm": False, "llama_cpp": True}


def test_lookup_errors_are_planner_errors(capsys):
    with pytest.raises(AmbiguousGpuError):
        run(["H100"], capsys)
    with pytest.raises(UnknownGpuError):
        run(["rtx 4095"], capsys)


def _fake_report():
    gpu = LiveGpu(
        index=0,
        name="NVIDIA GeForce RTX 4090",
        uuid="GPU-1",
        total_bytes=24564 * 2**20,
        free_bytes=20 * 2**30,
        used_bytes=2**30,
        reserved_bytes=415 * 2**20,
        memory_info_version=2,
        compute_capability="8.9",
        memory_bus_width_bits=384,
        max_memory_clock_mhz=10501,
        mig_enabled=None,
        mig_devices=(),
        processes=(),
        catalog=gpus_by_id()["rtx-4090"],
    )
    return LiveReport(True, None, "580.95.05", "13.0", (gpu,))


def test_live(monkeypatch, capsys):
    monkeypatch.setattr(hw_cli, "read_live_gpus", _fake_report)
    status, out = run(["--live"], capsys)
    assert status == 0
    assert "driver 580.95.05, CUDA driver 13.0" in out and "[rtx-4090]" in out and "1008 GB/s" in out
    status, out = run(["--live", "--json"], capsys)
    data = json.loads(out)
    assert data["available"] and data["gpus"][0]["catalog_id"] == "rtx-4090"
    assert data["gpus"][0]["derived_bandwidth_bytes_per_s"] == 1_008_096_000_000
    assert data["gpus"][0]["usable_bytes"] == (24564 - 415) * 2**20


def test_live_without_gpu(monkeypatch, capsys):
    monkeypatch.setattr(
        hw_cli, "read_live_gpus", lambda: LiveReport(False, "no NVIDIA GPU detected: x", None, None, ())
    )
    status, out = run(["--live"], capsys)
    assert status == 0 and out.startswith("no GPU detected: nvml: no NVIDIA GPU detected: x; amdsmi: ")
    status, out = run(["--live", "--json"], capsys)
    data = json.loads(out)
    assert not data["available"] and data["gpus"] == [] and data["devices"] == []
    assert [r["reader"] for r in data["readers"]][:2] == ["nvml", "amdsmi"]


def test_live_reads_an_amd_card(monkeypatch, capsys):
    """The command wires read_machine; the readers themselves are tested with recorded outputs."""
    import planner.hardware.machine as machine
    from tests.planner.hardware.fakes import FIXTURES, FakeRunner, fixture

    read_machine = machine.read_machine

    nothing = LiveReport(False, "no NVIDIA GPU detected: x", None, None, ())
    rocm = FakeRunner(
        {
            ("rocm-smi", "--showproductname", "--showmeminfo", "all", "--json"): fixture(
                "rocm-smi/rx7900xt.json"
            )
        }
    )
    monkeypatch.setattr(
        machine,
        "read_machine",
        lambda nvml_report: read_machine(
            nvml_report=nvml_report,
            run=rocm,
            root=FIXTURES / "nowhere",
            platform="linux",
            import_amdsmi=lambda: None,
        ),
    )
    monkeypatch.setattr(hw_cli, "read_live_gpus", lambda: nothing)
    status, out = run(["--live", "--json"], capsys)
    data = json.loads(out)
    assert status == 0 and data["available"] and data["gpus"] == []
    (card,) = data["devices"]
    assert (card["vendor"], card["name"], card["catalog_id"]) == ("amd", "Radeon RX 7900 XT", "rx-7900-xt")
    assert card["total_bytes"] == 21458059264 and card["capacity_bytes"] == 21458059264 - 27856896
    status, out = run(["--live"], capsys)
    assert out.startswith("AMD GPU 0: Radeon RX 7900 XT  [rx-7900-xt]  (read by rocm-smi)")


def test_lookup_a_unified_machine(capsys):
    status, out = run(["DGX Spark"], capsys)
    assert status == 0
    assert (
        "GPU share:  121.69 GiB" in out
        and "OS share:   about 14.93 GiB" in out
        and "plans from: 113.07 GiB" in out
    )
