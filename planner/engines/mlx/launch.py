"""The mlx-lm commands that enforce an MLX plan: convert (if the format needs it), then generate or serve.

Flags checked against ml-explore/mlx-lm v0.31.3: mlx_lm/convert.py (``--hf-path``, ``--mlx-path``,
``-q``, ``--q-bits``, ``--q-group-size``, ``--q-mode``), mlx_lm/generate.py (``--model``,
``--prompt``, ``--max-tokens``, ``--kv-bits``, ``--kv-group-size``, ``--quantized-kv-start``,
``--draft-model``, ``--num-draft-tokens``) and mlx_lm/server.py (``--model``,
``--decode-concurrency`` default 32, ``--prompt-concurrency`` default 8, ``--prefill-step-size``).
One sequence runs with ``mlx_lm.generate``; several with ``mlx_lm.server``, which batches them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.engines.base import Launch
from planner.engines.common import model_stem, shell_command
from planner.engines.mlx.kv import KV_BITS
from planner.memory.estimate import MemoryEstimate

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

SOURCE = (
    "ml-explore/mlx-lm v0.31.3 mlx_lm/convert.py, mlx_lm/generate.py and mlx_lm/server.py argument parsers"
)


def _convert(est: MemoryEstimate) -> tuple[list[str], str]:
    """The ``mlx_lm.convert`` argv for the plan's format and the local path it writes."""
    fmt = est.format
    stem = model_stem(est.model.name)
    path = f"./{stem}-{fmt.id.removeprefix('mlx-')}"
    argv = ["mlx_lm.convert", "--hf-path", est.model.name, "--mlx-path", path]
    mode = getattr(fmt, "mode", None)
    if mode is None:  # bf16 / fp16 / fp32 safetensors
        argv += ["--dtype", {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[fmt.id]]
    elif mode == "affine":
        argv += ["-q", "--q-bits", str(fmt.bits), "--q-group-size", str(fmt.group)]  # type: ignore[attr-defined]
    else:
        argv += ["-q", "--q-mode", mode]
    return argv, path


def mlx_launch(est: MemoryEstimate, answer: FitAnswer | None) -> Launch:
    """``mlx_lm.convert`` then ``mlx_lm.generate`` (one sequence) or ``mlx_lm.server`` (several)."""
    s = est.settings
    convert, path = _convert(est)
    notes = [
        f"mlx_lm.convert writes {path} from {est.model.name}; an mlx-community conversion of the same format "
        "loads the same bytes"
    ]
    kv_bits = KV_BITS.get(est.kv_dtype)
    if s.batch == 1:
        run = ["mlx_lm.generate", "--model", path, "--max-tokens", str(s.context), "--prompt", "-"]
        if kv_bits is not None:
            run += ["--kv-bits", str(kv_bits), "--kv-group-size", "64", "--quantized-kv-start", "0"]
        if s.draft is not None and est.extra("draft") is not None:
            run += ["--draft-model", s.draft.ref, "--num-draft-tokens", "3"]
        notes.append(
            f"--max-tokens caps generation; the prompt (read from stdin with --prompt -) plus the output is the "
            f"{s.context:,}-token context the plan sizes"
        )
    else:
        run = [
            "mlx_lm.server",
            "--model",
            path,
            "--decode-concurrency",
            str(s.batch),
            "--prompt-concurrency",
            str(min(s.batch, 8)),
        ]
        if s.draft is not None and est.extra("draft") is not None:
            run += ["--draft-model", s.draft.ref]
        if kv_bits is not None:
            notes.append(
                "mlx_lm.server has no --kv-bits (v0.31.3): the quantized cache applies to mlx_lm.generate only"
            )
        notes.append(
            f"mlx_lm.server decodes up to {s.batch} requests together; it also keeps an LRU prompt cache "
            "(--prompt-cache-size 10) whose KV is not counted"
        )
    command = shell_command(convert, wrap=1) + "\n" + shell_command(run, wrap=1)
    return Launch(command=command, env={}, notes=tuple(notes), kind="shell", source=SOURCE)


__all__ = ["SOURCE", "mlx_launch"]
