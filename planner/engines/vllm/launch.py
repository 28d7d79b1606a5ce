"""The ``vllm serve`` command that enforces a vLLM plan.

Flags from vLLM's argument parser (vllm/engine/arg_utils.py EngineArgs.add_cli_args): the model
config group (``--max-model-len``, ``--quantization``, ``--dtype``), cache (``--gpu-memory-utilization``,
``--kv-cache-dtype``), parallel (``--tensor-parallel-size``), scheduler (``--max-num-seqs``,
``--max-num-batched-tokens``), LoRA (``--enable-lora``, ``--max-loras``, ``--max-lora-rank``) and
``--speculative-config`` (a JSON SpeculativeConfig). Pre-quantized checkpoints (GPTQ, AWQ,
compressed-tensors FP8/INT8, MXFP4) declare their method in config.json and need no
``--quantization``; FP8 from a 16-bit checkpoint and bitsandbytes are chosen on the command line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from planner.engines.base import Launch
from planner.engines.common import shell_command
from planner.memory.estimate import MemoryEstimate

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

SOURCE = "vllm-project/vllm vllm/engine/arg_utils.py EngineArgs.add_cli_args (vllm serve)"
#: --quantization for formats vLLM builds at load time (a 16-bit checkpoint quantized in flight).
ONLINE_QUANTIZATION = {
    "fp8": "fp8",
    "fp8-tensor": "fp8",
    "bnb-nf4": "bitsandbytes",
    "bnb-int8": "bitsandbytes",
}
DTYPES = {"fp16": "float16", "fp32": "float32"}


def vllm_launch(est: MemoryEstimate, answer: FitAnswer | None) -> Launch:
    """``vllm serve <model> --max-model-len ... --max-num-seqs ... --gpu-memory-utilization ...``."""
    s = est.settings
    argv = [
        "vllm",
        "serve",
        est.model.name,
        "--max-model-len",
        str(s.context),
        "--max-num-seqs",
        str(s.batch),
    ]
    util = s.gpu_memory_utilization
    if util is not None:
        argv += ["--gpu-memory-utilization", f"{util:g}"]
    if est.kv_dtype.startswith("fp8"):
        argv += ["--kv-cache-dtype", est.kv_dtype]
    count = answer.fit.budget.count if answer is not None else 1
    if count > 1:
        argv += ["--tensor-parallel-size", str(count)]
    notes = []
    quant = ONLINE_QUANTIZATION.get(est.format.id)
    if quant:
        argv += ["--quantization", quant]
    elif est.format.id in DTYPES:
        argv += ["--dtype", DTYPES[est.format.id]]
    elif est.format.id != "bf16":
        notes.append(
            f"{est.format.id}: serve a checkpoint already quantized this way (its config.json names the method; "
            "vLLM detects it)"
        )
    if s.max_num_batched_tokens is not None:
        argv += ["--max-num-batched-tokens", str(s.max_num_batched_tokens)]
    if est.extra("lora") is not None:
        argv += [
            "--enable-lora",
            "--max-loras",
            str(s.max_loras or 1),
            "--max-lora-rank",
            str(s.lora_rank or 16),
        ]
    if est.extra("draft") is not None and s.draft is not None:
        spec = {"model": s.draft.ref, "num_speculative_tokens": 5}
        argv += ["--speculative-config", json.dumps(spec, separators=(",", ":"))]
    return Launch(
        command=shell_command(argv), env={}, notes=tuple(notes), kind="shell", source=SOURCE, argv=tuple(argv)
    )


__all__ = ["SOURCE", "vllm_launch"]
