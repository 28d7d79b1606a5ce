"""TensorRT-LLM start-up rules against tensorrt_llm/_torch/pyexecutor/_util.py (KvCacheCreator)."""

from planner.engines.trtllm import startup as trtllm
from planner.engines.vllm import startup as vllm
from planner.formats.registry import parse_format
from planner.memory.startup import ServerSettings
from planner.resolve import load_model

GIB = 1 << 30


def test_defaults():
    assert (trtllm.FREE_FRACTION, trtllm.MAX_NUM_TOKENS, trtllm.MAX_BATCH_SIZE, trtllm.TOKENS_PER_BLOCK) == (
        0.9,
        8192,
        2048,
        32,
    )


def test_fraction_applies_to_free_memory_after_the_dry_run():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    fmt = parse_format("bf16")
    st = trtllm.startup(spec, fmt, 80 * GIB)
    peak = st.weights.bytes + st.profile_peak.bytes + st.non_torch.bytes
    # _cal_max_memory: (total - peak + allocated_bytes) * fraction (the temporary cache is in peak and added back)
    assert st.kv_pool_bytes == int((80 * GIB - peak) * 0.9)
    # 10 GiB more device memory: TensorRT-LLM gains 0.9 x 10 GiB, vLLM utilization x 10 GiB of the *total*
    more = trtllm.startup(spec, fmt, 90 * GIB)
    assert more.kv_pool_bytes - st.kv_pool_bytes == int((90 * GIB - peak) * 0.9) - int(
        (80 * GIB - peak) * 0.9
    )
    v1, v2 = vllm.startup(spec, fmt, 80 * GIB), vllm.startup(spec, fmt, 90 * GIB)
    assert v2.kv_pool_bytes - v1.kv_pool_bytes == int(90 * GIB * 0.9) - int(80 * GIB * 0.9)


def test_blocks_of_32_tokens_and_fraction_flag():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    st = trtllm.startup(spec, parse_format("bf16"), 80 * GIB, ServerSettings(free_gpu_memory_fraction=0.5))
    assert st.kv_tokens % 32 == 0
    assert st.kv_tokens == st.kv_pool_bytes // (st.kv_bytes_per_token * 32) * 32
    assert st.settings["free_gpu_memory_fraction"] == 0.5


def test_launch_args_use_trtllm_serve_options():
    # trtllm-serve options (nvidia.github.io/TensorRT-LLM commands/trtllm-serve): --tp_size, --max_seq_len,
    # --kv_cache_free_gpu_memory_fraction, --backend pytorch
    args, _ = trtllm.launch_args("Qwen/Qwen3-8B", ServerSettings(tensor_parallel=2, max_model_len=8192))
    assert args[:4] == ["trtllm-serve", "Qwen/Qwen3-8B", "--backend", "pytorch"]
    assert args[args.index("--tp_size") + 1] == "2"
    assert args[args.index("--kv_cache_free_gpu_memory_fraction") + 1] == "0.9"
