"""llama.cpp: placement (-ngl), KV cells, cache types and the compute buffer, against published logs."""

import pytest

from planner.engines import estimate
from planner.memory.estimate import RunSettings, SettingsError

MIB, GIB = 1 << 20, 1 << 30
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def run(catalog, fmt, model=LLAMA, **settings):
    """llama.cpp at 4,096 tokens unless a test says otherwise (the figures below are derived at that context)."""
    return estimate(catalog[model].spec(), fmt, "llama.cpp", RunSettings(**{"context": 4096, **settings}))


# ---------------------------------------------------------------------------------------------
# published logs (MiB as llama.cpp prints them, %.2f)
# ---------------------------------------------------------------------------------------------


def test_ollama_9352_llama31_8b_81920_cells_no_flash_attention(catalog, gguf_f16):
    """ollama/ollama#9352 (Llama 3.1 8B, n_ctx 81920, flash_attn 0, one KV cache of 81920 cells):

    llama_kv_cache_init: CUDA0 KV buffer size = 10240.00 MiB
    llama_new_context_with_model: CUDA0 compute buffer size = 5312.00 MiB
    llama_new_context_with_model: CUDA_Host compute buffer size = 168.01 MiB
    """
    e = run(catalog, gguf_f16, context=81920, flash_attn=False)
    assert e.kv_cache.bytes == 10240 * MIB  # exact
    assert e.activations.bytes == pytest.approx(5312.00 * MIB, abs=0.005 * MIB)  # to the printed precision
    assert e.activations.band[0] <= 5312 * MIB <= e.activations.band[1]
    assert e.host_activations.parts["inputs"] == pytest.approx(168.01 * MIB, abs=0.05 * MIB)


@pytest.mark.parametrize(
    ("n_ctx", "kv_mib", "compute_mib", "host_mib"),
    [(2048, 256.00, 164.00, 12.01), (32768, 4096.00, 2144.00, 72.01)],
)
def test_logdetective_106_mistral_7b_no_flash_attention(
    catalog, gguf_f16, n_ctx, kv_mib, compute_mib, host_mib
):
    """fedora-copr/logdetective PR #106 (Mistral 7B, freq_base 1e6, n_ubatch 512, flash_attn 0):
    KV self size 256.00 / 4096.00 MiB, CUDA0 compute buffer 164.00 / 2144.00 MiB,
    CUDA_Host compute buffer 12.01 / 72.01 MiB at n_ctx 2048 / 32768."""
    e = run(catalog, gguf_f16, model="mistralai/Mistral-7B-Instruct-v0.3", context=n_ctx, flash_attn=False)
    assert e.kv_cache.bytes == kv_mib * MIB
    assert e.activations.bytes == pytest.approx(compute_mib * MIB, abs=0.005 * MIB)
    assert e.host_activations.parts["inputs"] == pytest.approx(host_mib * MIB, abs=0.05 * MIB)


def test_flash_attention_drops_the_kq_matrix(catalog, gguf_f16):
    no_fa = run(catalog, gguf_f16, context=32768, flash_attn=False)
    fa = run(catalog, gguf_f16, context=32768, flash_attn=True)
    auto = run(catalog, gguf_f16, context=32768)
    # with FA the buffer is bounded by the f32 logits of one ubatch: 4 * 512 * (4096 + 128256) = 258.5 MiB
    assert fa.activations.bytes == 4 * 512 * (4096 + 128256) == round(258.5 * MIB)
    assert auto.activations.bytes == fa.activations.bytes
    assert no_fa.activations.bytes > 8 * fa.activations.bytes
    assert not fa.activations.exact and fa.activations.source


# ---------------------------------------------------------------------------------------------
# placement
# ---------------------------------------------------------------------------------------------


def test_all_layers_offloaded_keeps_token_embd_on_the_host(catalog, gguf_f16):
    spec = catalog[LLAMA].spec()
    e = run(catalog, gguf_f16)
    embd = 128256 * 4096 * 2
    assert e.host_weights.bytes == embd  # "very little benefit to offloading the input layer"
    assert e.host_weights.parts == {"input_layer": embd}
    assert e.weights.bytes == spec.total_parameters * 2 - embd
    assert e.weights.parts["output_layer"] == embd + 4096 * 2  # output.weight + output_norm
    assert e.host_kv_cache.bytes == 0
    assert e.weights.bytes + e.host_weights.bytes == e.weights_report.total_bytes


def test_gpu_layers_counts_the_output_layer_first(catalog, gguf_f16):
    spec = catalog[LLAMA].spec()
    total = spec.total_parameters * 2
    none = run(catalog, gguf_f16, gpu_layers=0)
    assert none.weights.bytes == 0 and none.host_weights.bytes == total
    assert none.kv_cache.bytes == 0 and none.host_kv_cache.bytes == 512 * MIB
    assert none.activations.bytes == 0
    # -ngl 1: i_gpu_start = 32 + 1 - 1 = 32: only the output layer (il == n_layer) is offloaded
    one = run(catalog, gguf_f16, gpu_layers=1)
    assert one.weights.parts == {"output_layer": 128256 * 4096 * 2 + 4096 * 2}
    assert one.kv_cache.bytes == 0
    # -ngl 17: output + the last 16 repeating layers; their KV goes with them
    half = run(catalog, gguf_f16, gpu_layers=17)
    per_layer = (spec.total_parameters * 2 - 2 * 128256 * 4096 * 2 - 4096 * 2) // 32
    assert half.weights.parts["layers"] == 16 * per_layer
    assert half.kv_cache.bytes == half.host_kv_cache.bytes == 256 * MIB
    assert half.weights.bytes + half.host_weights.bytes == total
    # op offload stages the largest CPU-resident layer tensor: an FFN matrix, 14336 x 4096 in F16
    assert half.activations.parts["cpu_weights_staging"] == 14336 * 4096 * 2
    # more than n_layer + 1 is the same as all
    assert run(catalog, gguf_f16, gpu_layers=999).weights.bytes == run(catalog, gguf_f16).weights.bytes


