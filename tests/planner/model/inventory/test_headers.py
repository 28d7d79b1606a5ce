"""Local checkpoint folders: tensors from safetensors headers written by transformers itself.

Each checkpoint is saved by transformers' ``save_pretrained`` (random weights, built by the
verifier with transformers' own quantizers where the format is pre-quantized). The references
are outside the planner: transformers' parameter count of the unquantized config, and the
files' own sizes (a safetensors file is 8 bytes, the header, then every tensor's bytes).
"""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import pytest

from planner.errors import PlannerError
from planner.formats import parse_format
from planner.model.inventory.headers import HeaderError
from planner.model.spec import InventorySource, Role
from planner.resolve import load_model
from verify.meta_count import transformers_parameter_count

LLAMA = {
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 512,
}
QWEN3_MOE = {
    "model_type": "qwen3_moe",
    "hidden_size": 64,
    "intermediate_size": 128,
    "moe_intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 256,
}


def _tensor_bytes(folder: Path) -> int:
    """Bytes of every tensor in the folder's safetensors files: file size minus length prefix and header."""
    total = 0
    for path in folder.glob("*.safetensors"):
        with path.open("rb") as fh:
            (header,) = struct.unpack("<Q", fh.read(8))
        total += path.stat().st_size - 8 - header
    return total


def _save(config: dict, folder: Path, fmt: str = "bf16", **kwargs) -> Path:
    from verify.backends import backend_for
    from verify.build import build_random

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = build_random(config, backend_for(fmt), "cpu")
        built.model.save_pretrained(folder, **kwargs)
    return folder


def test_a_sharded_checkpoint_folder_is_read_from_its_headers(tmp_path):
    folder = _save(LLAMA, tmp_path / "ckpt", max_shard_size="300KB")
    assert (folder / "model.safetensors.index.json").is_file()
    assert len(list(folder.glob("*.safetensors"))) > 1
    spec = load_model(str(folder), meta=False)
    assert spec.inventory_source is InventorySource.HEADERS
    assert not spec.approximate
    assert spec.total_parameters == transformers_parameter_count(LLAMA)
    assert parse_format("stored").weights(spec).total_bytes == _tensor_bytes(folder)
    # the config.json path itself finds the headers next to it
    assert load_model(str(folder / "config.json"), meta=False).inventory_source is InventorySource.HEADERS


def test_moe_checkpoint_counts_experts_per_token(tmp_path):
    folder = _save(QWEN3_MOE, tmp_path / "moe")
    # NOTE: the config as the Hub's Qwen3-MoE repos ship it (transformers 5 renames num_experts on save)
    (folder / "config.json").write_text(json.dumps(QWEN3_MOE))
    spec = load_model(str(folder), meta=False)
    assert spec.inventory_source is InventorySource.HEADERS
    assert spec.total_parameters == transformers_parameter_count(QWEN3_MOE)
    experts = sum(
        t.parameters for t in spec.tensors if t.role in (Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN)
    )
    # 2 of 8 experts run per token (num_experts_per_tok)
    assert spec.total_parameters - spec.active_parameters == experts * 6 // 8


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["bnb-nf4", "bnb-int8", "fp8-block"])
def test_pre_quantized_checkpoint_weights_are_the_stored_bytes(tmp_path, fmt):
    folder = _save(LLAMA, tmp_path / fmt, fmt)
    assert "quantization_config" in json.loads((folder / "config.json").read_text())
    spec = load_model(str(folder), meta=False)
    assert spec.inventory_source is InventorySource.HEADERS
    # packed tensors and their scales fold back into the logical weights transformers counts
    assert spec.total_parameters == transformers_parameter_count(LLAMA)
    report = parse_format("stored").weights(spec)
    assert report.total_bytes == _tensor_bytes(folder)
    q_proj = next(t for t in report.tensors if t.group.role is Role.ATTN_Q)
    assert q_proj.quantized and q_proj.group.shape == (256, 256)
    assert report.bits_per_weight < 16


def test_corrupt_header_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA))
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 12) + b"{not json!!}")
    with pytest.raises(HeaderError, match=r"model\.safetensors"):
        load_model(str(tmp_path), meta=False)


def test_index_listing_a_missing_shard_is_an_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA))
    index = {"weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(PlannerError, match="missing"):
        load_model(str(tmp_path), meta=False)


def test_a_folder_without_safetensors_uses_the_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(LLAMA))
    spec = load_model(str(tmp_path), meta=False)
    assert spec.inventory_source is InventorySource.BUILDER
    with pytest.raises(PlannerError, match="safetensors headers"):
        parse_format("stored").weights(spec)


def test_consolidated_copy_next_to_model_safetensors_is_not_counted_twice(tmp_path):
    folder = _save(LLAMA, tmp_path / "mistral-style")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "consolidated.safetensors").write_bytes(data)  # Mistral repos ship both
    spec = load_model(str(folder), meta=False)
    assert spec.total_parameters == transformers_parameter_count(LLAMA)
