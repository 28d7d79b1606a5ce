"""vLLM (v1 engine) on one GPU.

vLLM measures instead of computing: at start-up it loads the weights, runs ``profile_run``
(a dummy forward of ``max_num_batched_tokens`` tokens and a dummy sampler over
``max_num_seqs`` requests), estimates CUDA-graph memory, and gives everything left of
``gpu_memory_utilization x total`` to KV blocks (``determine_available_memory``,
vllm/v1/worker/gpu_worker.py; ``memory_profiling``, vllm/utils/mem_utils.py).

This estimate reports what ``batch`` requests of ``context`` tokens need: the weights, the
KV blocks they occupy (16-token pages, :func:`planner.memory.kv.vllm_cache`, exact), the
profile-run activation peak and the non-torch / CUDA-graph / context overhead (banded).
How many tokens the reserved pool holds on a given GPU is the fit solver's question.
"""

from __future__ import annotations

from planner.engines import register_engine
from planner.engines.base import Engine
from planner.engines.constants import constant, default, empirical, model_dtype, model_shape
from planner.engines.transformers import ignored_settings, resolve_plain_kv, weights_figure, zero
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec, Role

SOURCE = (
    "vllm-project/vllm: vllm/v1/kv_cache_interface.py (page sizes), vllm/v1/core/kv_cache_utils.py "
    "(hybrid groups), vllm/v1/worker/gpu_worker.py + gpu_model_runner.py (profile_run, determine_available_memory), "
    "vllm/engine/arg_utils.py (get_batch_defaults)"
)


