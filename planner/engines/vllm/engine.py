"""vLLM (V1 engine, re-derived for v0.19.0) on one GPU.

vLLM measures instead of computing: at start-up it loads the weights (repacked per quantization
method and GPU generation: ``weights.py``), runs ``profile_run`` (a dummy forward of
``max_num_batched_tokens`` tokens and a dummy sampler over ``max_num_seqs`` requests:
``activations.py``), and gives what is left of ``gpu_memory_utilization x total`` to KV blocks
(``determine_available_memory``, vllm/v1/worker/gpu_worker.py); CUDA graphs are captured afterwards
(``overhead.py``). ``startup.py`` replays that start-up on a given GPU.

This estimate reports what ``batch`` requests of ``context`` tokens need: the weights, the
KV blocks they occupy (16-token pages, :func:`planner.engines.vllm.kv.vllm_cache`, exact), the
profile-run activation peak and the non-torch / CUDA-graph / context overhead (banded).
How many tokens the reserved pool holds on a given GPU is the fit solver's question.
"""

from __future__ import annotations

import json
from typing import Any

from planner.engines.common import ignored_settings, resolve_plain_kv, zero
from planner.engines.constants import default
from planner.engines.registry import register_engine
from planner.engines.server import ServerEngine
from planner.engines.shape import model_dtype
from planner.engines.vllm import adapters
from planner.engines.vllm.activations import SOURCE, activations_figure
from planner.engines.vllm.kv import vllm_cache
from planner.engines.vllm.overhead import overhead_figure
from planner.engines.vllm.startup import VERSION, batch_defaults, launch_args, startup
from planner.engines.vllm.weights import mxfp4_backend, weights, weights_figure
from planner.formats.base import QuantFormat
from planner.memory import kv
from planner.memory.estimate import Component, MemoryEstimate, RunSettings, SettingsError
from planner.memory.startup import ServerSettings, Startup
from planner.model.spec import AttentionKind, ModelSpec


