"""Where a model's config comes from: catalog, local file or folder, Hub (not reached here)."""

import json

import pytest

from planner.errors import ModelNotFoundError
from verify.source import build_config, planner_spec, resolve


def test_catalog_id_case_insensitive():
    source = resolve("qwen/qwen3-8b")
    assert (source.kind, source.ref, source.has_weights) == ("catalog", "Qwen/Qwen3-8B", False)
    assert planner_spec(source, tiny=False).total_parameters > 8e9
    assert planner_spec(source, tiny=True).total_parameters < 5e6


def test_local_file_and_folder(tmp_path):
    config = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1}
    config |= {"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256}
    (tmp_path / "config.json").write_text(json.dumps(config))
    for ref in (str(tmp_path), str(tmp_path / "config.json")):
        source = resolve(ref)
        assert source.kind == "local" and source.folder == str(tmp_path) and source.config == config
    assert not resolve(str(tmp_path)).has_weights
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert resolve(str(tmp_path)).has_weights
    assert build_config(resolve(str(tmp_path)), tiny=False) == config


def test_missing_file_and_no_hub():
    with pytest.raises(ModelNotFoundError, match="no such file"):
        resolve("./missing/config.json")
    with pytest.raises(ModelNotFoundError, match="Hub is not allowed"):
        resolve("someone/some-model", allow_hub=False)