class VllmEngine(Engine):
    """vLLM v1: paged KV in 16-token blocks, ``gpu_memory_utilization`` reservation."""

    id = "vllm"
    description = "vLLM v1 engine (vllm serve), one GPU, paged KV cache"
    source = SOURCE
    kv_dtypes = ("auto", "bf16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2")

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        valid = tuple(dict.fromkeys((dtype, "bf16", "fp8", "fp8_e4m3", "fp8_e5m2")))
        k_name, v_name = resolve_plain_kv(settings, dtype, valid, self.id)
        if k_name != v_name:
            raise SettingsError(f"vLLM has one --kv-cache-dtype for K and V; got K {k_name} and V {v_name}")
        cache_t = kv.cache_type(k_name)
        state_t = kv.cache_type(dtype)  # mamba_cache_dtype / mamba_ssm_cache_dtype "auto": the model dtype
        mnbt = settings.max_num_batched_tokens or int(default(self.id, "max_num_batched_tokens"))
        max_seqs = int(default(self.id, "max_num_seqs"))
        util = settings.gpu_memory_utilization or float(default(self.id, "gpu_memory_utilization"))
        block = int(default(self.id, "block_size"))
        notes = ignored_settings(settings, self.id, ("ubatch", "gpu_layers", "flash_attn"))

        report = fmt.weights(spec)
        weights = weights_figure(report, "all on the GPU")

        layers, lines, layout = kv.vllm_cache(
            spec, cache_t, state_t, settings.context, settings.batch, mnbt, block
        )
        kv_fig = kv.cache_figure(
            layers,
            lines,
            keys=(
                "context",
                "batch",
                "kv_dtype_k",
                "max_num_batched_tokens",
                "num_key_value_heads",
                "head_dim",
            ),
            source="vLLM vllm/v1/kv_cache_interface.py (FullAttentionSpec, SlidingWindowSpec, MLAAttentionSpec, MambaSpec)",
        )
        activations = self._activations(spec, kv.cache_type(dtype), mnbt, max_seqs)
        overhead = self._overhead()

        per_seq_blocks = {
            kv.PART_NAMES[layer.kind]: layer.cells // layout.attn_block for layer in layers if layer.cells
        }
        notes.append(
            f"vLLM reserves gpu_memory_utilization x GPU memory ({util:g}) at start-up and gives what weights, "
            "activations and overhead leave to KV blocks; the KV figure is what "
            f"{settings.batch} request(s) of {settings.context:,} tokens occupy "
            f"({', '.join(f'{n} blocks/seq on {k} layers' for k, n in per_seq_blocks.items())}, "
            f"{layout.attn_block} tokens per block); the token capacity of the pool is the fit solver's question"
        )
        notes.append(
            f"profile run with max_num_batched_tokens={mnbt} and max_num_seqs={max_seqs} "
            "(vllm serve defaults on GPUs under 70 GiB; H100-class GPUs default to 8192 and 1024)"
        )
        if spec.max_position_embeddings and settings.context > spec.max_position_embeddings:
            notes.append(
                f"vLLM refuses max_model_len {settings.context:,} above the model's {spec.max_position_embeddings:,} "
                "unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"
            )
        if layout.group_size:
            notes.append(
                f"hybrid KV cache manager: layers grouped by {layout.group_size} "
                "(--disable-hybrid-kv-cache-manager charges sliding layers as full attention)"
            )
        if any(layer.attention is AttentionKind.LINEAR for layer in spec.layers):
            notes.append(
                "Mamba state in the model dtype (mamba_cache_dtype/mamba_ssm_cache_dtype auto); "
                "one page per request (mamba_cache_mode none; prefix caching 'all'/'align' keeps more)"
            )
        host_rule = (
            "vLLM v1 keeps weights, KV and activations on the GPU (no CPU swap space; preemption recomputes)"
        )
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=k_name,
            weights_report=report,
            weights=weights,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead,
            host_weights=zero(host_rule),
            host_kv_cache=zero(host_rule),
            host_activations=zero(host_rule),
            notes=tuple(notes),
        )

    # -----------------------------------------------------------------------------------------

    def _activations(self, spec: ModelSpec, act: kv.CacheType, mnbt: int, max_seqs: int) -> Figure:
        """Torch peak of ``profile_run``: dummy forward of ``mnbt`` tokens, then the dummy sampler.

        # NOTE: calibrate (vllm_activation_factor in data/engines.json).
        # Forward: residual stream [T, hidden] x 2 plus the larger of attention (q, k, v, output;
        # MLA prefill expands K and V per head) and MLP (fused gate_up [T, 2I] + act [T, I]; fused
        # MoE: [T*top_k, 2I + I + hidden] caches + router logits). Sampler (_dummy_sampler_run):
        # logits [max_num_seqs, vocab] in the model dtype, their fp32 copy, fp32 probabilities and one
        # fp32 working tensor of the top-k/top-p masking: dtype + 12 B per vocabulary entry and request
        # (the PyTorch sort path adds ~8 B more). Counted on top of the forward: the Meta-Llama-3-8B
        # profile (8192 tokens, 256 seqs) comes to 1.27 GiB against the 1.26 GiB vLLM logged.
        """
        shape = model_shape(spec)
        a = act.block_bytes
        t = mnbt
        residual = 2 * t * shape.hidden * a
        q_width = shape.query_heads * shape.head_dim
        attention = t * (2 * q_width + shape.kv_dim + shape.hidden) * a
        if shape.mla_expand:
            attention = t * (2 * q_width + 2 * shape.mla_expand + shape.hidden) * a
        mlp = 3 * t * shape.ffn * a
        moe = 0
        if shape.expert_ffn and shape.top_k:
            moe = t * (shape.n_experts * 4 + shape.top_k * (3 * shape.expert_ffn + shape.hidden) * a)
        ssm_in = [g.shape[0] for g in spec.tensors if g.role is Role.SSM_IN and len(g.shape) == 2]
        linear = 2 * t * max(ssm_in) * a if ssm_in else 0
        transient = max(attention, mlp, moe, linear)
        forward = residual + transient
        seqs = min(max_seqs, mnbt)
        sampler = seqs * shape.vocab * (a + 12) + t * shape.hidden * a
        peak = forward + sampler
        factor = constant("vllm_activation_factor")
        point, low, high = factor.scale(peak)
        which = {attention: "attention", mlp: "mlp", moe: "moe_experts", linear: "mamba_mixer"}[transient]
        scale = point / peak if peak else 1.0
        parts = {
            "residual_stream": round(residual * scale),
            which: round(transient * scale),
            "sampler": round(sampler * scale),
        }
        total = sum(parts.values())
        rule = (
            f"profile_run: {t:,}-token dummy forward (residual {kv.fmt_bytes(residual)} + max(attention "
            f"{kv.fmt_bytes(attention)}, mlp {kv.fmt_bytes(mlp)}"
            + (f", fused moe {kv.fmt_bytes(moe)}" if moe else "")
            + (f", mamba mixer {kv.fmt_bytes(linear)}" if linear else "")
            + f")) + dummy sampler over {seqs} requests x vocab {shape.vocab:,} x {a + 12} B {kv.fmt_bytes(sampler)}"
            + (f" x {factor.value:g}" if factor.value != 1 else "")
        )
        return empirical(
            total,
            low,
            high,
            rule,
            keys=("max_num_batched_tokens", "hidden_size", "intermediate_size", "vocab_size"),
            source=f"{SOURCE}; {factor.source}",
            parts=parts,
        )

    def _overhead(self) -> Figure:
        """CUDA context + non-torch allocations (NCCL, attention workspaces) + CUDA graphs.

        # NOTE: calibrate (cuda_context_mib, vllm_non_torch_mib, vllm_cudagraph_mib in data/engines.json).
        """
        ctx, nt, cg = (
            constant("cuda_context_mib"),
            constant("vllm_non_torch_mib"),
            constant("vllm_cudagraph_mib"),
        )
        point = ctx.bytes + nt.bytes + cg.bytes
        low = ctx.band_bytes[0] + nt.band_bytes[0] + cg.band_bytes[0]
        high = ctx.band_bytes[1] + nt.band_bytes[1] + cg.band_bytes[1]
        return empirical(
            point,
            low,
            high,
            f"CUDA context {ctx.value:g} MiB + non-torch memory {nt.value:g} MiB + CUDA graphs {cg.value:g} MiB "
            "(0 with --enforce-eager)",
            keys=(),
            source=f"{ctx.source}; {nt.source}; {cg.source}",
            parts={"cuda_context": ctx.bytes, "non_torch": nt.bytes, "cuda_graphs": cg.bytes},
        )


ENGINE = register_engine(VllmEngine())

__all__ = ["ENGINE", "VllmEngine"]
