"""The GPU catalog: valid rows, the issue's coverage, sane figures, support rules, and name lookup."""

import json
import re
from collections import Counter
from fractions import Fraction

import pytest

from planner.errors import PlannerError
from planner.hardware.errors import AmbiguousGpuError, GpuCatalogError, UnknownGpuError
from planner.hardware.gpus import (
    FORMS,
    GPUS_PATH,
    find_gpu,
    gpus_by_id,
    load_gpus,
    match_gpu,
    read_gpus,
    search_gpus,
)

GPUS = load_gpus()
BY_ID = gpus_by_id()
MiB, GiB, T = 2**20, 2**30, 10**12

#: every GPU family the issue names, by catalog id
REQUIRED = {
    "consumer": [
        "rtx-2060", "rtx-2070", "rtx-2080", "rtx-2080-ti", "rtx-3060", "rtx-3070", "rtx-3080-10gb",
        "rtx-3080-12gb", "rtx-3090", "rtx-3090-ti", "rtx-4060", "rtx-4060-ti-16gb", "rtx-4070", "rtx-4080",
        "rtx-4090", "rtx-5060", "rtx-5070", "rtx-5080", "rtx-5090",
    ],
    "laptop": ["rtx-4060-laptop", "rtx-4070-laptop", "rtx-4080-laptop", "rtx-4090-laptop"],
    "workstation": [
        "rtx-a2000-6gb", "rtx-a2000-12gb", "rtx-a4000", "rtx-a4500", "rtx-a5000", "rtx-a6000",
        "rtx-4000-ada", "rtx-5000-ada", "rtx-6000-ada", "rtx-pro-6000-blackwell",
    ],
    "datacenter": [
        "t4", "v100-sxm2-16gb", "v100-sxm2-32gb", "a10", "a10g", "l4", "l40s", "a100-40gb-pcie",
        "a100-40gb-sxm", "a100-80gb-pcie", "a100-80gb-sxm", "h100-pcie", "h100-sxm", "h100-nvl", "h200",
        "b200", "gb200",
    ],
    "amd": ["rx-7900-xt", "rx-7900-xtx", "mi210", "mi250x", "mi300x", "mi325x"],
    "intel": ["arc-a770-16gb", "arc-b580"],
}  # fmt: skip
APPLE_CHIPS = [
    "M1", "M1 Pro", "M1 Max", "M1 Ultra", "M2", "M2 Pro", "M2 Max", "M2 Ultra",
    "M3", "M3 Pro", "M3 Max", "M3 Ultra", "M4", "M4 Pro", "M4 Max",
]  # fmt: skip
# vLLM's ROCm list (docs v0.14.0: gfx90a, gfx942, gfx950, gfx1100/1101, gfx1200/1201, gfx1150/1151); bitsandbytes
# 0.50 picks kernels for all of them (gfx9, gfx11, gfx12).
AMD_VLLM_TARGETS = {
    "gfx90a",
    "gfx942",
    "gfx950",
    "gfx1100",
    "gfx1101",
    "gfx1150",
    "gfx1151",
    "gfx1200",
    "gfx1201",
}
AMD_FP8_TARGETS = {"gfx942", "gfx950", "gfx1200", "gfx1201"}  # CDNA 3, CDNA 4, RDNA 4


# --------------------------------------------------------------------- validity and coverage


def test_catalog_size_and_forms():
    assert len(GPUS) >= 60
    forms = Counter(g.form for g in GPUS)
    assert set(forms) == set(FORMS)
    assert len(BY_ID) == len(GPUS)


@pytest.mark.parametrize(("form", "ids"), REQUIRED.items())
def test_required_families_present(form, ids):
    for gpu_id in ids:
        assert gpu_id in BY_ID, gpu_id
        assert BY_ID[gpu_id].form == form


def test_every_apple_chip_in_several_sizes():
    names = [g.name for g in GPUS if g.vendor == "apple"]
    for chip in APPLE_CHIPS:
        sizes = [n for n in names if re.match(rf"Apple {chip} (\d+-core GPU )?\d+GB$", n)]
        assert sizes, chip
    assert sum(1 for g in GPUS if g.vendor == "apple") >= 30


