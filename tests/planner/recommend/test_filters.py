"""Filters: family (exact or prefix), license, minimum context; bit width classes; bad values are errors."""

import pytest

from planner.catalog import load_catalog
from planner.formats import parse_format
from planner.recommend import Filters, RecommendError, bit_width, catalog_families, catalog_licenses
from planner.recommend.filters import (
    architecture,
    modality,
    model_exclusion,
    resolve_families,
    resolve_licenses,
)

CATALOG = load_catalog()


NO_FILTERS = Filters()


def _why(model_id, context=8192, filters=NO_FILTERS, families=frozenset(), licenses=frozenset()):
    entry = CATALOG[model_id]
    return model_exclusion(entry.family, entry.license, entry.spec(), context, filters, families, licenses)


def test_family_prefix_and_exact():
    assert resolve_families(("gemma",)) == {"gemma2", "gemma3", "gemma4"}
    assert resolve_families(("qwen3",)) == {"qwen3"}  # exact wins over the prefix (qwen3_moe)
    assert resolve_families(("LLAMA",)) == {"llama"}
    with pytest.raises(RecommendError, match="families: "):
        resolve_families(("nope",))
    assert resolve_families(("mamba9",), extra=("mamba9",)) == {"mamba9"}  # a Hub model's family


def test_license_ids():
    assert "apache-2.0" in catalog_licenses() and "mit" in catalog_licenses()
    assert resolve_licenses(("Apache-2.0",)) == {"apache-2.0"}
    with pytest.raises(RecommendError, match="licenses: "):
        resolve_licenses(("gpl",))


def test_exclusion_reasons():
    assert _why("meta-llama/Llama-3.1-8B-Instruct") is None
    assert "below the context asked" in _why("meta-llama/Llama-2-7b-hf")
    assert _why("meta-llama/Llama-2-7b-hf", context=4096) is None
    assert (
        _why("meta-llama/Llama-3.1-8B-Instruct", families=frozenset({"qwen2"}))
        == "family llama is filtered out"
    )
    assert "license" in _why("google/gemma-3-4b-it", licenses=frozenset({"mit"}))
    big = Filters(min_context=100_000)
    assert "below the minimum context" in _why("Qwen/Qwen2.5-7B-Instruct", filters=big)
    assert "states no max_position_embeddings" in _why("tiiuae/falcon-7b", filters=big)
    assert _why("tiiuae/falcon-7b") is None  # not stated: kept, with a note on each candidate


@pytest.mark.parametrize("bad", [0, -5, True, 1.5])
def test_bad_min_context(bad):
    with pytest.raises(RecommendError):
        Filters(min_context=bad)


@pytest.mark.parametrize(
    "kwargs",
    [{"bit_widths": (0,)}, {"bit_widths": ("4",)}, {"modalities": ("audio",)}, {"architectures": ("ssm",)}],
)
def test_bad_kind_filters(kwargs):
    with pytest.raises(RecommendError):
        Filters(**kwargs)


def test_modality_and_architecture():
    """Gemma 3 4B carries a SigLIP vision tower (its config's vision_config); Mixtral routes to 8 experts."""
    assert modality(CATALOG["google/gemma-3-4b-it"].spec()) == "vision"
    assert modality(CATALOG["meta-llama/Llama-3.1-8B-Instruct"].spec()) == "text"
    assert architecture(CATALOG["mistralai/Mixtral-8x7B-Instruct-v0.1"].spec()) == "moe"
    assert architecture(CATALOG["google/gemma-3-4b-it"].spec()) == "dense"
    assert "modality vision is filtered out" in _why(
        "google/gemma-3-4b-it", filters=Filters(modalities=("text",))
    )
    assert "architecture dense" in _why("google/gemma-3-4b-it", filters=Filters(architectures=("moe",)))
    assert _why("mistralai/Mixtral-8x7B-Instruct-v0.1", filters=Filters(architectures=("moe",))) is None


def test_describe():
    assert Filters().describe() == ()
    text = Filters(("gemma",), ("mit",), 32768).describe()
    assert text == ("family: gemma", "license: mit", "max context at least 32,768 tokens")
    kinds = Filters(bit_widths=(4, 16), modalities=("text",), architectures=("moe",)).describe()
    assert kinds == ("bit width: 16-bit, 4-bit", "modality: text", "architecture: MoE")


@pytest.mark.parametrize(
    ("fid", "width"),
    [("bf16", 16), ("gguf-f16", 16), ("fp32", 32), ("fp8", 8), ("q8_0", 8), ("bnb-int8", 8), ("q6_k", 6),
     ("q5_k_m", 5), ("q5_1", 5), ("q4_k_m", 4), ("q4_1", 4), ("iq4_xs", 4), ("bnb-nf4", 4), ("awq-int4", 4),
     ("mxfp4", 4), ("mxfp4_moe", 4), ("q3_k_m", 3), ("iq3_xxs", 3), ("q2_k", 2), ("iq2_xxs", 2), ("iq1_s", 1),
     ("exl2-4.65", 4), ("hqq-int2", 2)],
)  # fmt: skip
def test_bit_width_class(fid, width):
    assert bit_width(parse_format(fid)) == width


def test_every_catalog_family_is_listed():
    assert set(catalog_families()) == {e.family for e in CATALOG.values()}
