"""SGLang start-up rules against python/sglang/srt/server_args.py and pool_configurator.py."""

import pytest

from planner.engines.constants import constant
from planner.engines.sglang import startup as sglang
from planner.formats.registry import parse_format
from planner.memory.estimate import SettingsError
from planner.memory.startup import ServerSettings
from planner.resolve import load_model

MIB = 1 << 20


@pytest.mark.parametrize(
    ("gpu_mem", "tp", "expected"),
    [
        # reserve = 512 + max(chunk, 2048) * 1.5 + cuda_graph_max_bs * 2 + tp / 8 * 1024; >60 GiB: >= 10 GiB
        (81559, 1, round((81559 - (512 + 8192 * 1.5 + 256 * 2 + 128)) / 81559, 3)),  # H100: 0.835
        (81559, 8, round((81559 - (512 + 8192 * 1.5 + 512 * 2 + 1024)) / 81559, 3)),  # H100 x 8
        (24564, 1, round((24564 - (512 + 2048 * 1.5 + 24 * 2 + 128)) / 24564, 3)),  # RTX 4090: 0.847
        (15360, 1, round((15360 - (512 + 2048 * 1.5 + 8 * 2 + 128)) / 15360, 3)),  # T4
        (144384, 1, round((144384 - (512 + 8192 * 1.5 + 256 * 2 + 128)) / 144384, 3)),  # H200
        (183359, 1, round((183359 - (512 + 16384 * 1.5 + 512 * 2 + 128)) / 183359, 3)),  # B200
    ],
)
def test_mem_fraction_static_when_not_given(gpu_mem, tp, expected):
    fraction, _reserved, rule = sglang.mem_fraction_static(gpu_mem, tp)
    assert fraction == expected
    assert "reserve" in rule


def test_ten_gib_floor_on_large_gpus():
    # chunked prefill 2048 and 8 graphs on an 80 GB card: 3.8 GiB, raised to 10 GiB
    fraction, reserved, rule = sglang.mem_fraction_static(
        81559, 1, chunked_prefill_size=2048, cuda_graph_max_bs=8
    )
    assert reserved == 10 * 1024 and "10 GiB floor" in rule
    assert fraction == round((81559 - 10240) / 81559, 3)


def test_pool_is_fraction_of_free_memory_less_weights():
    spec = load_model("meta-llama/Llama-3.1-8B-Instruct")
    total = 81559 * MIB
    st = sglang.startup(spec, parse_format("bf16"), total, ServerSettings(mem_fraction_static=0.8))
    free_init = total - constant("cuda_context_mib").bytes
    assert st.kv_pool_bytes == int(0.8 * free_init) - st.weights.bytes
    # cell_size = kv_heads / tp x head_dim x layers x 2 x dtype
    assert st.kv_bytes_per_token == 8 * 128 * 32 * 2 * 2
    assert st.kv_tokens == st.kv_pool_bytes // st.kv_bytes_per_token


def test_too_small_fraction_refuses_to_start():
    spec = load_model("Qwen/Qwen2.5-32B-Instruct")
    st = sglang.startup(spec, parse_format("bf16"), 81559 * MIB, ServerSettings(mem_fraction_static=0.5))
    assert not st.starts and any("increase --mem-fraction-static" in n for n in st.notes)


def test_bad_fraction_names_the_parameter():
    with pytest.raises(SettingsError, match="mem_fraction_static"):
        ServerSettings(mem_fraction_static=1.5)


def test_launch_args():
    args, _ = sglang.launch_args("Qwen/Qwen3-8B", ServerSettings(tensor_parallel=4, mem_fraction_static=0.8))
    assert args[:5] == ["python", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen3-8B"]
    assert args[args.index("--tp") + 1] == "4" and args[args.index("--mem-fraction-static") + 1] == "0.8"