@pytest.mark.parametrize("gpu", GPUS, ids=lambda g: g.id)
def test_row_is_sourced_and_sane(gpu):
    assert gpu.source.count("http") >= 1
    assert gpu.memory_bytes > 0 and gpu.memory_bandwidth_bytes_per_s > 0
    assert 4 * GiB <= gpu.memory_bytes <= 512 * GiB
    assert 50 * 10**9 <= gpu.memory_bandwidth_bytes_per_s <= 10 * T
    if gpu.memory_basis == "nvml":
        assert gpu.memory_source.startswith("https://")
        assert gpu.memory_bytes % MiB == 0, "nvidia-smi totals are whole MiB"
    for value in (gpu.fp16_tensor_flops, gpu.fp8_tensor_flops, gpu.int8_tensor_ops):
        assert value is None or T <= value <= 20_000 * T
    if gpu.fp16_tensor_flops is None:
        assert gpu.note
    if gpu.fp8_tensor_flops and gpu.fp16_tensor_flops:
        assert gpu.fp8_tensor_flops >= gpu.fp16_tensor_flops
    if gpu.int8_tensor_ops and gpu.fp16_tensor_flops:
        assert gpu.int8_tensor_ops >= gpu.fp16_tensor_flops


def _nominal_gib(gpu):
    return Fraction(re.match(r"(\d+)\s*GB", gpu.memory_nominal)[1])


@pytest.mark.parametrize("gpu", GPUS, ids=lambda g: g.id)
def test_memory_bytes_against_nominal(gpu):
    """NVML totals sit below the nominal GiB (driver reserve, ECC); nominal rows are exactly it."""
    nominal = _nominal_gib(gpu) * GiB
    if gpu.memory_basis == "nominal":
        assert gpu.memory_bytes == nominal
    else:
        assert 0.9 * nominal <= gpu.memory_bytes <= nominal


def test_published_nvml_totals():
    assert BY_ID["rtx-4090"].memory_bytes == 24564 * MiB == 25_757_220_864
    assert BY_ID["h100-sxm"].memory_bytes == 81559 * MiB == 85_520_809_984
    assert BY_ID["t4"].memory_bytes == 15360 * MiB
    assert BY_ID["b200"].memory_bytes == 183359 * MiB


def test_whitepaper_figures_reproduced():
    """Derived tensor figures match NVIDIA's published tables to their rounding."""
    published = {
        ("rtx-4090", "fp16_tensor_flops"): 165.2,
        ("rtx-4090", "fp8_tensor_flops"): 330.3,
        ("rtx-4090", "int8_tensor_ops"): 660.6,
        ("rtx-4080", "fp16_tensor_flops"): 97.5,
        ("rtx-3090", "fp16_tensor_flops"): 71.0,
        ("rtx-3080-10gb", "fp16_tensor_flops"): 59.5,
        ("rtx-2080-ti", "fp16_tensor_flops"): 53.8,
        ("rtx-5090", "fp16_tensor_flops"): 209.5,
        ("rtx-5090", "int8_tensor_ops"): 838.0,
        ("rtx-a6000", "fp16_tensor_flops"): 154.8,
        ("rtx-6000-ada", "fp8_tensor_flops"): 728.5,
    }
    for (gpu_id, field), tflops in published.items():
        assert getattr(BY_ID[gpu_id], field) / T == pytest.approx(tflops, rel=0.005), (gpu_id, field)