def test_tied_embeddings_are_duplicated_as_the_output(catalog, gguf_f16):
    spec = catalog["google/gemma-3-1b-it"].spec()
    assert spec.tied_embeddings
    e = run(catalog, gguf_f16, model="google/gemma-3-1b-it")
    embd = spec.vocab_size * spec.hidden_size * 2
    assert e.host_weights.parts["input_layer"] == embd
    assert e.weights.parts["output_layer"] >= embd  # TENSOR_DUPLICATED copy on the GPU
    assert e.weights.bytes + e.host_weights.bytes == e.weights_report.total_bytes + embd


# ---------------------------------------------------------------------------------------------
# cache types and settings
# ---------------------------------------------------------------------------------------------


def test_default_cache_type_is_f16(catalog, gguf_f16):
    e = run(catalog, gguf_f16)
    assert e.kv_dtype == "fp16" and e.kv_cache.bytes == 512 * MIB


def test_q8_0_keys_and_q4_0_values(catalog, gguf_f16):
    e = run(catalog, gguf_f16, kv_dtype_k="q8_0", kv_dtype_v="q4_0", flash_attn=True)
    assert e.kv_dtype == "q8_0/q4_0"
    assert e.kv_cache.bytes == 32 * 4096 * (1024 // 32) * (34 + 18)


def test_quantized_v_needs_flash_attention(catalog, gguf_f16):
    with pytest.raises(SettingsError, match="flash attention"):
        run(catalog, gguf_f16, kv_dtype_v="q8_0", flash_attn=False)
    run(catalog, gguf_f16, kv_dtype_k="q8_0", flash_attn=False)  # a quantized K alone is fine


def test_unknown_cache_type_lists_the_valid_ones(catalog, gguf_f16):
    with pytest.raises(SettingsError, match="q8_0, q5_1, q5_0, q4_1, q4_0, iq4_nl"):
        run(catalog, gguf_f16, kv_dtype_k="fp8")


def test_parallel_sequences_each_get_padded_cells(catalog, gguf_f16):
    e = run(catalog, gguf_f16, context=1000, batch=3)
    assert e.kv_cache.bytes == 3 * 1024 * 128 * 1024  # 3 streams x pad(1000, 256) cells x 128 KiB


def test_swa_model_sizes_the_window_cache(catalog, gguf_f16):
    e = run(catalog, gguf_f16, model="openai/gpt-oss-20b", context=131072)
    assert e.kv_cache.parts["sliding"] == 12 * 768 * 8 * 64 * 2 * 2
    assert e.kv_cache.parts["full"] == 12 * 131072 * 8 * 64 * 2 * 2


def test_vllm_only_settings_are_noted_not_used(catalog, gguf_f16):
    e = run(catalog, gguf_f16, gpu_memory_utilization=0.5)
    assert any("gpu-memory-utilization" in n for n in e.notes)


def test_worked_example_llama_31_8b(catalog, gguf_f16):
    e4 = run(catalog, gguf_f16, context=4096)
    e32 = run(catalog, gguf_f16, context=32768)
    assert (e4.kv_cache.bytes, e32.kv_cache.bytes) == (512 * MIB, 4096 * MIB)
    assert e4.activations.bytes == e32.activations.bytes == round(258.5 * MIB)
    assert e32.total - e4.total == 3584 * MIB


# ---------------------------------------------------------------------------------------------
# model buffers with the real GGUF formats (skipped until planner/formats registers them)
# ---------------------------------------------------------------------------------------------


def _gguf(format_id):
    from planner.formats import parse_format

    try:
        return parse_format(format_id)
    except Exception:
        pytest.skip(f"GGUF format {format_id} not registered yet")


def test_ollama_11986_llama_70b_q8_0_model_buffers(catalog):
    """ollama/ollama#11986 (a Llama-3.x-70B Q8_0 GGUF, 80 repeating layers, all offloaded):
    'CUDA0 model buffer size = 24277.75 MiB', 'CUDA2 model buffer size = 46151.91 MiB',
    'CPU_Mapped model buffer size = 1064.62 MiB' (token_embd q8_0 stays on the CPU)."""
    e = run(catalog, _gguf("q8_0"), model="meta-llama/Llama-3.3-70B-Instruct")
    assert e.weights.bytes == pytest.approx((24277.75 + 46151.91) * MIB, abs=0.01 * MIB)
    assert e.host_weights.bytes == 128256 * 8192 * 34 // 32  # 1064.625 MiB, printed %.2f as 1064.62


def test_ollama_8361_llama31_8b_f16_total_model_buffer(catalog):
    """ollama/ollama#8361 (Llama 3.1 8B F16 GGUF; that run mapped it all on the CPU):
    'CPU_Mapped model buffer size = 15317.02 MiB' -- F16 weights plus F32 norms."""
    e = run(catalog, _gguf("gguf-f16"))
    assert e.weights.bytes + e.host_weights.bytes == pytest.approx(15317.02 * MIB, abs=0.005 * MIB)


def test_llama31_8b_q4_k_m_buffers(catalog):
    e = run(catalog, _gguf("q4_k_m"))
    # token_embd in Q4_K: 128256 x 4096 x 144 B / 256 = 281.81 MiB on the CPU
    assert e.host_weights.bytes == 128256 * 4096 * 144 // 256
    assert round(e.host_weights.bytes / MIB, 2) == 281.81
    assert round(e.weights.bytes / MIB, 2) == 4403.49