class VllmEngine(ServerEngine):
    """vLLM v1: paged KV in 16-token blocks, ``gpu_memory_utilization`` reservation."""

    id = "vllm"
    description = "vLLM v1 engine (vllm serve), one GPU, paged KV cache"
    source = SOURCE
    launch_source = (
        f"vllm-project/vllm v{VERSION} vllm/engine/arg_utils.py EngineArgs.add_cli_args (vllm serve)"
    )
    kv_dtypes = ("auto", "bf16", "fp16", "fp8", "fp8_e4m3", "fp8_e5m2")

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        dtype = model_dtype(fmt)
        valid = tuple(dict.fromkeys((dtype, "bf16", "fp8", "fp8_e4m3", "fp8_e5m2")))
        k_name, v_name = resolve_plain_kv(settings, dtype, valid, self.id)
        if k_name != v_name:
            raise SettingsError(f"vLLM has one --kv-cache-dtype for K and V; got K {k_name} and V {v_name}")
        cache_t = kv.cache_type(k_name)
        state_t = kv.cache_type(dtype)  # mamba_cache_dtype / mamba_ssm_cache_dtype "auto": the model dtype
        if settings.gpu_memory_bytes:
            d_tokens, d_seqs = batch_defaults(settings.gpu_memory_bytes, settings.gpu_name or "")
        else:
            d_tokens, d_seqs = (
                int(default(self.id, "max_num_batched_tokens")),
                int(default(self.id, "max_num_seqs")),
            )
        mnbt = settings.max_num_batched_tokens or d_tokens
        max_seqs = settings.max_num_seqs or d_seqs
        cc = _capability(settings.gpu_capability)
        util = settings.gpu_memory_utilization or float(default(self.id, "gpu_memory_utilization"))
        block = int(default(self.id, "block_size"))
        notes = ignored_settings(
            settings,
            self.id,
            ("ubatch", "gpu_layers", "flash_attn", "mem_fraction_static", "free_gpu_memory_fraction"),
        )

        report = fmt.weights(spec)
        plan = weights(spec, fmt, compute_capability=cc)
        weights_fig = weights_figure(plan)
        if "mxfp4_padding" in plan.parts and cc is None:
            notes.append(
                f"MXFP4 MoE weights padded as the {mxfp4_backend(None)} backend does (no GPU given; "
                "Hopper uses Triton, Blackwell FlashInfer: name the GPU for its backend)"
            )

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
        act_bytes = 4 if dtype == "fp32" else 2
        activations = activations_figure(spec, act_bytes, max_num_batched_tokens=mnbt, max_num_seqs=max_seqs)
        overhead = overhead_figure(enforce_eager=settings.enforce_eager)
        if settings.kv_cache_memory is not None:
            notes.append(
                f"--kv-cache-memory {settings.kv_cache_memory / (1 << 30):.2f} GiB: vLLM gives the KV cache exactly "
                "this, whatever gpu_memory_utilization says"
                + (
                    "; it is less than these requests occupy, so vLLM would refuse to start with this max_model_len"
                    if settings.kv_cache_memory < kv_fig.bytes
                    else ""
                )
            )

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
            + (
                f"(vllm serve defaults on the {settings.gpu_name})"
                if settings.gpu_memory_bytes
                and not (settings.max_num_batched_tokens and settings.max_num_seqs)
                else "(vllm serve defaults on GPUs under 70 GiB; H100-class GPUs default to 8192 and 1024)"
            )
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
            weights=weights_fig,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead,
            host_weights=zero(host_rule),
            host_kv_cache=zero(host_rule),
            host_activations=zero(host_rule),
            notes=tuple(notes),
        )

    def server_settings(self, settings: RunSettings, tensor_parallel: int = 1) -> ServerSettings:
        return server_settings(settings, tensor_parallel)

    def startup_rules(
        self,
        spec: ModelSpec,
        fmt: QuantFormat,
        device_bytes: int,
        server: ServerSettings,
        settings: RunSettings,
    ) -> Startup:
        return startup(
            spec,
            fmt,
            device_bytes,
            server,
            gpu_name=settings.gpu_name or "",
            compute_capability=_capability(settings.gpu_capability),
        )

    def launch_args(
        self, model: str, server: ServerSettings, fmt_id: str
    ) -> tuple[list[str], dict[str, Any]]:
        return launch_args(model, server, fmt_id=fmt_id)

    def draft_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        return adapters.draft_component(self, spec, settings)

    def lora_component(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> Component:
        return adapters.lora_component(spec, fmt, settings)

    def extra_argv(self, est: MemoryEstimate) -> list[str]:
        """LoRA slots (``--enable-lora``) and the draft model (``--speculative-config``) of the plan."""
        s, argv = est.settings, []
        if est.extra("lora") is not None:
            argv += [
                "--enable-lora",
                "--max-loras",
                str(s.max_loras or 1),
                "--max-lora-rank",
                str(s.lora_rank or 16),
            ]
        if est.extra("draft") is not None and s.draft is not None:
            spec_config = {"model": s.draft.ref, "num_speculative_tokens": 5}
            argv += ["--speculative-config", json.dumps(spec_config, separators=(",", ":"))]
        return argv


def _capability(text: str | None) -> tuple[int, int] | None:
    if not text or "." not in text:
        return None
    major, minor = text.split(".", 1)
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def server_settings(settings: RunSettings, tensor_parallel: int = 1) -> ServerSettings:
    """The start-up flags a plan's run settings give vLLM."""
    return ServerSettings(
        tensor_parallel=tensor_parallel,
        max_model_len=settings.context,
        kv_cache_dtype=settings.kv_dtype_k if settings.kv_dtype_k != "auto" else "auto",
        gpu_memory_utilization=settings.gpu_memory_utilization,
        max_num_batched_tokens=settings.max_num_batched_tokens,
        max_num_seqs=settings.max_num_seqs,
        kv_cache_memory=settings.kv_cache_memory,
        enforce_eager=settings.enforce_eager,
    )


ENGINE = register_engine(VllmEngine())

__all__ = ["ENGINE", "VllmEngine"]