def test_series_are_monotone():
    def ordered(ids, field):
        values = [getattr(BY_ID[i], field) for i in ids]
        assert values == sorted(values), (ids, field)

    for series in (
        ["rtx-4060", "rtx-4060-ti-16gb", "rtx-4070", "rtx-4070-super", "rtx-4070-ti", "rtx-4080", "rtx-4090"],
        ["rtx-5060", "rtx-5060-ti-16gb", "rtx-5070", "rtx-5070-ti", "rtx-5080", "rtx-5090"],
        ["rtx-3060", "rtx-3070", "rtx-3080-10gb", "rtx-3090"],
        ["rtx-4060-laptop", "rtx-4070-laptop", "rtx-4080-laptop", "rtx-4090-laptop"],
    ):
        ordered(series, "fp16_tensor_flops")
        ordered(series, "memory_bandwidth_bytes_per_s")
    ordered(
        ["v100-sxm2-16gb", "a100-40gb-sxm", "a100-80gb-sxm", "h100-sxm", "h200", "b200"],
        "memory_bandwidth_bytes_per_s",
    )
    ordered(["t4", "a100-80gb-sxm", "h100-sxm", "b200", "gb200"], "fp16_tensor_flops")
    ordered(["mi210", "mi250x", "mi300x", "mi325x"], "memory_bandwidth_bytes_per_s")
    ordered(["m4-16gb", "m4-pro-24gb", "m4-max-32c-36gb", "m4-max-40c-48gb"], "memory_bandwidth_bytes_per_s")
    assert BY_ID["rtx-4090-laptop"].fp16_tensor_flops < BY_ID["rtx-4080"].fp16_tensor_flops


# --------------------------------------------------------------------- support flags follow the rules


@pytest.mark.parametrize("gpu", GPUS, ids=lambda g: g.id)
def test_support_flags_follow_the_rules(gpu):
    s = gpu.supports
    assert s.llama_cpp
    if gpu.vendor == "nvidia":
        cc = gpu.compute_capability_tuple
        assert s.fp8 == (cc >= (8, 9))
        assert s.vllm == (cc >= (7, 5))
        assert s.bitsandbytes == (cc >= (6, 0))
        assert (gpu.fp8_tensor_flops is not None) == s.fp8 or gpu.fp16_tensor_flops is None
    elif gpu.vendor == "amd":
        assert gpu.gfx_target in AMD_VLLM_TARGETS
        assert s.vllm and s.bitsandbytes
        assert s.fp8 == (gpu.gfx_target in AMD_FP8_TARGETS)
    elif gpu.vendor == "intel":
        assert not s.fp8 and s.vllm and s.bitsandbytes
    else:
        assert gpu.unified_memory and not s.fp8 and not s.vllm and s.bitsandbytes
    assert gpu.unified_memory == (gpu.vendor == "apple" or gpu.id.startswith(("ryzen-ai-max", "dgx-spark")))
    if gpu.fp8_tensor_flops is not None:
        assert s.fp8


@pytest.mark.parametrize("gpu", [g for g in GPUS if g.vendor == "apple"], ids=lambda g: g.id)
def test_apple_gpu_share(gpu):
    """Metal's default working set: 2/3 of RAM up to 32 GiB, 3/4 above."""
    fraction = Fraction(2, 3) if gpu.memory_bytes <= 32 * GiB else Fraction(3, 4)
    assert gpu.gpu_usable_bytes == int(gpu.memory_bytes * fraction)
    assert gpu.usable_bytes == gpu.gpu_usable_bytes
    assert "recommendedMaxWorkingSetSize" in gpu.note and gpu.gpu_usable_source.count("https://") >= 3


def test_observed_working_sets():
    """The logged figures the rule comes from (llama.cpp prints MiB)."""
    assert BY_ID["m1-16gb"].gpu_usable_bytes / MiB == pytest.approx(10922.67, abs=0.01)
    assert BY_ID["m2-max-32gb"].gpu_usable_bytes / MiB == pytest.approx(21845.34, abs=0.01)
    assert BY_ID["m1-max-64gb"].gpu_usable_bytes / MiB == 49152
    assert BY_ID["m2-max-96gb"].gpu_usable_bytes / MiB == 73728
    assert BY_ID["m4-max-32c-36gb"].gpu_usable_bytes / 10**6 == pytest.approx(28991.03, abs=0.01)


# --------------------------------------------------------------------- the 2025-26 machines


