"""vLLM's weights as they sit on the GPU after loading (v0.19.0): the checkpoint share, MXFP4 padding, rotary cache.

``GPUModelRunner.load_model`` logs ``Model loading took X GiB``: the allocator's growth while the
model is built and ``process_weights_after_loading`` repacks it (``DeviceMemoryProfiler``). What
changes size in that step depends on the quantization method and the GPU generation (the kernel
backend chosen): see :func:`weights`.
"""

from __future__ import annotations

from planner.engines.shape import model_dtype
from planner.engines.tensor_parallel import rank_shares
from planner.errors import PlannerError
from planner.formats.base import QuantFormat
from planner.frozen import record
from planner.hardware.units import format_short
from planner.memory.figure import Figure
from planner.model.spec import ModelSpec, Role

SRC_MXFP4 = (
    "vllm-project/vllm vllm/model_executor/layers/quantization/mxfp4.py (get_mxfp4_backend; "
    "Mxfp4MoEMethod.create_weights pads per backend)"
)
SRC_ROPE = (
    "vllm-project/vllm vllm/model_executor/layers/rotary_embedding (RotaryEmbedding registers cos_sin_cache "
    "[max_position, rotary_dim] in the model dtype as a buffer)"
)


def mxfp4_backend(compute_capability: tuple[int, int] | None) -> str:
    """The MXFP4 MoE backend v0.19 picks with its default environment (``get_mxfp4_backend``).

    # NOTE: SM 10.x with FlashInfer (a vLLM dependency) -> FlashInfer MXFP4 x BF16; SM 9.0 ->
    # OpenAI triton_kernels (bundled; "triton_kernels are only confirmed to work on SM90 and
    # SM100"); anything else (Ampere 8.x, Ada 8.9, consumer Blackwell 12.x) -> Marlin, weight-only.
    """
    if compute_capability is None:
        return "marlin"
    if compute_capability[0] == 10:
        return "flashinfer-sm100"
    if compute_capability == (9, 0):
        return "triton"
    return "marlin"


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


#: backend -> (intermediate multiple, hidden multiple, expert biases in fp32)
_MXFP4_PADDING = {
    "marlin": (128, 256, False),
    "triton": (64, 256, True),
    "flashinfer-sm100": (256, 256, False),
    "flashinfer-sm90": (128, 128, False),
}


@record
class WeightsPlan:
    """One rank's weights as vLLM holds them after ``process_weights_after_loading``."""

    bytes: int
    checkpoint_bytes: int  # the same rank's share of the checkpoint tensors
    parts: dict[str, int]
    lines: tuple[str, ...]


def _rope_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """``cos_sin_cache``: one [max_position, rotary_dim] buffer in the model dtype (shared by the layers)."""
    rotary = max((layer.k_head_dim for layer in spec.layers if layer.k_head_dim), default=0)
    if not rotary or not spec.max_position_embeddings:
        return 0
    return spec.max_position_embeddings * rotary * dtype_bytes


def weights(
    spec: ModelSpec,
    fmt: QuantFormat,
    *,
    tp: int = 1,
    compute_capability: tuple[int, int] | None = None,
    backend: str | None = None,
) -> WeightsPlan:
    """Bytes one rank holds after loading: the checkpoint share, MXFP4 padding, the rotary cache.

    # NOTE: GPTQ/AWQ are repacked to Marlin tiles (gptq_marlin.py / awq_marlin.py
    # process_weights_after_loading: ``gptq_marlin_repack`` keeps 4 bits per weight, scales are
    # permuted in place), FP8 checkpoints stay FP8 (CUTLASS/Machete read them as stored), online
    # ``--quantization fp8`` quantizes each linear weight to FP8 with one scale (Fp8LinearMethod):
    # none of these changes the size. MXFP4 MoE weights are padded per backend before loading
    # (``Mxfp4MoEMethod.create_weights``): Marlin pads the expert intermediate size to 128 and the
    # hidden size to 256 ("n % 256 == 0 and k % 128 == 0"); the SM100 FlashInfer backends pad both
    # to 256, the SM90 FlashInfer path to 128. The Hopper Triton path pads the intermediate size to
    # 64 and its swizzled layout grows the hidden side: modelled as hidden padded to 256, which
    # gives 64.40 GiB for gpt-oss-120b against the 64.38 GiB vLLM v0.14.1 logged (issue #33155);
    # expert biases become fp32 there. Attention, embeddings and lm_head stay 16-bit.
    """
    dtype_bytes = 4 if model_dtype(fmt) == "fp32" else 2
    report = fmt.weights(spec)
    shares = rank_shares(report, spec, tp)
    checkpoint = sum(s.bytes for s in shares)
    total = checkpoint
    parts: dict[str, int] = {"checkpoint_share": checkpoint}
    lines = [f"checkpoint share on 1 of {tp} rank(s): {format_short(checkpoint)}"]
    if fmt.family == "mxfp4" or fmt.id.startswith("mxfp4"):
        chosen = backend or mxfp4_backend(compute_capability)
        if chosen not in _MXFP4_PADDING:
            raise PlannerError(
                f"unknown vLLM MXFP4 backend '{chosen:.40}'; known: {', '.join(_MXFP4_PADDING)}"
            )
        i_mult, h_mult, fp32_bias = _MXFP4_PADDING[chosen]
        grown = 0
        for s in shares:
            g = s.tensor.group
            if g.role is Role.EXPERT_GATE_UP and len(g.shape) == 2:
                i_rank, h = g.shape[0] // 2 // tp, g.shape[1]
                ratio = (_round_up(i_rank, i_mult) * _round_up(h, h_mult)) / (i_rank * h)
            elif g.role is Role.EXPERT_DOWN and len(g.shape) == 2:
                h, i_rank = g.shape[0], g.shape[1] // tp
                ratio = (_round_up(h, h_mult) * _round_up(i_rank, i_mult)) / (h * i_rank)
            elif g.role is Role.BIAS and "experts" in g.name and g.shape:
                width = g.shape[0]
                hidden = spec.hidden_size
                mult = h_mult if width == hidden else i_mult
                base = width if width == hidden else width // 2 // tp
                ratio = _round_up(base, mult) / base * (2 if fp32_bias else 1)
            else:
                continue
            grown += round(s.bytes * ratio) - s.bytes
        total += grown
        parts["mxfp4_padding"] = grown
        lines.append(
            f"MXFP4 MoE backend {chosen}: intermediate padded to {i_mult}, hidden to {h_mult}"
            + (", expert biases fp32" if fp32_bias else "")
            + f": +{format_short(grown)}"
        )
    rope = _rope_bytes(spec, dtype_bytes)
    if rope:
        total += rope
        parts["rotary_cos_sin_cache"] = rope
        lines.append(
            f"rotary cos_sin_cache {spec.max_position_embeddings:,} positions x rotary dim x {dtype_bytes} B: "
            f"{format_short(rope)}"
        )
    return WeightsPlan(total, checkpoint, parts, tuple(lines))


def weights_figure(plan: WeightsPlan) -> Figure:
    """The weights figure of a :class:`WeightsPlan` (exact: shapes and padding rules)."""
    return Figure(
        plan.bytes,
        "; ".join(plan.lines),
        keys=("format", "tensor_parallel", "gpu"),
        source=f"{SRC_MXFP4}; {SRC_ROPE}",
        parts=dict(plan.parts),
    )


__all__ = ["WeightsPlan", "mxfp4_backend", "weights", "weights_figure"]
