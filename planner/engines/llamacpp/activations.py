"""llama.cpp's compute buffers (``sched_reserve`` of the worst-case graph), on the GPU and the host."""

from __future__ import annotations

import functools

from planner.engines.constants import constant, empirical
from planner.engines.shape import model_shape
from planner.hardware.units import format_short
from planner.memory.estimate import RunSettings
from planner.memory.figure import Figure
from planner.memory.kv import attention_kinds
from planner.model.spec import AttentionKind, ModelSpec

SOURCE = (
    "ggml-org/llama.cpp: src/llama-model.cpp (load_tensors: i_gpu_start, input layer on CPU), "
    "src/llama-context.cpp (n_ctx padded to 256), src/llama-kv-cache.cpp, src/llama-kv-cache-iswa.cpp, "
    "src/llama-memory-recurrent.cpp; ollama/ollama fs/ggml/ggml.go GraphSize"
)


def compute_buffers(
    spec: ModelSpec,
    settings: RunSettings,
    flash: bool | None,
    ubatch: int,
    n_kv: int,
    cells: int,
    largest_cpu: int,
    partial: bool,
    ngl: int,
) -> tuple[Figure, Figure]:
    """GPU and host compute buffers (``sched_reserve`` of the worst-case graph).

    # NOTE: calibrate (llamacpp_compute_factor / llamacpp_fa_compute_factor in data/engines.json).
    # Without flash attention: ollama GraphSize for llama, max(4*ub*(4*embd + n_kv*(1 + n_head)),
    # 4*ub*(embd + vocab)) -- the f32 KQ [n_kv, ub, n_head] against the f32 logits [vocab, ub]
    # (ollama adds 1 inside the first bracket; without it the logs match to the printed 0.01 MiB).
    # With flash attention KQ is never materialized: 4*ub*4*embd + 2*ub*n_kv (f16 mask).
    # MoE / wide FFNs: 4*ub*3*ffn (gate, up, product in f32). Partial offload adds the largest
    # CPU-resident layer tensor, copied to the GPU for large batches (op offload).
    # Host: 4*ub*(embd + n_kv) (inputs incl. the f32 KQ mask; exact on the same three logs) plus
    # the output buffer (vocab x 4 B per sequence).
    """
    shape = model_shape(spec)
    ub = min(ubatch, 2048, cells * settings.batch)
    h, vocab = shape.hidden, shape.vocab
    fa = flash is not False
    has_attention = bool(attention_kinds(spec) - {AttentionKind.LINEAR, AttentionKind.NONE})
    out = 4 * ub * (h + vocab)
    if not has_attention:
        attn = 4 * ub * 4 * h
    elif fa:
        attn = 4 * ub * 4 * h + 2 * ub * n_kv
    else:
        attn = 4 * ub * (4 * h + n_kv * (1 + shape.query_heads))
    ffn = 4 * ub * 3 * max(shape.ffn, shape.top_k * shape.expert_ffn)
    base = max(out, attn, ffn)
    staging = largest_cpu if partial and ngl > 0 else 0
    factor = constant("llamacpp_fa_compute_factor" if fa and has_attention else "llamacpp_compute_factor")
    point, low, high = factor.scale(base)
    which = {out: "logits", attn: "attention", ffn: "ffn"}[base]
    parts = {which: point}
    if staging:
        parts["cpu_weights_staging"] = staging
    rule = functools.partial(
        _gpu_rule, fa, ub, n_kv, out, attn, ffn, factor.value, staging
    )  # made on first read

    gpu = empirical(
        point + staging,
        low + staging,
        high + staging,
        rule,
        keys=("context", "ubatch", "flash_attn", "hidden_size", "vocab_size", "num_attention_heads"),
        source=f"{SOURCE}; {factor.source}",
        parts=parts,
    )
    if ngl == 0:
        gpu = Figure(0, "-ngl 0: no layer on the GPU, no GPU compute buffer")
    host_inputs = 4 * ub * (h + n_kv)
    output = vocab * 4 * settings.batch
    cpu_graph = max(attn, ffn) if partial else 0
    host_parts = {"inputs": host_inputs, "output_buffer": output}
    if cpu_graph:
        host_parts["cpu_layers_graph"] = cpu_graph
    host_total = sum(host_parts.values())
    host = empirical(
        host_total,
        host_total,
        round(host_total * factor.high),
        functools.partial(_host_rule, host_inputs, settings.batch, output, cpu_graph),
        keys=("context", "ubatch", "hidden_size", "vocab_size"),
        source="llama.cpp 'CUDA_Host compute buffer size' / 'output buffer size' log lines: 168.01 MiB at n_ctx 81920 "
        "(ollama/ollama#9352), 72.01 and 12.01 MiB at 32768 / 2048 (fedora-copr/logdetective PR #106)",
        parts=host_parts,
    )
    return gpu, host


def _gpu_rule(
    fa: bool, ub: int, n_kv: int, out: int, attn: int, ffn: int, factor: float, staging: int
) -> str:
    """The GPU compute buffer's rule text."""
    attn_rule = (
        f"4*ub*4*embd + 2*ub*n_kv {format_short(attn)}"
        if fa
        else f"4*ub*(4*embd + n_kv*(1+n_head)) {format_short(attn)}"
    )
    mode = "flash attention" if fa else "no flash attention"
    return (
        f"ub {ub}, n_kv {n_kv:,}, {mode}: max(logits 4*ub*(embd+vocab) {format_short(out)}, attention {attn_rule}, "
        f"ffn 4*ub*3*ffn {format_short(ffn)})"
        + (f" x {factor:g}" if factor != 1 else "")
        + (f" + largest CPU layer tensor staged for op offload {format_short(staging)}" if staging else "")
    )


def _host_rule(host_inputs: int, batch: int, output: int, cpu_graph: int) -> str:
    """The host compute buffer's rule text."""
    return (
        f"CUDA_Host compute buffer 4*ub*(embd + n_kv) {format_short(host_inputs)} + output buffer vocab x 4 B x "
        f"{batch} {format_short(output)}"
        + (f" + CPU layers' graph {format_short(cpu_graph)}" if cpu_graph else "")
    )
