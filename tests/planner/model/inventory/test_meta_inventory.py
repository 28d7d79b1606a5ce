"""Tensors from transformers on the meta device: exact, cached on disk, and honest when unavailable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.catalog import load_catalog
from planner.formats import parse_format
from planner.model import templates
from planner.model.architectures import _REGISTRY
from planner.model.inventory import cache, describe
from planner.model.spec import InventorySource
from planner.report import approximate_warning
from verify.meta_count import transformers_parameter_count

ROOT = Path(__file__).resolve().parents[4]
#: StarCoder 2: LayerNorm with biases, a plain (not gated) MLP, biases on every projection.
STARCODER2 = {
    "model_type": "starcoder2",
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
}
LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 300,
}


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv("VRAM_PLANNER_META", raising=False)
    return tmp_path / "cache" / "inventory"


def test_meta_inventory_is_exact_then_cached(fresh_cache):
    first = describe(STARCODER2, "sc2", meta=True)
    assert first.inventory_source is InventorySource.META
    assert "cached" not in first.inventory_detail
    assert first.total_parameters == transformers_parameter_count(STARCODER2)
    assert len(list(fresh_cache.glob("*.json"))) == 1
    again = describe(STARCODER2, "sc2", meta=True)
    assert again.inventory_detail.endswith("(cached)")
    assert again.tensors == first.tensors


def test_a_cached_inventory_needs_no_torch(fresh_cache):
    describe(STARCODER2, "sc2", meta=True)
    script = (
        "import json, sys\n"
        "from planner.model.inventory import describe\n"
        f"spec = describe(json.loads({json.dumps(json.dumps(STARCODER2))}), 'sc2')\n"
        "print(spec.inventory_source.value, spec.total_parameters, 'torch' in sys.modules)\n"
    )
    env = dict(os.environ, VRAM_PLANNER_META="0")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        "transformers",
        "meta",
        "device",
        str(transformers_parameter_count(STARCODER2)),
        "False",
    ]


def test_a_corrupt_cache_entry_is_ignored_and_rewritten(fresh_cache):
    describe(STARCODER2, "sc2", meta=True)
    (entry,) = fresh_cache.glob("*.json")
    entry.write_text('{"format": 1, "key": "truncated', encoding="utf-8")
    spec = describe(STARCODER2, "sc2", meta=True)
    assert spec.inventory_source is InventorySource.META and "cached" not in spec.inventory_detail
    assert json.loads(entry.read_text())["key"] == entry.stem


def test_the_cache_keeps_a_bounded_number_of_entries(fresh_cache, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for i in range(6):
        cache.save(f"{i:064x}", (), "test")
    assert len(list(fresh_cache.glob("*.json"))) == 3


def test_without_meta_the_hand_written_builder_answers(monkeypatch):
    monkeypatch.setenv("VRAM_PLANNER_META", "0")
    spec = describe(LLAMA, "llama")
    assert spec.inventory_source is InventorySource.BUILDER
    assert not spec.approximate and approximate_warning(spec) is None


def test_an_architecture_nobody_knows_is_a_visibly_approximate_estimate():
    config = LLAMA | {"model_type": "made_up_decoder"}
    spec = describe(config, "made-up", meta=True)
    assert spec.inventory_source is InventorySource.GENERIC and spec.approximate
    warning = approximate_warning(spec)
    assert warning.startswith("approximate: architecture 'made_up_decoder' is not known")
    assert "typical error ±" in warning
    assert any("made_up_decoder" in n for n in spec.notes)


def test_transformers_types_without_a_builder_have_exact_tensors(monkeypatch):
    monkeypatch.delitem(_REGISTRY, "llama")
    monkeypatch.setattr(templates, "find", lambda model_type, raw: None)
    spec = describe(LLAMA, "llama", meta=True)
    assert spec.inventory_source is InventorySource.META
    assert spec.total_parameters == transformers_parameter_count(LLAMA)
    # the layers still come from the generic reader: the KV cache is the approximate part
    assert spec.approximate
    assert "KV cache" in approximate_warning(spec)


def test_a_template_ranks_after_meta_and_before_the_generic_estimate(monkeypatch):
    """Without a builder, a derived template gives the layers (nothing approximate) and, alone, the tensors."""
    monkeypatch.delitem(_REGISTRY, "llama")
    reference = transformers_parameter_count(LLAMA)
    meta = describe(LLAMA, "llama", meta=True)
    assert meta.inventory_source is InventorySource.META and meta.total_parameters == reference
    assert not meta.approximate and approximate_warning(meta) is None
    monkeypatch.setenv("VRAM_PLANNER_META", "0")
    alone = describe(LLAMA | {"vocab_size": 302}, "llama")
    assert alone.inventory_source is InventorySource.TEMPLATE and alone.inventory_source.value == "template"
    assert alone.inventory_detail.startswith("data/templates/causal/llama.json (transformers ")
    assert alone.total_parameters == transformers_parameter_count(LLAMA | {"vocab_size": 302})
    assert not alone.approximate


@pytest.mark.slow
@pytest.mark.parametrize("model_id", sorted(load_catalog()))
def test_format_rules_apply_to_the_meta_inventory(model_id):
    """transformers' tensors, classified by name, get the same bytes in every format as the builder's."""
    entry = load_catalog()[model_id]
    meta = describe(entry.config, model_id, meta=True)
    builder = entry.spec()
    assert meta.inventory_source is InventorySource.META
    assert (meta.total_parameters, meta.active_parameters) == (
        builder.total_parameters,
        builder.active_parameters,
    )
    for fmt in ("bf16", "fp8-block", "bnb-nf4", "gptq-int4", "q4_k_m", "q2_k"):
        assert (
            parse_format(fmt).weights(meta).total_bytes == parse_format(fmt).weights(builder).total_bytes
        ), fmt
