"""Unified memory in the fit and the offload solver: the GPU side and the host side share one memory.

Figures: DGX Spark's MemTotal/MemAvailable reading (XuehaiPan/nvitop#208), Strix Halo's 96 GB
Variable Graphics Memory and a published 8 GiB OS share (ROCm/legacy-rocm-build#6004), Metal's
working-set limit (data/gpus.json), and the recorded tool outputs in tests/fixtures/hardware.
"""

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.fit import FitError, budget_from_gpu, budget_from_live, fit_estimate, offload_plan
from planner.fit.answer import fit_answer
from planner.formats import parse_format
from planner.hardware.apple import BRAND_AND_MEMORY, DISPLAYS, WIRED_LIMIT
from planner.hardware.machine import read_machine
from planner.memory.estimate import RunSettings
from tests.planner.hardware.fakes import FIXTURES, FakeRunner, fixture
from tests.planner.hardware.test_live import NOT_SUPPORTED, FakeNvml, device

GIB, MIB = 1 << 30, 1 << 20
QWEN_235B = "Qwen/Qwen3-235B-A22B"
LLAMA_70B = "meta-llama/Llama-3.3-70B-Instruct"
SETTINGS = RunSettings(context=8192)


def plan(model, fmt, budget):
    spec = load_catalog()[model].spec()
    chosen = parse_format(fmt)
    est = estimate(spec, chosen, "llama.cpp", SETTINGS)
    return fit_answer(spec, chosen, SETTINGS, est, budget)


# ---------------------------------------------------------------------------------------------
# catalog budgets
# ---------------------------------------------------------------------------------------------


def test_dgx_spark_plans_against_what_the_os_leaves():
    budget = budget_from_gpu("DGX Spark")
    (spark,) = budget.devices
    assert spark.capacity_bytes == spark.shared_bytes == 118566368 * 1024  # MemAvailable, not 128 GiB
    assert spark.total_bytes == 128 * GIB and budget.unified
    text = " ".join(budget.notes)
    assert "share 128.00 GiB" in text and "14.93 GiB" in text and "approximate" in text


def test_strix_halo_carve_out_and_the_cpu_side():
    budget = budget_from_gpu("Strix Halo 128GB")
    (halo,) = budget.devices
    assert halo.capacity_bytes == 96 * GIB and halo.shared_bytes == 120 * GIB
    assert budget.host_room(96 * GIB) == 24 * GIB
    assert any("leaving 24.00 GiB when the GPU share is full" in n for n in budget.notes)


def test_a_gpu_allocation_given_for_a_unified_machine():
    budget = budget_from_gpu("Strix Halo 128GB", vram="62GiB")  # Linux's default GTT is about half
    (halo,) = budget.devices
    assert (halo.capacity_bytes, halo.total_bytes, halo.shared_bytes) == (62 * GIB, 128 * GIB, 120 * GIB)
    assert "GPU allocation" in budget.label
    with pytest.raises(FitError, match="cannot be set"):
        budget_from_gpu("Strix Halo 128GB", vram="200GiB")


def test_a_fitting_plan_says_how_the_shared_memory_is_split():
    answer = plan(LLAMA_70B, "q4_k_m", budget_from_gpu("DGX Spark"))
    est = answer.fit.estimate
    assert answer.fit.fits
    (line,) = [n for n in answer.fit.notes if n.startswith("unified memory: GPU side")]
    room = 118566368 * 1024 - est.total - est.host_total
    assert f"{room / GIB:.2f} GiB left for other programs" in line


def test_offloading_helps_past_a_carve_out_but_uses_the_same_memory():
    """Qwen3-235B-A22B Q3_K_M on Strix Halo: too big for the 96 GiB carve-out, fits with -ngl in the 120 GiB."""
    answer = plan(QWEN_235B, "q3_k_m", budget_from_gpu("Strix Halo 128GB"))
    assert not answer.fit.fits and not answer.fit.blockers
    offload = answer.offload
    assert offload.gpu_layers is not None and offload.host_fits is True
    gpu = offload.fit.estimate.total
    assert offload.host_ram_bytes == 120 * GIB - gpu  # what the GPU side leaves of the shared memory
    assert gpu + offload.host_bytes <= 120 * GIB
    assert any("use the same 120.00 GiB" in n for n in offload.notes)


def test_offloading_cannot_create_memory_on_a_shared_pool():
    """Qwen3-235B-A22B Q4_K_M (about 134 GiB) on a DGX Spark: 113 GiB shared, no layer split fits."""
    answer = plan(QWEN_235B, "q4_k_m", budget_from_gpu("DGX Spark"))
    assert not answer.fit.fits
    offload = answer.offload
    assert offload.host_fits is False
    assert offload.fit.estimate.total + offload.host_bytes > 118566368 * 1024
    assert any("short: mmap pages weights in from disk" in n for n in offload.notes)