def test_new_machines_reproduce_the_vendor_figures():
    """Each derived figure against the vendor's own number it was derived from."""
    # NVIDIA's laptop AI TOPS (FP4, sparse) and the RTX 5090's published ratio (3352 AI TOPS : 209.5 dense FP16)
    for gpu_id, tops, gib in (
        ("rtx-5090-laptop", 1824, 24),
        ("rtx-5080-laptop", 1334, 16),
        ("rtx-5070-ti-laptop", 992, 12),
        ("rtx-5070-laptop", 798, 8),
    ):
        gpu = BY_ID[gpu_id]
        assert gpu.fp16_tensor_flops * 16 == tops * T and gpu.int8_tensor_ops * 4 == tops * T
        assert gpu.memory_bytes == gib * GiB
    assert BY_ID["rtx-5090"].fp16_tensor_flops / T == pytest.approx(3352 / 16, rel=0.001)
    # AMD: MI355X 5 PF FP8 dense from 256 CUs x 8192 ops x 2.4 GHz; RX 9070 XT 1557 AI TOPS (INT4 sparse)
    assert BY_ID["mi355x"].fp8_tensor_flops / 10**15 == pytest.approx(5.03, abs=0.01)
    assert BY_ID["rx-9070-xt"].int8_tensor_ops * 4 == 1557 * T
    assert BY_ID["rx-9070-xt"].fp16_tensor_flops / T == pytest.approx(97.32, abs=0.01)
    assert (
        BY_ID["ryzen-ai-max-395-128gb"].memory_bandwidth_bytes_per_s == 256 * 10**9
    )  # LPDDR5X-8000 x 256 bit
    assert BY_ID["dgx-spark"].memory_bandwidth_bytes_per_s == 273 * 10**9
    assert BY_ID["mi355x"].memory_bytes == BY_ID["b300"].memory_bytes == 288 * GiB
    ordered = [
        BY_ID[i].fp16_tensor_flops
        for i in ("rtx-5070-laptop", "rtx-5070-ti-laptop", "rtx-5080-laptop", "rtx-5090-laptop")
    ]
    assert ordered == sorted(ordered)


def test_unified_machines_leave_the_os_its_share():
    spark = BY_ID["dgx-spark"]
    # CUDA's total is MemTotal (127600748 kB); a plan starts from the MemAvailable of the same reading.
    assert spark.gpu_usable_bytes == 127600748 * 1024
    assert spark.plan_bytes == 118566368 * 1024
    assert spark.shared_bytes == spark.plan_bytes
    halo = BY_ID["ryzen-ai-max-395-128gb"]
    assert halo.plan_bytes == halo.gpu_usable_bytes == 96 * GiB  # the carve-out is the GPU's own
    assert halo.shared_bytes == 120 * GiB  # the GPU's 96 and the CPU's programs' 24 GiB
    assert BY_ID["ryzen-ai-max-395-64gb"].plan_bytes == 48 * GiB
    assert (
        BY_ID["m3-max-40c-128gb"].plan_bytes == 96 * GiB
        and BY_ID["m3-max-40c-128gb"].os_reserve_bytes is None
    )
    assert (
        BY_ID["rtx-4090"].shared_bytes is None
        and BY_ID["rtx-4090"].plan_bytes == BY_ID["rtx-4090"].memory_bytes
    )


def test_device_names_shared_by_two_sizes_are_told_apart_by_memory():
    assert match_gpu("AMD Radeon 8060S Graphics") is None
    assert match_gpu("Radeon 8060S Graphics", 125 * GiB).id == "ryzen-ai-max-395-128gb"
    assert match_gpu("Radeon 8060S Graphics", 62 * GiB).id == "ryzen-ai-max-395-64gb"
    assert match_gpu("NVIDIA GB10").id == "dgx-spark"
    assert match_gpu("AMD Radeon RX 9070 XT").id == "rx-9070-xt"
    assert match_gpu("Radeon RX 7900 XT", 21458059264).id == "rx-7900-xt"


def test_discrete_usable_is_the_whole_memory():
    assert BY_ID["rtx-4090"].usable_bytes == BY_ID["rtx-4090"].memory_bytes
    assert BY_ID["rtx-4090"].gpu_usable_bytes is None


