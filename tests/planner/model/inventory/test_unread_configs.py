"""Configs the pure core refuses: exact tensors from the meta device (or headers), a visibly approximate cache.

The references are transformers' own: its meta-device parameter count, and the keys and values its
real cache holds after a CPU prefill of a tiny randomly initialised model.
"""

from __future__ import annotations

import pytest

from planner.errors import ConfigError, UnknownLayerTypeError
from planner.model import model_from_config
from planner.model.inventory import cache, describe
from planner.model.inventory.groups import StoredTensor, group_tensors
from planner.model.inventory.minimal import too_large
from planner.model.spec import AttentionKind, InventorySource
from planner.report import approximate_warning

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from verify.hf import hf_config  # noqa: E402
from verify.meta_count import transformers_parameter_count, transformers_parameters  # noqa: E402

#: MPT names its fields d_model/n_heads/n_layers and fuses q/k/v (``Wqkv``); CTRL names its projections
#: Wq/Wk/Wv, which no name map knows. The pure core reads neither (no ``intermediate_size``).
MPT = {"model_type": "mpt", "d_model": 64, "n_heads": 4, "n_layers": 2, "vocab_size": 300, "max_seq_len": 128}
CTRL = {"model_type": "ctrl", "n_embd": 64, "n_head": 4, "n_layer": 2, "dff": 128, "vocab_size": 300}


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv("VRAM_PLANNER_META", raising=False)


def _real_cache_elements_per_token(config: dict, tokens: int = 5) -> int:
    """Elements transformers' own cache holds per token after a prefill (random weights, CPU)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(hf_config(config))
    with torch.no_grad():
        out = model(torch.arange(1, tokens + 1).unsqueeze(0), use_cache=True)
    held = sum(layer.keys.numel() + layer.values.numel() for layer in out.past_key_values.layers)
    assert held % tokens == 0
    return held // tokens


@pytest.mark.parametrize("config", [MPT, CTRL], ids=["mpt", "ctrl"])
def test_a_config_the_pure_core_refuses_is_counted_exactly_on_the_meta_device(config):
    with pytest.raises(ConfigError):
        model_from_config(config)
    spec = describe(config, config["model_type"], meta=True)
    assert spec.inventory_source is InventorySource.META
    assert spec.total_parameters == transformers_parameter_count(config)
    assert spec.num_layers == 2
    # the cache geometry read from the inventory equals transformers' real cache
    per_token = sum(layer.kv_elements_per_token for layer in spec.layers)
    assert per_token == _real_cache_elements_per_token(config)
    # and the figure says it is approximate, in the line the CLI and the app show
    warning = approximate_warning(spec)
    assert spec.approximate and warning
    assert "tensors are exact" in warning and "cannot read this config" in warning
    assert "intermediate_size" in warning


def test_without_the_meta_device_the_readers_own_error_stands(monkeypatch):
    with pytest.raises(ConfigError, match="intermediate_size"):
        describe(MPT, "mpt", meta=False)
    monkeypatch.setenv("VRAM_PLANNER_META", "0")  # the hosted page: no build, nothing cached
    with pytest.raises(ConfigError, match="intermediate_size"):
        describe(MPT, "mpt")


def test_transformers_refusing_too_gives_the_readers_error():
    broken = {**MPT, "model_type": "no_such_type_anywhere"}
    with pytest.raises(ConfigError):
        describe({**broken, "d_model": None}, "broken", meta=True)


def test_checkpoint_headers_count_a_config_the_pure_core_refuses():
    shapes = transformers_parameters(MPT)
    groups = group_tensors(
        StoredTensor(name, "BF16", shape, 2 * _numel(shape)) for name, shape in shapes.items()
    )
    spec = describe(MPT, "mpt", headers=(groups, "2 files of test/mpt"), meta=False)
    assert spec.inventory_source is InventorySource.HEADERS
    assert spec.total_parameters == transformers_parameter_count(MPT)
    assert [layer.attention for layer in spec.layers] == [AttentionKind.FULL] * 2
    assert spec.approximate and "cannot read this config" in approximate_warning(spec)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def test_absurd_or_malformed_values_are_never_built(monkeypatch):
    """Only what the reader was not taught goes to transformers; nothing is built for the rest."""
    import planner.model.inventory.meta as meta

    def no_build(*args, **kwargs):
        raise AssertionError("built on the meta device")

    monkeypatch.setattr(meta, "_build", no_build)
    for huge in ({"n_layers": 1_000_000}, {"vocab_size": 10**9}, {"attn_config": {"n_layers": 10**6}}):
        with pytest.raises(ConfigError):
            describe({**MPT, **huge}, "mpt", meta=True)
    assert too_large({"text_config": {"num_layers": 10**6}}) == "text_config.num_layers"
    assert too_large(MPT) is None
    with pytest.raises(ConfigError, match="hidden_size"):
        describe({**MPT, "model_type": "llama", "hidden_size": "wide"}, "llama", meta=True)


def test_an_unknown_layer_kind_is_counted_from_the_meta_device():
    """ZAYA's ``hybrid`` layers: a layer kind the pure core was not taught (transformers' default config)."""
    import json

    from transformers import AutoConfig

    config = json.loads(json.dumps(AutoConfig.for_model("zaya").to_dict(), default=str))
    with pytest.raises(UnknownLayerTypeError):
        model_from_config(config)
    spec = describe(config, "zaya", meta=True)
    assert spec.inventory_source is InventorySource.META
    assert spec.total_parameters == transformers_parameter_count(config, keep_token_ids=True)
    assert spec.approximate and "unknown layer type" in approximate_warning(spec)


def test_sliding_layers_named_in_layer_types_keep_their_window():
    """OLMo 3 without ``num_attention_heads`` (transformers' default is 32; the pure core refuses): the
    per-layer cache read from the inventory is the hand-written builder's for the same attention, which
    tests/verify/test_cpu_kv_kinds.py holds equal to transformers' real cache."""
    full = {
        "model_type": "olmo3",
        "hidden_size": 256,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 32,
        "num_key_value_heads": 2,
        "vocab_size": 300,
        "sliding_window": 8,
        "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
    }
    missing = {k: v for k, v in full.items() if k != "num_attention_heads"}
    with pytest.raises(ConfigError, match="num_attention_heads"):
        model_from_config(missing)
    spec = describe(missing, "olmo3", meta=True)
    assert spec.total_parameters == transformers_parameter_count(missing)

    def geometry(s):
        return [(layer.attention, layer.window, layer.kv_elements_per_token) for layer in s.layers]

    assert geometry(spec) == geometry(model_from_config(full))
    assert [layer.attention for layer in spec.layers].count(AttentionKind.SLIDING) == 3
