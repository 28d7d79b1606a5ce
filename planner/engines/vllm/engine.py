"""vLLM (v1 engine) on one GPU.

vLLM measures instead of computing: at start-up it loads the weights, runs ``profile_run``
(a dummy forward of ``max_num_batched_tokens`` tokens and a dummy sampler over
``max_num_seqs`` requests), estimates CUDA-graph memory, and gives everything left of
``gpu_memory_utilization x total`` to KV blocks (``determine_available_memory``,
vllm/v1/worker/gpu_worker.py; ``memory_profiling``, vllm/utils/mem_utils.py).

This estimate reports what ``batch`` requests of ``context`` tokens need: the weights, the
KV blocks they occupy (16-token pages, :func:`planner.engines.vllm.kv.vllm_cache`, exact), the
profile-run activation peak (``activations.py``) and the non-torch / CUDA-graph / context overhead
(``overhead.py``; banded).
How many tokens the reserved pool holds on a given GPU is the fit solver's question.
"""

from __future__ import annotations

from planner.engines.base import Engine
from planner.engines.common import ignored_settings, resolve_plain_kv, weights_figure, zero
from planner.engines.constants import default
from planner.engines.registry import register_engine
from planner.engines.shape import model_dtype
from planner.engines.vllm.activations import SOURCE, activations_figure
from planner.engines.vllm.kv import vllm_cache
from planner.engines.vllm.overhead import overhead_figure
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.model.spec import AttentionKind, ModelSpec


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

        layers, lines, layout = vllm_cache(
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
        activations = activations_figure(spec, kv.cache_type(dtype), mnbt, max_seqs)
        overhead = overhead_figure()

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


ENGINE = register_engine(VllmEngine())

__all__ = ["ENGINE", "VllmEngine"]
