"""GPU budgets: catalog, custom size (units honoured) and live NVML; each engine's margin; absurd input."""

from types import SimpleNamespace

import pytest

from planner.catalog import load_catalog
from planner.engines import estimate
from planner.engines.constants import constant
from planner.errors import PlannerError
from planner.fit import (
    MAX_GPUS,
    FitError,
    budget_from_gpu,
    budget_from_live,
    budget_from_size,
    charged_bytes,
)
from planner.formats import parse_format
from planner.hardware import find_gpu
from planner.memory.estimate import RunSettings

MIB, GIB = 1 << 20, 1 << 30


class FakeNVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


class FakeNvml:
    """The few pynvml calls ``read_live_gpus`` needs; every other call is absent (read as unsupported)."""

    NVMLError = FakeNVMLError

    def __init__(self, devices=(), init_error=None):
        self.devices = list(devices)
        self.init_error = init_error

    def nvmlInit(self):
        if self.init_error is not None:
            raise FakeNVMLError(self.init_error)

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.devices[index]

    def nvmlDeviceGetName(self, handle):
        return handle["name"]

    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        return SimpleNamespace(
            total=handle["total"], free=handle["free"], used=handle["total"] - handle["free"], reserved=0
        )


def gpu_4090(free):
    return {"name": "NVIDIA GeForce RTX 4090", "total": 24564 * MIB, "free": free}


# ---------------------------------------------------------------------------------------------
# where budgets come from
# ---------------------------------------------------------------------------------------------


def test_catalog_gpu_uses_the_nvml_total_and_keeps_the_gpu():
    card = find_gpu("4090")
    budget = budget_from_gpu("rtx 4090", count=2)
    assert budget.count == 2 and budget.source == "catalog"
    assert budget.capacity_bytes == 2 * card.memory_bytes == 2 * 24564 * MIB
    assert budget.gpu is card
    assert budget.names == (f"GPU 0: {card.name}", f"GPU 1: {card.name}")  # numbered as NVML numbers them
    assert "2 x NVIDIA GeForce RTX 4090" in budget.label


def test_vram_overrides_a_catalog_gpus_memory_but_keeps_its_identity():
    budget = budget_from_gpu("4090", vram="20GiB")
    assert budget.devices[0].capacity_bytes == budget.devices[0].total_bytes == 20 * GIB
    assert budget.gpu is find_gpu("4090")
    assert budget.source == "custom"


def test_unified_memory_plans_against_the_gpu_share():
    card = find_gpu("m1-max-64gb")
    device = budget_from_gpu(card).devices[0]
    assert (device.capacity_bytes, device.total_bytes) == (card.gpu_usable_bytes, card.memory_bytes)


@pytest.mark.parametrize(
    ("text", "expected"), [("24GB", 24 * 10**9), ("24GiB", 24 * GIB), ("24 gib", 24 * GIB)]
)
def test_custom_sizes_honour_units(text, expected):
    budget = budget_from_size(text)
    assert budget.capacity_bytes == expected
    assert budget.gpu is None


def test_24gb_and_24gib_differ_by_the_decimal_binary_gap():
    assert (
        budget_from_size("24GiB").capacity_bytes - budget_from_size("24GB").capacity_bytes
        == 24 * GIB - 24 * 10**9
    )


@pytest.mark.parametrize("size", ["0GB", "-1GiB", "24g", "2PiB", "lots", 0])
def test_absurd_sizes_are_refused(size):
    with pytest.raises(PlannerError):
        budget_from_size(size)


@pytest.mark.parametrize("count", [0, -1, MAX_GPUS + 1, True, 2.5])
def test_absurd_gpu_counts_are_refused(count):
    with pytest.raises(FitError):
        budget_from_gpu("4090", count=count)


def test_unknown_gpu_is_a_planner_error():
    with pytest.raises(PlannerError, match="no GPU in the catalog"):
        budget_from_gpu("GeForce 99999 Ultra")


# ---------------------------------------------------------------------------------------------
# live
# ---------------------------------------------------------------------------------------------


def test_live_uses_free_memory_and_matches_the_catalog():
    budget = budget_from_live(nvml=FakeNvml([gpu_4090(20 * GIB)]))
    device = budget.devices[0]
    assert (device.capacity_bytes, device.total_bytes) == (20 * GIB, 24564 * MIB)
    assert budget.source == "live" and budget.gpu is find_gpu("4090")
    assert "20.00 GiB free" in budget.label


def test_live_plans_on_the_first_gpu_unless_asked_for_more():
    nvml = FakeNvml([gpu_4090(20 * GIB), gpu_4090(10 * GIB)])
    one = budget_from_live(nvml=nvml)
    assert one.count == 1 and any("2 GPUs found" in n for n in one.notes)
    two = budget_from_live(count=2, nvml=nvml)
    assert two.capacity_bytes == 30 * GIB
    with pytest.raises(FitError, match="asked for 3 GPUs"):
        budget_from_live(count=3, nvml=nvml)


@pytest.mark.parametrize(
    "nvml",
    [FakeNvml([]), FakeNvml(init_error=12), FakeNvml(init_error=9)],
    ids=["no devices", "no library", "no driver"],
)
def test_live_without_a_gpu_is_a_clean_error(nvml):
    with pytest.raises(FitError, match="no NVIDIA GPU"):
        budget_from_live(nvml=nvml)


def test_live_without_pynvml_is_a_clean_error(monkeypatch):
    import planner.hardware.live as live

    monkeypatch.setattr(live, "_import_pynvml", lambda: None)
    with pytest.raises(FitError, match="no NVIDIA GPU"):
        budget_from_live()


# ---------------------------------------------------------------------------------------------
# engine margins
# ---------------------------------------------------------------------------------------------