# --------------------------------------------------------------------- lookup


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("4090", "rtx-4090"),
        ("RTX 4090", "rtx-4090"),
        ("rtx-4090", "rtx-4090"),
        ("RTX4090", "rtx-4090"),
        ("geforce rtx 4090", "rtx-4090"),
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("  nvidia_geforce-RTX   4090 ", "rtx-4090"),
        ("4090 laptop", "rtx-4090-laptop"),
        ("RTX 4090 Mobile", "rtx-4090-laptop"),
        ("NVIDIA GeForce RTX 4090 Laptop GPU", "rtx-4090-laptop"),
        ("3080 12GB", "rtx-3080-12gb"),
        ("4060 Ti 16GB", "rtx-4060-ti-16gb"),
        ("H100 SXM", "h100-sxm"),
        ("h100-nvl", "h100-nvl"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("Tesla T4", "t4"),
        ("T4", "t4"),
        ("A10", "a10"),
        ("a10g", "a10g"),
        ("L4", "l4"),
        ("L40S", "l40s"),
        ("A100-SXM4-80GB", "a100-80gb-sxm"),
        ("H200", "h200"),
        ("B200", "b200"),
        ("GB200", "gb200"),
        ("A6000", "rtx-a6000"),
        ("RTX 6000 Ada", "rtx-6000-ada"),
        ("RTX PRO 6000", "rtx-pro-6000-blackwell"),
        ("7900 XTX", "rx-7900-xtx"),
        ("Radeon RX 7900 XT", "rx-7900-xt"),
        ("MI300X", "mi300x"),
        ("mi-325x", "mi325x"),
        ("Arc B580", "arc-b580"),
        ("A770", "arc-a770-16gb"),
        ("M3 Max 64GB", "m3-max-40c-64gb"),
        ("m3 max 64", "m3-max-40c-64gb"),
        ("M4 Max 36GB", "m4-max-32c-36gb"),
        ("Apple M2 Ultra 192GB", "m2-ultra-192gb"),
    ],
)
def test_find_gpu(query, expected):
    assert find_gpu(query).id == expected


@pytest.mark.parametrize("gpu", GPUS, ids=lambda g: g.id)
def test_every_id_name_and_alias_finds_its_row(gpu):
    for text in (gpu.id, gpu.name, *gpu.aliases):
        assert find_gpu(text) is gpu, text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("H100", {"h100-pcie", "h100-sxm", "h100-nvl"}),
        ("RTX 3080", {"rtx-3080-10gb", "rtx-3080-12gb"}),
        ("4060 Ti", {"rtx-4060-ti-8gb", "rtx-4060-ti-16gb"}),
        ("A100 80GB", {"a100-80gb-pcie", "a100-80gb-sxm"}),
        ("7900", {"rx-7900-xt", "rx-7900-xtx"}),
        ("M2 Max", {"m2-max-32gb", "m2-max-64gb", "m2-max-96gb"}),
    ],
)
def test_ambiguous_names_list_the_candidates(query, expected):
    with pytest.raises(AmbiguousGpuError) as info:
        find_gpu(query)
    assert set(info.value.candidates) == expected
    for gpu_id in expected:
        assert gpu_id in str(info.value)
    assert isinstance(info.value, PlannerError)


def test_ambiguous_message_is_capped():
    with pytest.raises(AmbiguousGpuError) as info:
        find_gpu("nvidia")
    assert len(info.value.candidates) > 12
    assert "more" in str(info.value)


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownGpuError) as info:
        find_gpu("rtx 4095")
    assert "NVIDIA GeForce RTX 4090" in info.value.suggestions
    assert "did you mean" in str(info.value)
    assert isinstance(info.value, PlannerError)


@pytest.mark.parametrize("query", ["", "   ", "---", "quantum abacus 9000"])
def test_unknown_name_without_suggestions(query):
    with pytest.raises(UnknownGpuError):
        find_gpu(query)


