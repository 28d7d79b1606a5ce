"""llama.cpp (llama-server / llama-cli, CUDA backend) and the Ollama runner that wraps it.

Placement follows ``llama_model::load_tensors`` (src/llama-model.cpp):

* the input layer (``token_embd``) always stays on the CPU: "there is very little benefit
  to offloading the input layer, so always keep it on the CPU";
* ``i_gpu_start = max(n_layer + 1 - n_gpu_layers, 0)``: layers ``il >= i_gpu_start`` go to the
  GPU, counted from the tail, and the output layer (``il == n_layer``: ``output.weight`` and
  ``output_norm``) is the first one offloaded (``-ngl 1`` offloads only the output); the
  default ``n_gpu_layers = -1`` means ``n_layer + 1``, everything;
* a tied model has no ``output.weight``: llama.cpp loads ``token_embd`` a second time as the
  output (``TENSOR_DUPLICATED``), so it is on the host *and* on the GPU;
* the KV cache of a layer lives with that layer (``offload_kqv``, default on).

KV: :func:`planner.memory.kv.llamacpp_cache` (exact). Compute buffer: the ollama
``GraphSize`` formula (exact on three published non-flash-attention logs) and a flash-attention
variant (banded). Overhead: CUDA context and scheduler (banded).
"""

from __future__ import annotations

from planner.engines import register_engine
from planner.engines.base import Engine
from planner.engines.constants import constant, default, default_source, empirical, model_shape
from planner.engines.transformers import ignored_settings, zero
from planner.formats.base import QuantFormat, WeightsReport
from planner.memory import kv
from planner.memory.estimate import MemoryEstimate, RunSettings, SettingsError
from planner.memory.figure import Figure
from planner.model.spec import AttentionKind, ModelSpec, Role

SOURCE = (
    "ggml-org/llama.cpp: src/llama-model.cpp (load_tensors: i_gpu_start, input layer on CPU), "
    "src/llama-context.cpp (n_ctx padded to 256), src/llama-kv-cache.cpp, src/llama-kv-cache-iswa.cpp, "
    "src/llama-memory-recurrent.cpp; ollama/ollama fs/ggml/ggml.go GraphSize"
)
KV_TYPES = ("fp32", "fp16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl")
INPUT_ROLES = frozenset({Role.EMBEDDING, Role.POSITION_EMBEDDING})
MMPROJ_ROLES = frozenset({Role.VISION, Role.PROJECTOR})