def test_the_same_model_fits_the_spark_whole():
    answer = plan(QWEN_235B, "q3_k_m", budget_from_gpu("DGX Spark"))
    assert answer.fit.fits and answer.offload is None


def test_a_host_side_too_big_blocks_even_when_the_gpu_side_fits():
    """-ngl 60 of Qwen3-235B-A22B Q4_K_M on a 100 GiB allocation: the GPU side fits, GPU + host do not fit 120 GiB."""
    budget = budget_from_gpu("Strix Halo 128GB", vram="100GiB")
    spec = load_catalog()[QWEN_235B].spec()
    est = estimate(spec, parse_format("q4_k_m"), "llama.cpp", RunSettings(context=8192, gpu_layers=60))
    assert est.total <= 100 * GIB and est.total + est.host_total > 120 * GIB
    fit = fit_estimate(est, budget)
    assert not fit.fits and fit.headroom_bytes > 0
    (blocker,) = fit.blockers
    short = (est.total + est.host_total - 120 * GIB) / GIB
    assert blocker.startswith("unified memory: GPU side") and f"short by {short:.2f} GiB" in blocker


def test_given_host_ram_is_ignored_on_unified_memory():
    spec = load_catalog()[QWEN_235B].spec()
    offload = offload_plan(
        spec, parse_format("q3_k_m"), SETTINGS, budget_from_gpu("Strix Halo 128GB"), host_ram_bytes=512 * GIB
    )
    assert offload.host_ram_bytes < 30 * GIB
    assert any("host RAM given (512.00 GiB) is ignored" in n for n in offload.notes)


def test_discrete_gpus_are_unchanged():
    budget = budget_from_gpu("4090")
    assert not budget.unified and budget.host_room(10 * GIB) is None
    answer = plan(LLAMA_70B, "q4_k_m", budget)
    assert not any("unified" in n for n in answer.fit.notes)


# ---------------------------------------------------------------------------------------------
# live budgets: any reader's device
# ---------------------------------------------------------------------------------------------


def _machine(**kwargs):
    kwargs.setdefault("nvml", FakeNvml(init_error=12))
    kwargs.setdefault("run", FakeRunner())
    kwargs.setdefault("platform", "linux")
    kwargs.setdefault("root", FIXTURES / "nowhere")
    kwargs.setdefault("import_amdsmi", lambda: None)
    return read_machine(**kwargs)


def test_live_mac_plans_against_the_metal_limit():
    run = FakeRunner(
        {
            BRAND_AND_MEMORY: "Apple M3 Pro\n38654705664\n",
            WIRED_LIMIT: "0\n",
            DISPLAYS: fixture("apple/m3_pro_displays.json"),
        }
    )
    budget = budget_from_live(machine=_machine(run=run, platform="darwin"))
    (mac,) = budget.devices
    assert mac.capacity_bytes == 27 * GIB and mac.total_bytes == 27 * GIB and mac.shared_bytes == 36 * GIB
    assert mac.catalog.id == "m3-pro-36gb" and "live sysctl" in budget.label
    assert any(n.startswith("Apple GPU 0: Apple M3 Pro: approximate") for n in budget.notes)


def test_live_strix_halo_from_sysfs():
    budget = budget_from_live(machine=_machine(root=FIXTURES / "sysfs-strix-halo-gtt128"))
    (halo,) = budget.devices
    assert halo.catalog.id == "ryzen-ai-max-395-128gb"
    assert halo.capacity_bytes == (536870912 - 477102080) + 120 * GIB  # bounded by MemAvailable
    assert halo.shared_bytes == halo.capacity_bytes
    assert "live sysfs" in budget.label


def test_live_dgx_spark_through_nvml_and_meminfo():
    gb10 = device(name="NVIDIA GB10", fail={"nvmlDeviceGetMemoryInfo": NOT_SUPPORTED})
    budget = budget_from_live(machine=_machine(nvml=FakeNvml([gb10]), root=FIXTURES / "dgx-spark"))
    (spark,) = budget.devices
    assert spark.capacity_bytes == 118566368 * 1024 and spark.catalog.id == "dgx-spark"
    answer = plan(LLAMA_70B, "q4_k_m", budget)
    assert answer.fit.fits and any(n.startswith("unified memory: GPU side") for n in answer.fit.notes)


def test_live_amd_discrete_card():
    run = FakeRunner(
        {
            ("rocm-smi", "--showproductname", "--showmeminfo", "all", "--json"): fixture(
                "rocm-smi/rx7900xt.json"
            )
        }
    )
    budget = budget_from_live(machine=_machine(run=run))
    (card,) = budget.devices
    assert card.name == "AMD GPU 0: Radeon RX 7900 XT" and not card.unified
    assert card.capacity_bytes == 21458059264 - 27856896 and card.total_bytes == 21458059264


def test_live_nothing_lists_every_reader():
    with pytest.raises(FitError, match="no NVIDIA GPU detected") as caught:
        budget_from_live(machine=_machine())
    assert "xpu-smi: xpu-smi is not installed" in str(caught.value)