def test_llamacpp_keeps_its_fit_target_free_on_every_device():
    budget = budget_from_size("24GiB", count=2)
    allowance = budget.allowance("llama.cpp")
    assert allowance.margin_bytes == (1024 * MIB, 1024 * MIB)
    assert allowance.usable_bytes == (23 * GIB, 23 * GIB)
    assert "--fit-target" in allowance.rule and "fit_params_target" in allowance.source


def test_a_gpu_smaller_than_the_margin_has_nothing_usable():
    assert budget_from_size("512MiB").allowance("llama.cpp").usable_bytes == (0,)


@pytest.mark.parametrize(("util", "expected"), [(None, 0.9), (0.5, 0.5)])
def test_vllm_may_use_utilization_times_total(util, expected):
    budget = budget_from_size("80GiB")
    allowance = budget.allowance("vllm", RunSettings(gpu_memory_utilization=util))
    assert allowance.usable_bytes == (int(80 * GIB * expected),)
    assert not allowance.blockers


def test_vllm_refuses_to_start_when_its_pool_leaves_no_room_for_the_cuda_context():
    allowance = budget_from_size("24GiB").allowance("vllm", RunSettings(gpu_memory_utilization=1.0))
    assert allowance.blockers and "refuse to start" in allowance.blockers[0]


def test_vllm_live_pool_is_a_share_of_the_total_and_needs_that_much_free():
    busy = budget_from_live(nvml=FakeNvml([gpu_4090(12 * GIB)]))
    allowance = busy.allowance("vllm")
    assert allowance.blockers, "12 GiB free is less than 0.9 x 24 GiB: vLLM would not start"
    idle = budget_from_live(nvml=FakeNvml([gpu_4090(24000 * MIB)]))
    assert idle.allowance("vllm").usable_bytes == (int(24564 * MIB * 0.9),)
    assert not idle.allowance("vllm").blockers


def test_transformers_margin_is_the_stated_constant():
    allowance = budget_from_size("24GiB").allowance("transformers")
    assert allowance.margin_bytes == (0,)
    assert allowance.usable_bytes == (24 * GIB,)
    assert allowance.notes and "no free-memory margin" in allowance.notes[0]


def test_unknown_engine_has_no_margin_rule():
    with pytest.raises(FitError):
        budget_from_size("24GiB").allowance("tensorrt")


def test_vllm_charges_everything_but_the_cuda_context_and_graphs():
    # gpu_worker.py v0.19: the init snapshot follows the CUDA context; capture_model runs after the KV cache
    spec = load_catalog()["meta-llama/Llama-3.1-8B-Instruct"].spec()
    est = estimate(spec, parse_format("bf16"), "vllm", RunSettings())
    parts = est.overhead.parts
    assert charged_bytes(est) == est.total - parts["cuda_context"] - parts["cuda_graphs"]
    eager = estimate(spec, parse_format("bf16"), "vllm", RunSettings(enforce_eager=True))
    assert eager.overhead.parts["cuda_graphs"] == 0
    assert charged_bytes(eager) == eager.total - eager.overhead.parts["cuda_context"]
    other = estimate(spec, parse_format("bf16"), "transformers", RunSettings())
    assert charged_bytes(other) == other.total


def test_sglang_allowance_is_mem_fraction_static_of_free_memory():
    from planner.engines.sglang.startup import mem_fraction_static

    budget = budget_from_gpu("h100-sxm")
    d = budget.devices[0]
    context = constant("cuda_context_mib").bytes
    derived, _, _ = mem_fraction_static(d.total_bytes // (1 << 20), 1)  # server_args.py, 0.835 on 80 GB
    assert budget.allowance("sglang", RunSettings()).usable_bytes == (
        int(derived * (d.capacity_bytes - context)),
    )
    given = budget.allowance("sglang", RunSettings(mem_fraction_static=0.7))
    assert given.usable_bytes == (int(0.7 * (d.capacity_bytes - context)),)
    spec = load_catalog()["meta-llama/Llama-3.1-8B-Instruct"].spec()
    est = estimate(spec, parse_format("bf16"), "sglang", RunSettings())
    assert charged_bytes(est) == est.weights.bytes + est.kv_cache.bytes  # activations live in the rest


def test_trtllm_charges_kv_over_the_fraction_of_free_memory():
    budget = budget_from_gpu("h100-sxm")
    allowance = budget.allowance("trtllm", RunSettings())
    assert allowance.usable_bytes == (budget.devices[0].capacity_bytes,) and "free" in allowance.rule
    spec = load_catalog()["meta-llama/Llama-3.1-8B-Instruct"].spec()
    est = estimate(spec, parse_format("bf16"), "trtllm", RunSettings(free_gpu_memory_fraction=0.5))
    # _cal_max_memory: kv = (total - peak) x fraction  <=>  peak + kv / fraction <= total
    assert (
        charged_bytes(est)
        == est.weights.bytes + est.activations.bytes + est.overhead.bytes + 2 * est.kv_cache.bytes
    )


def test_vllm_kv_cache_memory_replaces_the_utilization_budget():
    budget = budget_from_gpu("h100-sxm")
    d = budget.devices[0]
    allowance = budget.allowance("vllm", RunSettings(kv_cache_memory=10 << 30, enforce_eager=True))
    assert allowance.usable_bytes == (d.capacity_bytes - constant("cuda_context_mib").bytes,)
    assert "--kv-cache-memory" in allowance.rule


def test_live_free_above_total_is_refused_with_the_reason():
    with pytest.raises(FitError, match=r"contradict each other \(free .* is above total") as caught:
        budget_from_live(nvml=FakeNvml([gpu_4090(30 * GIB)]))
    assert "none reported its memory" in str(caught.value)
