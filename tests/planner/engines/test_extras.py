"""Parts beyond the language model as their own components: the mmproj, a draft model, LoRA adapters.

Hand derivations from each engine's source (cited in the modules): llama.cpp's ``--lora`` adapter
holds ``lora_a [rank, in]`` and ``lora_b [out, rank]`` per targeted linear in F32
(convert_lora_to_gguf.py ``--outtype`` default); vLLM's ``create_lora_weights`` keeps
``max_loras`` stacked slots with one ``lora_a`` per slice of a fused projection, in the model dtype;
a draft model holds its own weights and KV cache for the same slots and context.
"""

import json

import pytest

from planner.engines import estimate
from planner.fit.answer import estimate_json
from planner.formats import parse_format
from planner.hardware.units import MIB
from planner.memory.estimate import DraftModel, RunSettings, SettingsError

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
#: Llama 3.1 8B, rank 16: q 16x(4096+4096), k and v 16x(4096+1024), o 16x(4096+4096), gate/up/down 16x(4096+14336)
LLAMA_LORA_ELEMENTS_PER_LAYER = 2 * 16 * 8192 + 2 * 16 * 5120 + 3 * 16 * 18432


@pytest.fixture(scope="module")
def q4():
    return parse_format("q4_k_m")


def test_llamacpp_lora_adapters(catalog, q4):
    assert LLAMA_LORA_ELEMENTS_PER_LAYER == 1_310_720
    est = estimate(catalog[LLAMA].spec(), q4, "llama.cpp", RunSettings(lora_rank=16, max_loras=2))
    lora = est.extra("lora")
    assert lora.gpu.bytes == 2 * 32 * LLAMA_LORA_ELEMENTS_PER_LAYER * 4 == 320 * MIB
    assert (
        est.total
        == est.weights.bytes
        + est.kv_cache.bytes
        + est.activations.bytes
        + est.overhead.bytes
        + lora.gpu.bytes
    )
    # layers left on the CPU (-ngl) keep their adapters in host memory
    partial = estimate(catalog[LLAMA].spec(), q4, "llama.cpp", RunSettings(lora_rank=16, gpu_layers=17))
    assert partial.extra("lora").host.bytes == 16 * LLAMA_LORA_ELEMENTS_PER_LAYER * 4


def test_vllm_lora_slots_count_fused_slices(catalog):
    bf16 = parse_format("bf16")
    llama = estimate(catalog[LLAMA].spec(), bf16, "vllm", RunSettings(lora_rank=16, max_loras=4))
    assert llama.extra("lora").gpu.bytes == 4 * 32 * LLAMA_LORA_ELEMENTS_PER_LAYER * 2
    # Phi-3-mini: fused qkv_proj [9216, 3072] has 3 lora_a slices, gate_up_proj [16384, 3072] 2
    phi = estimate(
        catalog["microsoft/Phi-3-mini-4k-instruct"].spec(), bf16, "vllm", RunSettings(lora_rank=16)
    )
    per_layer = (
        (3 * 16 * 3072 + 9216 * 16) + 16 * (3072 + 3072) + (2 * 16 * 3072 + 16384 * 16) + 16 * (8192 + 3072)
    )
    assert phi.extra("lora").gpu.bytes == 32 * per_layer * 2


def test_lora_is_refused_where_it_is_not_modelled(catalog):
    with pytest.raises(SettingsError, match="LoRA adapters are modelled for"):
        estimate(catalog[LLAMA].spec(), parse_format("bf16"), "transformers", RunSettings(lora_rank=8))


def test_llamacpp_draft_model(catalog, q4):
    draft_spec = catalog["meta-llama/Llama-3.2-1B-Instruct"].spec()
    run = RunSettings(
        context=4096, batch=2, draft=DraftModel(draft_spec, q4, "meta-llama/Llama-3.2-1B-Instruct")
    )
    est = estimate(catalog[LLAMA].spec(), q4, "llama.cpp", run)
    draft = est.extra("draft")
    # its own cache for the same 2 slots x 4096 cells: 16 layers x 8 KV heads x 64 x (K + V) x 2 B (f16)
    assert draft.gpu.parts["draft_kv_cache"] == 2 * 4096 * 16 * 8 * 64 * 2 * 2 == 256 * MIB
    assert draft.gpu.parts["draft_compute_buffer"] > 0
    # the draft's input layer stays on the CPU like any llama.cpp model's
    assert draft.host.parts["draft_weights"] > 0
    alone = estimate(catalog[LLAMA].spec(), q4, "llama.cpp", RunSettings(context=4096, batch=2))
    assert est.total == alone.total + draft.gpu.bytes
    assert est.host_total == alone.host_total + draft.host.bytes


def test_vocab_mismatch_is_said(catalog, q4):
    other = catalog["Qwen/Qwen2.5-0.5B-Instruct"].spec()
    run = RunSettings(draft=DraftModel(other, q4, "Qwen/Qwen2.5-0.5B-Instruct"))
    est = estimate(catalog[LLAMA].spec(), q4, "llama.cpp", run)
    assert "vocabulary" in est.extra("draft").gpu.rule


def test_mmproj_is_its_own_component(catalog, q4):
    spec = catalog["google/gemma-3-4b-it"].spec()
    with_tower = estimate(spec, q4, "llama.cpp", RunSettings())
    mm = with_tower.extra("mmproj")
    tower = sum(t.bytes for t in q4.weights(spec).tensors if t.group.role.value in ("vision", "projector"))
    assert mm.gpu.parts["mmproj_weights"] == tower
    assert "mmproj" not in with_tower.weights.parts
    text_only = estimate(spec, q4, "llama.cpp", RunSettings(mmproj=False))
    assert text_only.extra("mmproj") is None
    assert with_tower.total - text_only.total == mm.gpu.bytes
    with pytest.raises(SettingsError, match="no vision tower"):
        estimate(catalog[LLAMA].spec(), q4, "llama.cpp", RunSettings(mmproj=True))


def test_clip_buffer_with_and_without_flash_attention(catalog, q4):
    spec = catalog["google/gemma-3-4b-it"].spec()
    fa = estimate(spec, q4, "llama.cpp", RunSettings(flash_attn=True)).extra("mmproj").gpu.parts
    no_fa = estimate(spec, q4, "llama.cpp", RunSettings(flash_attn=False)).extra("mmproj").gpu.parts
    # SigLIP at 896 px / 14: 4096 patches, 1152 wide, 16 heads, MLP 4304
    assert fa["clip_compute_buffer"] == 4 * 4096 * (4304 + 1152)
    assert no_fa["clip_compute_buffer"] == 4 * 4096 * 4096 * 16 + 4 * 4096 * 4 * 1152


def test_json_has_the_new_keys_and_keeps_the_old(catalog, q4):
    spec = catalog["google/gemma-3-4b-it"].spec()
    doc = json.loads(json.dumps(estimate_json(estimate(spec, q4, "llama.cpp", RunSettings()))))
    mem = doc["memory"]
    for key in ("weights", "kv_cache", "activations", "overhead", "total", "total_low", "total_high"):
        assert key in mem
    assert mem["mmproj"] > 0 and mem["draft"] == 0 and mem["lora"] == 0
    assert mem["total"] == sum(
        mem[k] for k in ("weights", "kv_cache", "activations", "overhead", "mmproj", "draft", "lora")
    )
    assert doc["explain"]["mmproj"]["parts"]["mmproj_weights"] > 0
    assert doc["host_memory"]["mmproj"] == 0
    assert doc["launch"]["command"].startswith("llama-server")
