"""The measurement protocol: CUDA arithmetic with a fake device, out of memory as a result, skips, dry runs."""

import pytest

from verify import run as run_mod
from verify.backends import backend_for
from verify.build import build_random
from verify.config import RunConfig
from verify.meta_count import transformers_parameter_count
from verify.probe import HostProbe
from verify.source import build_config, resolve

torch = pytest.importorskip("torch")
MiB = 1 << 20
TINY_QWEN = RunConfig(
    model="Qwen/Qwen3-8B", format="bf16", context=16, batch=2, decode=3, device="cpu", tiny=True
)


class FakeCudaProbe(HostProbe):
    """Plays a CUDA device with fake counters while the tensors stay on the CPU."""

    device = "cuda"
    torch_device = "cpu"

    def __init__(self):
        self.nvml = [100 * MiB, 600 * MiB, 5000 * MiB]  # baseline, after init, after generate
        self.alloc = [0, 1000 * MiB]  # before / after the build, then constant
        self.calls = 0

    def nvml_used(self):
        return self.nvml.pop(0) if len(self.nvml) > 1 else self.nvml[0]

    def allocated(self):
        return self.alloc.pop(0) if len(self.alloc) > 1 else self.alloc[0]

    def peak(self):
        return 3000 * MiB

    def reserved(self):
        return 3500 * MiB

    def max_reserved(self):
        return 3600 * MiB


def test_cuda_protocol_arithmetic():
    source = resolve(TINY_QWEN.model)
    status, reason, m, _, notes = run_mod.measure(TINY_QWEN, source, backend_for("bf16"), FakeCudaProbe())
    assert (status, reason, notes) == ("ok", None, [])
    assert m.nvml_baseline == 100 * MiB and m.cuda_context == 500 * MiB
    assert m.weights == 1000 * MiB  # memory_allocated growth over the build
    # the tiny Qwen3 in bf16: 2 B for each parameter transformers' meta-device build counts
    assert m.weights_tensor_bytes == 2 * transformers_parameter_count(build_config(source, tiny=True))
    assert m.peak_allocated == 3000 * MiB and m.reserved == 3500 * MiB
    assert m.process_total == 4900 * MiB and m.overhead == 1900 * MiB
    # DynamicCache after the 16-token prefill of 2 sequences: 2 layers x 2 KV heads x 64 x (K + V) x 2 B
    assert m.kv_cache == 2 * 16 * 2 * 2 * 64 * 2 * 2 and m.generated_tokens == 3


def test_out_of_memory_is_a_result(monkeypatch):
    def oom(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(run_mod, "_generate", oom)
    source = resolve(TINY_QWEN.model)
    status, reason, m, _, _ = run_mod.measure(TINY_QWEN, source, backend_for("bf16"), FakeCudaProbe())
    assert status == "oom"
    assert reason.startswith("CUDA out of memory during generate: CUDA out of memory. Tried to allocate")
    assert m.weights == 1000 * MiB and m.allocated_at_failure == 1000 * MiB and m.peak_allocated == 3000 * MiB
    assert m.kv_cache is None


def test_other_failures_are_errors_with_the_step(monkeypatch):
    monkeypatch.setattr(run_mod, "build_random", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    status, reason, *_ = run_mod.measure(
        TINY_QWEN, resolve(TINY_QWEN.model), backend_for("bf16"), FakeCudaProbe()
    )
    assert status == "error" and reason.startswith("build failed: RuntimeError: boom")


def test_is_oom():
    assert run_mod.is_oom(torch.OutOfMemoryError("x"))
    assert run_mod.is_oom(RuntimeError("CUDA error: out of memory"))
    assert not run_mod.is_oom(RuntimeError("shape mismatch"))


def test_cuda_without_a_gpu_is_a_skip_with_the_prediction():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    record = run_mod.run(RunConfig(model="Qwen/Qwen3-8B", format="bnb-nf4", context=4096)).to_dict()
    assert record["status"] == "skipped" and record["reason"] == "CUDA is not available here"
    assert record["predicted"]["weights"] > 5 * 10**9


def test_unbuildable_format_is_a_skip_and_unknown_model_an_error():
    record = run_mod.run(RunConfig(model="Qwen/Qwen3-8B", format="awq-int4", device="cpu")).to_dict()
    assert record["status"] == "skipped" and "cannot build 'awq-int4'" in record["reason"]
    assert record["predicted"]["weights"] > 0
    record = run_mod.run(RunConfig(model="./no/such/config.json", format="bf16", device="cpu")).to_dict()
    assert record["status"] == "error" and "no such file" in record["reason"]


def test_tiny_version():
    big = RunConfig(model="m", format="bf16", context=32768, batch=8, decode=16)
    tiny = run_mod.tiny_version(big)
    assert (tiny.device, tiny.tiny, tiny.context, tiny.batch, tiny.decode) == ("cpu", True, 24, 2, 3)


def test_dry_run_checks_the_full_model_on_meta_and_a_tiny_one_on_the_cpu():
    pytest.importorskip("bitsandbytes")
    config = RunConfig(model="google/gemma-3-12b-it", format="bnb-nf4", context=8192, batch=2)
    record = run_mod.dry_run(config).to_dict()
    assert record["status"] == "dry-run" and record["measured"] == {}
    meta, tiny = record["dry_run"]["meta"], record["dry_run"]["tiny"]
    assert meta["status"] == "ok" and meta["parameters_transformers"] == meta["parameters_planner"]
    assert meta["kept_linear"] == ["lm_head"] and meta["quantized_modules"] > 400
    assert tiny["status"] == "ok" and tiny["config"]["device"] == "cpu"
    assert {k: v["abs"] for k, v in tiny["error"].items()} == {
        "weights": 0,
        "kv_cache": 0,
        "kv_cache_storage": 0,
    }


def test_random_build_on_the_probes_device():
    built = build_random(
        resolve("Qwen/Qwen3-8B").config | {"num_hidden_layers": 1}, backend_for("bf16"), "meta"
    )
    assert built.parameters > 10**9 and built.kept_linear[-1] == "lm_head"
