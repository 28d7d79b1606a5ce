"""The ``llama-server`` command that enforces a llama.cpp plan.

Every flag is checked against llama.cpp's generated argument list, tools/server/README.md at
commit 00dc8057 (``-m``, ``-c``/``--ctx-size`` "size of the prompt context", ``-np``/``--parallel``
"number of server slots", ``-ngl`` "an exact number, 'auto', or 'all'", ``-fa on|off|auto``,
``-ctk``/``-ctv``, ``-ub``/``-b``, ``-ncmoe``/``--n-cpu-moe``, ``--mmproj``/``--no-mmproj``,
``--lora`` (comma-separated), ``--spec-draft-model``/``--spec-type draft-simple``).

``-c`` is the total over slots: with ``-np N`` set explicitly llama-server keeps one KV stream per
slot (``--kv-unified`` is on only when the slot count is auto) and gives each ``c / N`` cells, which
is the cache this planner counts. Setting ``-ngl`` also keeps ``--fit`` (default on) from moving
layers: fit only adjusts arguments the user left unset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.engines.base import Launch
from planner.engines.common import model_stem, shell_command
from planner.memory.estimate import MemoryEstimate

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

SOURCE = "ggml-org/llama.cpp tools/server/README.md @00dc8057 (the generated llama-server argument list)"
#: llama-server's default logical batch (-b, tools/server/README.md): -ub above it needs -b too.
DEFAULT_N_BATCH = 2048
#: -ctk/-ctv spellings of this planner's cache type names.
CACHE_FLAG = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}


def gguf_name(est: MemoryEstimate) -> str:
    """``<model>-<TYPE>.gguf``: the file a GGUF repo usually names for this format."""
    ftype = getattr(getattr(est.format, "file_type", None), "name", est.format.id.upper())
    return f"{model_stem(est.model.name)}-{ftype}.gguf"


def cache_flags(kv_dtype: str) -> list[str]:
    """``-ctk``/``-ctv`` for the resolved cache type label (``fp16`` or ``q8_0/q4_0``); none for f16."""
    k, _, v = kv_dtype.partition("/")
    v = v or k
    if k == "fp16" and v == "fp16":
        return []
    return ["-ctk", CACHE_FLAG.get(k, k), "-ctv", CACHE_FLAG.get(v, v)]


def placement_flags(est: MemoryEstimate, answer: FitAnswer | None) -> tuple[list[str], list[str]]:
    """``-ngl`` (and ``--n-cpu-moe``) from the settings, or from the offload plan when all-on-GPU does not fit."""
    notes: list[str] = []
    n_layer = est.model.num_layers
    ngl = est.settings.gpu_layers
    offload = answer.offload if answer is not None and not answer.fit.fits else None
    if offload is not None:
        experts = offload.experts
        if experts is not None and experts.n_cpu_moe is not None:
            notes.append(
                f"everything on the GPU does not fit: the command keeps the routed experts of the first "
                f"{experts.n_cpu_moe} layers in host memory (the plan's --n-cpu-moe alternative)"
            )
            if experts.n_cpu_moe >= n_layer:
                return ["-ngl", "all", "--cpu-moe"], notes
            return ["-ngl", "all", "--n-cpu-moe", str(experts.n_cpu_moe)], notes
        if offload.gpu_layers is not None:
            notes.append(
                f"everything on the GPU does not fit: the command offloads {offload.repeating_on_gpu} of "
                f"{n_layer} layers (the plan's partial offload)"
            )
            ngl = offload.gpu_layers
    if ngl is None or ngl >= n_layer + 1:
        return ["-ngl", "all"], notes
    return ["-ngl", str(ngl)], notes


def server_args(est: MemoryEstimate, answer: FitAnswer | None) -> tuple[list[str], list[str]]:
    """The llama-server flags after ``-m`` that pin this plan, and notes on what they assume."""
    s = est.settings
    args = ["-c", str(s.context * s.batch), "-np", str(s.batch)]
    placement, notes = placement_flags(est, answer)
    args += placement
    args += ["-fa", {None: "auto", True: "on", False: "off"}[s.flash_attn]]
    args += cache_flags(est.kv_dtype)
    if s.ubatch is not None:
        if s.ubatch > DEFAULT_N_BATCH:
            args += ["-b", str(s.ubatch)]
        args += ["-ub", str(s.ubatch)]
    mmproj = est.extra("mmproj")
    if mmproj is not None:
        args += ["--mmproj", f"mmproj-{model_stem(est.model.name)}-F16.gguf"]
        notes.append("--mmproj: the vision projector GGUF published beside the model (-hf downloads it)")
    elif s.mmproj is False:
        args += ["--no-mmproj"]
    if est.extra("draft") is not None and s.draft is not None:
        draft_file = f"{model_stem(s.draft.spec.name)}-{s.draft.format.id.upper()}.gguf"
        args += ["--spec-draft-model", draft_file, "--spec-type", "draft-simple"]
    if est.extra("lora") is not None:
        files = ",".join(f"adapter-{i + 1}.gguf" for i in range(s.max_loras or 1))
        args += ["--lora", files]
        notes.append(f"--lora: your {s.max_loras or 1} adapter GGUF file(s) (convert_lora_to_gguf.py)")
    return args, notes


def llama_server_launch(est: MemoryEstimate, answer: FitAnswer | None) -> Launch:
    """``llama-server -m <file> -c <batch x context> -np <batch> -ngl ... -fa ... [-ctk/-ctv] ...``."""
    args, notes = server_args(est, answer)
    model = gguf_name(est)
    notes.insert(0, f"-m: the path to your {est.format.id} GGUF of {est.model.name}")
    return Launch(
        command=shell_command(["llama-server", "-m", model, *args]),
        env={},
        notes=tuple(notes),
        kind="shell",
        source=SOURCE,
    )


__all__ = ["SOURCE", "cache_flags", "gguf_name", "llama_server_launch", "placement_flags", "server_args"]
