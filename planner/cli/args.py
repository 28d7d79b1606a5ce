"""The flags commands share, read with :mod:`planner.request`'s parsers, and the request they build.

argparse reports a parser's :class:`~planner.request.RequestError` as ``argument --flag: message``
and exits with status 2, like every other usage error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from planner.limits import DEFAULT_CONTEXT, MAX_GPUS
from planner.request import (
    PlanRequest,
    RequestError,
    parse_bytes,
    parse_fraction,
    parse_text,
    parse_tokens,
    parse_whole,
)


def flag_type(parse: Callable[[str, object], Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads with ``parse`` and reports its message under the flag's name."""

    def read(text: str) -> Any:
        try:
            return parse(name, text)
        except RequestError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    read.__name__ = name  # argparse names the type in some messages
    return read


def whole(name: str, low: int = 1, high: int = 1 << 16) -> Callable[[str], int]:
    """A whole number in ``[low, high]``."""
    return flag_type(lambda p, v: parse_whole(p, v, low, high), name)


def tokens(name: str) -> Callable[[str], int]:
    """A token count (``8192``, ``32k``)."""
    return flag_type(parse_tokens, name)


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, empty parts dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model`` and ``--offline``."""
    parser.add_argument(
        "--model",
        required=True,
        type=flag_type(parse_text, "model"),
        help="catalog id (e.g. meta-llama/Llama-3.1-8B), config.json path, or Hub id",
    )
    parser.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")


def add_run_arguments(parser: argparse.ArgumentParser, engine_help: str) -> None:
    """``--engine``, ``--context`` and ``--batch``."""
    parser.add_argument("--engine", help=engine_help)
    parser.add_argument(
        "--context",
        type=tokens("context"),
        default=DEFAULT_CONTEXT,
        help=f"tokens per sequence, e.g. 8192 or 32k (default {DEFAULT_CONTEXT})",
    )
    parser.add_argument("--batch", type=whole("batch"), default=1, help="concurrent sequences (default 1)")


def add_gpu_arguments(parser: argparse.ArgumentParser) -> None:
    """``--gpu``, ``--vram``, ``--gpus`` and ``--live``."""
    parser.add_argument(
        "--gpu",
        type=flag_type(parse_text, "gpu"),
        help="catalog GPU, e.g. 4090, 'H100 SXM', 'M3 Max 64GB' (fuzzy)",
    )
    parser.add_argument(
        "--vram",
        type=flag_type(parse_text, "vram"),
        help="memory per GPU with its unit: 24GiB (2^30) or 24GB (10^9)",
    )
    parser.add_argument("--gpus", type=whole("gpus", 1, MAX_GPUS), help="number of GPUs (default 1)")
    parser.add_argument(
        "--tensor-parallel",
        "-tp",
        type=whole("tensor-parallel", 1, MAX_GPUS),
        help="shard the model over N GPUs (vLLM, SGLang, TensorRT-LLM); sets --gpus N",
    )
    parser.add_argument(
        "--live", action="store_true", help="plan against this machine's free GPU memory (NVML)"
    )


def add_engine_knobs(parser: argparse.ArgumentParser) -> None:
    """The format options and the engines' own settings (``estimate`` only)."""
    parser.add_argument("--kv-dtype", default="auto", help="KV cache type for K and V (default: engine's)")
    parser.add_argument("--kv-dtype-k", help="KV cache type for keys (overrides --kv-dtype)")
    parser.add_argument("--kv-dtype-v", help="KV cache type for values (overrides --kv-dtype)")
    parser.add_argument(
        "--group-size",
        type=whole("group-size", -1, 1 << 20),
        help="GPTQ/AWQ/HQQ group size (default 128; -1 per channel)",
    )
    parser.add_argument("--double-quant", action="store_true", help="bitsandbytes 4-bit double quantization")
    parser.add_argument("--flash-attn", choices=["on", "off"], help="flash attention (llama.cpp -fa)")
    parser.add_argument(
        "--ubatch", type=tokens("ubatch"), help="llama.cpp physical batch n_ubatch (default 512)"
    )
    parser.add_argument(
        "--gpu-layers",
        type=whole("gpu-layers", 0, 1 << 16),
        help="llama.cpp layers on the GPU (-ngl; default all)",
    )
    parser.add_argument(
        "--gpu-memory-utilization",
        type=flag_type(parse_fraction, "gpu-memory-utilization"),
        help="vLLM memory fraction (default 0.9)",
    )
    parser.add_argument(
        "--max-num-batched-tokens",
        type=tokens("max-num-batched-tokens"),
        help="vLLM tokens per scheduler step",
    )
    parser.add_argument(
        "--max-num-seqs",
        type=whole("max-num-seqs"),
        help="vLLM requests per step (default 256; 1024 on H100-class)",
    )
    parser.add_argument(
        "--kv-cache-memory",
        type=flag_type(parse_bytes, "kv-cache-memory"),
        help="vLLM KV cache size per GPU, bytes or e.g. 20GiB (replaces the --gpu-memory-utilization budget)",
    )
    parser.add_argument("--enforce-eager", action="store_true", help="vLLM without CUDA graphs")
    parser.add_argument(
        "--mem-fraction-static",
        type=flag_type(parse_fraction, "mem-fraction-static"),
        help="SGLang share of free memory for weights + KV (default derived from the GPU)",
    )
    parser.add_argument(
        "--free-gpu-memory-fraction",
        type=flag_type(parse_fraction, "free-gpu-memory-fraction"),
        help="TensorRT-LLM share of the memory free after its dry run for the KV cache (default 0.9)",
    )


def request_from_args(args: argparse.Namespace) -> PlanRequest:
    """The :class:`PlanRequest` a command's parsed flags describe (flags a command lacks keep their defaults)."""
    values: dict[str, Any] = {}
    for name in (
        "model",
        "format",
        "engine",
        "context",
        "batch",
        "kv_dtype",
        "kv_dtype_k",
        "kv_dtype_v",
        "group_size",
        "ubatch",
        "gpu_layers",
        "gpu_memory_utilization",
        "max_num_batched_tokens",
        "max_num_seqs",
        "kv_cache_memory",
        "mem_fraction_static",
        "free_gpu_memory_fraction",
        "tensor_parallel",
        "gpu",
        "vram",
        "gpus",
    ):
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    values["double_quant"] = bool(getattr(args, "double_quant", False))
    values["live"] = bool(getattr(args, "live", False))
    values["offline"] = bool(getattr(args, "offline", False))
    values["enforce_eager"] = bool(getattr(args, "enforce_eager", False))
    flash = getattr(args, "flash_attn", None)
    if flash is not None:
        values["flash_attn"] = flash == "on"
    return PlanRequest(**values)
