"""The Ollama commands that enforce a plan: server environment, a Modelfile and ``ollama run``.

Checked against Ollama v0.32.15: the server variables of envconfig/config.go
(``OLLAMA_NUM_PARALLEL``, ``OLLAMA_KV_CACHE_TYPE``, ``OLLAMA_FLASH_ATTENTION``,
``OLLAMA_CONTEXT_LENGTH``), the Modelfile commands of parser/parser.go (``FROM``, ``PARAMETER``,
``ADAPTER``, ``DRAFT``) and the runner options of api/types.go (``num_ctx``, ``num_batch``,
``num_gpu``). ``num_ctx`` goes in the Modelfile (it beats ``OLLAMA_CONTEXT_LENGTH`` and the
VRAM-based default); the slot count and cache type can only be set on the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.engines.base import Launch
from planner.engines.common import model_stem
from planner.memory.estimate import MemoryEstimate
from planner.ollama_tags import tag_for

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

SOURCE = (
    "ollama/ollama v0.32.15: envconfig/config.go (OLLAMA_NUM_PARALLEL, OLLAMA_KV_CACHE_TYPE, OLLAMA_FLASH_ATTENTION), "
    "parser/parser.go (FROM, PARAMETER, ADAPTER, DRAFT), api/types.go Runner (num_ctx, num_batch, num_gpu)"
)
KV_NAMES = {"fp16": "f16", "fp32": "f32"}


def _from_line(est: MemoryEstimate) -> tuple[str, list[str]]:
    tag = tag_for(est.model.name, est.format.id)
    if tag is not None:
        return tag.tag, []
    stem = model_stem(est.model.name)
    ftype = getattr(getattr(est.format, "file_type", None), "name", est.format.id.upper())
    return f"./{stem}-{ftype}.gguf", [
        f"FROM: no library tag in data/ollama_tags.json is {est.model.name} in {est.format.id}: point FROM at your "
        "GGUF file (or use hf.co/<user>/<repo>:<quant> for a GGUF repository)"
    ]


def _gpu_layers(est: MemoryEstimate, answer: FitAnswer | None) -> tuple[int | None, list[str]]:
    ngl = est.settings.gpu_layers
    offload = answer.offload if answer is not None and not answer.fit.fits else None
    if offload is not None and offload.gpu_layers is not None:
        return offload.gpu_layers, [
            f"everything on the GPU does not fit: num_gpu {offload.gpu_layers} is the plan's partial offload "
            "(Ollama's default, llama-server --fit, would choose its own split)"
        ]
    return ngl, []


def ollama_launch(est: MemoryEstimate, answer: FitAnswer | None) -> Launch:
    """``ollama serve`` with the plan's environment, a Modelfile with ``num_ctx``, then ``ollama run``."""
    s = est.settings
    env = {"OLLAMA_NUM_PARALLEL": str(s.batch)}
    k = est.kv_dtype.partition("/")[0]
    if k != "fp16":
        env["OLLAMA_KV_CACHE_TYPE"] = KV_NAMES.get(k, k)
    if s.flash_attn is not None:
        env["OLLAMA_FLASH_ATTENTION"] = "1" if s.flash_attn else "0"
    source, notes = _from_line(est)
    lines = [f"FROM {source}", f"PARAMETER num_ctx {s.context}"]
    ngl, more = _gpu_layers(est, answer)
    notes += more
    if ngl is not None:
        lines.append(f"PARAMETER num_gpu {ngl}")
    if s.ubatch is not None:
        lines.append(f"PARAMETER num_batch {s.ubatch}")
    if est.extra("lora") is not None:
        lines.append("ADAPTER ./adapter.gguf")
        notes.append("ADAPTER: your LoRA adapter (Ollama applies one adapter per model)")
    if est.extra("draft") is not None and s.draft is not None:
        lines.append(f"DRAFT ./{model_stem(s.draft.spec.name)}-{s.draft.format.id.upper()}.gguf")
        lines.append("PARAMETER draft_num_predict 4")
    name = f"{model_stem(source).removesuffix('.gguf').replace(':', '-')}-ctx{s.context}".lower()
    modelfile = "\n".join(lines)
    command = "\n".join(
        [
            "ollama serve &",
            "cat > Modelfile <<'EOF'",
            modelfile,
            "EOF",
            f"ollama create {name} -f Modelfile",
            f"ollama run {name}",
        ]
    )
    if answer is not None:
        from planner.engines.ollama.kv import default_context

        devices = answer.fit.budget.devices
        auto = default_context(sum(d.total_bytes for d in devices))
        notes.append(
            f"without num_ctx Ollama v0.32.15 would pick {auto:,} tokens on {sum(d.total_bytes for d in devices) / 2**30:.0f} "
            "GiB of GPU memory (4096 below 23 GiB, 32768 below 47 GiB, else 262144; capped at the model's training "
            f"context): the Modelfile pins {s.context:,}"
        )
    notes.append(
        "the environment applies to the server (ollama serve); on the desktop app set it in the app's "
        "environment and restart it"
    )
    return Launch(command=command, env=env, notes=tuple(notes), kind="shell", source=SOURCE)


__all__ = ["SOURCE", "ollama_launch"]