class LlamaCppEngine(Engine):
    """llama.cpp with the CUDA backend: ``-ngl``, ``-fa``, ``-ctk/-ctv``, ``-ub``, ``-np``."""

    id = "llama.cpp"
    description = "llama.cpp / llama-server (and Ollama's runner), CUDA backend, GGUF weights"
    source = SOURCE
    kv_dtypes = ("auto", *KV_TYPES)

    def estimate(self, spec: ModelSpec, fmt: QuantFormat, settings: RunSettings) -> MemoryEstimate:
        k_type, v_type, flash = self._resolve(settings)
        ubatch = settings.ubatch or int(default(self.id, "n_ubatch"))
        n_layer = spec.num_layers
        ngl = n_layer + 1 if settings.gpu_layers is None else min(settings.gpu_layers, n_layer + 1)
        i_gpu_start = max(n_layer + 1 - ngl, 0)
        output_on_gpu = ngl >= 1
        notes = ignored_settings(settings, self.id, ("gpu_memory_utilization", "max_num_batched_tokens"))

        report = fmt.weights(spec)
        weights, host_weights, largest_cpu = self._weights(spec, report, i_gpu_start, output_on_gpu, ngl)

        layers, lines = kv.llamacpp_cache(spec, k_type, v_type, settings.context, settings.batch, ubatch)
        gpu_layers = tuple(layer for layer in layers if layer.index >= i_gpu_start)
        cpu_layers = tuple(layer for layer in layers if layer.index < i_gpu_start)
        keys = ("context", "batch", "kv_dtype_k", "kv_dtype_v", "ubatch", "num_key_value_heads", "head_dim")
        src = "llama.cpp src/llama-kv-cache.cpp (K/V rows per cell), src/llama-kv-cache-iswa.cpp (SWA cells), src/llama-memory-recurrent.cpp (F32 r/s)"
        kv_fig = kv.cache_figure(
            gpu_layers,
            lines if not cpu_layers else [*lines, f"layers {i_gpu_start}+ on the GPU"],
            keys=keys,
            source=src,
        )
        host_kv = kv.cache_figure(
            cpu_layers,
            [f"KV of the {len(cpu_layers)} layers kept on the CPU (-ngl {ngl})"] if cpu_layers else [],
            keys=keys,
            source=src,
        )
        if not cpu_layers:
            host_kv = zero("every layer's KV cache is on the GPU (offload_kqv)")

        cells = kv.llamacpp_cells(settings.context)
        n_kv = max((layer.cells for layer in layers if layer.cells), default=0)
        activations, host_act = self._compute(
            spec, settings, flash, ubatch, n_kv, cells, largest_cpu, bool(cpu_layers), ngl
        )
        overhead = self._overhead()

        if flash is None:
            notes.append(
                "flash attention left on auto: assumed enabled (CUDA supports it for these head sizes)"
            )
        notes.append(
            f"KV for {settings.batch} sequence stream(s) of pad({settings.context:,}, 256) = {cells:,} cells "
            "(-np batch, non-unified); a unified cache (-kvu) pads batch x context once instead"
        )
        notes.append(
            "host weights are memory-mapped from the GGUF file (mmap): page cache, not necessarily resident"
        )
        if any(t.group.role in MMPROJ_ROLES for t in report.tensors):
            notes.append(
                "vision tower/projector counted on the GPU (llama.cpp loads the mmproj file offloaded by default)"
            )
        if any(layer.attention is AttentionKind.MLA for layer in spec.layers):
            notes.append(
                "MLA cached as one K row of kv_lora_rank + rope and no V (GGUFs converted with MLA support, "
                "llama.cpp PR #12801 and later); older DeepSeek GGUFs cache expanded K/V heads"
            )
        return MemoryEstimate(
            model=spec,
            format=fmt,
            engine=self.id,
            settings=settings,
            kv_dtype=k_type.name if k_type == v_type else f"{k_type.name}/{v_type.name}",
            weights_report=report,
            weights=weights,
            kv_cache=kv_fig,
            activations=activations,
            overhead=overhead,
            host_weights=host_weights,
            host_kv_cache=host_kv,
            host_activations=host_act,
            notes=tuple(notes),
        )

    # -----------------------------------------------------------------------------------------

    def _resolve(self, settings: RunSettings) -> tuple[kv.CacheType, kv.CacheType, bool | None]:
        """``-ctk/-ctv`` types (auto = f16) and flash attention; quantized V needs flash attention."""
        names = []
        for which, value in (("K", settings.kv_dtype_k), ("V", settings.kv_dtype_v)):
            name = kv.normalize_cache_type(value)
            name = str(default(self.id, "kv_type")) if name == "auto" else name
            if name not in KV_TYPES:
                raise SettingsError(
                    f"llama.cpp has no {which} cache type '{value:.20}'; valid: auto, "
                    + ", ".join(n.replace("fp32", "f32").replace("fp16", "f16") for n in KV_TYPES)
                )
            names.append(name)
        k_type, v_type = kv.cache_type(names[0]), kv.cache_type(names[1])
        if v_type.quantized and settings.flash_attn is False:
            raise SettingsError(
                f"llama.cpp refuses a quantized V cache ({v_type.name}) without flash attention "
                "(src/llama-context.cpp); enable -fa or keep V in f16, bf16 or f32"
            )
        return k_type, v_type, settings.flash_attn

    def _weights(
        self, spec: ModelSpec, report: WeightsReport, i_gpu_start: int, output_on_gpu: bool, ngl: int
    ) -> tuple[Figure, Figure, int]:
        """GPU and host weight figures, and the largest per-layer tensor group kept on the CPU."""
        gpu: dict[str, int] = {}
        host: dict[str, int] = {}
        largest_cpu = 0
        embedding = 0
        has_output = False
        for t in report.tensors:
            role = t.group.role
            if role is Role.LM_HEAD:
                has_output = True
            if role in INPUT_ROLES:
                host["input_layer"] = host.get("input_layer", 0) + t.bytes
                if role is Role.EMBEDDING:
                    embedding += t.bytes
            elif t.group.layers:
                n = len(t.group.layers)
                on_gpu = sum(1 for il in t.group.layers if il >= i_gpu_start)
                g = t.bytes * on_gpu // n
                if g:
                    gpu["layers"] = gpu.get("layers", 0) + g
                if t.bytes - g:
                    host["layers"] = host.get("layers", 0) + t.bytes - g
                    largest_cpu = max(largest_cpu, t.bytes // n)
            elif role in MMPROJ_ROLES:
                gpu["mmproj"] = gpu.get("mmproj", 0) + t.bytes
            else:  # output layer: output.weight, output_norm (and any other non-repeating tensor)
                target = gpu if output_on_gpu else host
                target["output_layer"] = target.get("output_layer", 0) + t.bytes
        if not has_output and embedding and output_on_gpu:  # tied: token_embd duplicated as the GPU output
            gpu["output_layer"] = gpu.get("output_layer", 0) + embedding
        # (on the CPU the duplicate maps the same GGUF bytes: no extra host memory with mmap)
        gpu_total, host_total = sum(gpu.values()), sum(host.values())
        n_layer = spec.num_layers
        on_gpu = max(n_layer - i_gpu_start, 0)
        where = f"{on_gpu}/{n_layer} repeating layers" + (" + output layer" if output_on_gpu else "")
        tied = (
            " (tied: token_embd duplicated as output)"
            if not has_output and embedding and output_on_gpu
            else ""
        )
        weights = Figure(
            gpu_total,
            f"-ngl {ngl}: {where} on the GPU{tied}; i_gpu_start = max(n_layer + 1 - ngl, 0) = {i_gpu_start} "
            f"= {kv.fmt_bytes(gpu_total)}",
            keys=("format", "gpu_layers"),
            source="llama.cpp src/llama-model.cpp load_tensors (get_layer_buft_list, dev_output, TENSOR_DUPLICATED)",
            parts=gpu,
        )
        host_fig = Figure(
            host_total,
            f"input layer (token_embd) always on the CPU{'; ' + str(min(i_gpu_start, n_layer)) + ' repeating layers on the CPU' if i_gpu_start else ''}"
            f"{'; output layer on the CPU' if not output_on_gpu else ''} = {kv.fmt_bytes(host_total)}",
            keys=("format", "gpu_layers"),
            source="llama.cpp src/llama-model.cpp: 'there is very little benefit to offloading the input layer, so always keep it on the CPU'",
            parts=host,
        )
        return weights, host_fig, largest_cpu

    def _compute(
        self,
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
        has_attention = any(
            layer.attention is not AttentionKind.LINEAR and layer.attention is not AttentionKind.NONE
            for layer in spec.layers
        )
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
        mode = "flash attention" if fa else "no flash attention"
        attn_rule = (
            f"4*ub*4*embd + 2*ub*n_kv {kv.fmt_bytes(attn)}"
            if fa
            else f"4*ub*(4*embd + n_kv*(1+n_head)) {kv.fmt_bytes(attn)}"
        )
        rule = (
            f"ub {ub}, n_kv {n_kv:,}, {mode}: max(logits 4*ub*(embd+vocab) {kv.fmt_bytes(out)}, attention {attn_rule}, "
            f"ffn 4*ub*3*ffn {kv.fmt_bytes(ffn)})"
            + (f" x {factor.value:g}" if factor.value != 1 else "")
            + (
                f" + largest CPU layer tensor staged for op offload {kv.fmt_bytes(staging)}"
                if staging
                else ""
            )
        )
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
            f"CUDA_Host compute buffer 4*ub*(embd + n_kv) {kv.fmt_bytes(host_inputs)} + output buffer vocab x 4 B x "
            f"{settings.batch} {kv.fmt_bytes(output)}"
            + (f" + CPU layers' graph {kv.fmt_bytes(cpu_graph)}" if cpu_graph else ""),
            keys=("context", "ubatch", "hidden_size", "vocab_size"),
            source="llama.cpp 'CUDA_Host compute buffer size' / 'output buffer size' log lines: 168.01 MiB at n_ctx 81920 "
            "(ollama/ollama#9352), 72.01 and 12.01 MiB at 32768 / 2048 (fedora-copr/logdetective PR #106)",
            parts=host_parts,
        )
        return gpu, host

    def _overhead(self) -> Figure:
        """CUDA context, cuBLAS and the ggml scheduler of a llama.cpp process.

        # NOTE: calibrate (llamacpp_overhead_mib in data/engines.json).
        """
        c = constant("llamacpp_overhead_mib")
        low, high = c.band_bytes
        return empirical(
            c.bytes,
            low,
            high,
            f"CUDA context + cuBLAS + scheduler ~{c.value:g} MiB (llama.cpp allocates no caching-allocator slack)",
            keys=(),
            source=c.source,
            parts={"cuda_context_and_runtime": c.bytes},
        )


ENGINE = register_engine(LlamaCppEngine())

__all__ = ["ENGINE", "LlamaCppEngine", "default_source"]