def test_search_gpus_exact_wins_over_substring():
    assert [g.id for g in search_gpus("4090")] == ["rtx-4090"]
    assert [g.id for g in search_gpus("b200")] == ["b200"]
    assert search_gpus("H20", exact_only=True) == ()


def test_match_gpu_for_live_names():
    name = "NVIDIA GeForce RTX 4060 Ti"
    assert match_gpu(name, 16380 * MiB).id == "rtx-4060-ti-16gb"
    assert match_gpu(name, 8188 * MiB).id == "rtx-4060-ti-8gb"
    assert match_gpu(name) is None  # two sizes share the name; no total to tell them apart
    assert match_gpu("NVIDIA H100 80GB HBM3", 81559 * MiB).id == "h100-sxm"
    assert match_gpu("NVIDIA A100-SXM4-80GB").id == "a100-80gb-sxm"
    assert match_gpu("Tesla V100-SXM2-32GB").id == "v100-sxm2-32gb"
    assert match_gpu("NVIDIA H20") is None  # not the H200
    assert match_gpu("NVIDIA A100-SXM4-40GB MIG 1g.5gb") is None
    assert match_gpu("") is None


# --------------------------------------------------------------------- the loader refuses bad files


def _rows():
    return json.loads(GPUS_PATH.read_text())


def _write(tmp_path, rows):
    path = tmp_path / "gpus.json"
    path.write_text(json.dumps(rows))
    return path


def test_shipped_file_is_one_list():
    assert isinstance(_rows(), list)
    assert read_gpus(GPUS_PATH) == GPUS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("memory_bytes"), "missing 'memory_bytes'"),
        (lambda r: r.update(id="RTX 4090"), "slug"),
        (lambda r: r.update(memory_bytes=-1), "positive"),
        (lambda r: r.update(memory_bytes=True), "must be int"),
        (lambda r: r.update(memory_bandwidth_bytes_per_s=1.5e12), "must be int"),
        (lambda r: r.update(form="gaming"), "'form'"),
        (lambda r: r.update(vendor="nvidea"), "'vendor'"),
        (lambda r: r.update(compute_capability=None), "compute_capability"),
        (lambda r: r.update(memory_source=None), "memory_source"),
        (lambda r: r.update(source="NVIDIA website"), "URL"),
        (lambda r: r.update(unified_memory=True), "unified-memory"),
        (lambda r: r["supports"].pop("vllm"), "supports"),
        (lambda r: r.update(fp16_tensor_flops=None, note=None), "FP16"),
        (lambda r: r.update(aliases="4090"), "aliases"),
        (lambda r: r.update(os_reserve_bytes=8 * GiB, os_reserve_source="https://x"), "os_reserve_bytes"),
    ],
)
def test_loader_rejects_bad_rows(tmp_path, change, message):
    rows = _rows()
    row = next(r for r in rows if r["id"] == "rtx-4090")
    change(row)
    with pytest.raises(GpuCatalogError, match=message):
        read_gpus(_write(tmp_path, rows))


def test_loader_rejects_duplicate_names(tmp_path):
    rows = _rows()
    next(r for r in rows if r["id"] == "rtx-4080")["aliases"].append("RTX-4090")
    with pytest.raises(GpuCatalogError, match="names both"):
        read_gpus(_write(tmp_path, rows))


@pytest.mark.parametrize("content", ["{}", "[]", "not json", '["a row"]'])
def test_loader_rejects_bad_files(tmp_path, content):
    path = tmp_path / "gpus.json"
    path.write_text(content)
    with pytest.raises(GpuCatalogError):
        read_gpus(path)


def test_loader_reports_missing_file(tmp_path):
    with pytest.raises(GpuCatalogError, match="unreadable"):
        read_gpus(tmp_path / "absent.json")


def test_readme_counts_the_catalog():
    readme = (GPUS_PATH.parent.parent / "README.md").read_text(encoding="utf-8")
    count = int(re.search(r"\(`python -m planner gpus`\): (\d+) GPUs", readme)[1])
    assert count == len(GPUS)
