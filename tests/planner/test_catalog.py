"""The shipped catalog: valid rows, the issue's coverage, and counts that match published figures."""

import json

import pytest

from planner.catalog import MODELS_DIR, CatalogError, _entry, find_entry, get_entry, load_catalog
from planner.errors import ModelNotFoundError
from verify.meta_count import transformers_parameter_count

CATALOG = load_catalog()
IDS = sorted(CATALOG)

#: model_type (or wrapper) each family of the issue must be represented by.
REQUIRED_ARCHITECTURES = {
    "llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma2", "gemma3", "phi3",
    "deepseek_v2", "deepseek_v3", "gpt_oss", "gpt_bigcode", "falcon",
}  # fmt: skip
HYBRID_ARCHITECTURES = {"jamba", "granitemoehybrid", "qwen3_next", "mamba2", "mamba"}


def test_catalog_size_and_coverage():
    assert len(CATALOG) >= 50
    architectures = {entry.config.get("model_type") for entry in CATALOG.values()}
    assert architectures >= REQUIRED_ARCHITECTURES
    assert HYBRID_ARCHITECTURES & architectures
    totals = [entry.reference.total for entry in CATALOG.values()]
    assert min(totals) < 0.6e9
    assert max(totals) > 600e9


def _tolerance(published, rounded_to, relative):
    """The stated relative tolerance, or half the unit a rounded figure was published in."""
    return max(relative * published, rounded_to / 2)


@pytest.mark.parametrize("model_id", IDS)
def test_count_matches_published_reference(model_id):
    """Within 0.1% of the published total (less what the checkpoint stores but no runtime loads)."""
    ref = CATALOG[model_id].reference
    spec = CATALOG[model_id].spec()
    assert not spec.approximate, spec.notes
    tolerance = _tolerance(ref.loaded_total, ref.rounded_to, 1e-3)
    assert abs(spec.total_parameters - ref.loaded_total) <= tolerance, ref.source


@pytest.mark.parametrize("model_id", [i for i in IDS if CATALOG[i].reference.active])
def test_active_count_matches_published_reference(model_id):
    """Active counts follow each publisher's convention (``active_excludes``); within 2%."""
    ref = CATALOG[model_id].reference
    spec = CATALOG[model_id].spec()
    by_role = {role.value: n for role, n in spec.parameters_by_role().items()}
    active = spec.active_parameters - sum(by_role.get(role, 0) for role in ref.active_excludes)
    assert abs(active - ref.active) <= _tolerance(ref.active, ref.active_rounded_to, 2e-2), ref.note


def test_not_loaded_parts_are_explained():
    for entry in CATALOG.values():
        ref = entry.reference
        assert (ref.not_loaded == 0) == (ref.not_loaded_what is None), entry.id


@pytest.mark.slow
@pytest.mark.parametrize("model_id", IDS)
def test_count_equals_transformers_meta_build(model_id):
    """Independent check: transformers' own modeling code allocates exactly the planner's count."""
    entry = CATALOG[model_id]
    assert entry.spec().total_parameters == transformers_parameter_count(entry.config)


def test_every_entry_cites_sources():
    for entry in CATALOG.values():
        assert entry.config_source.startswith("https://huggingface.co/")
        assert entry.reference.source.strip()


def test_lookup_is_case_insensitive():
    model_id = IDS[0]
    assert find_entry(model_id.upper()) is CATALOG[model_id]
    with pytest.raises(ModelNotFoundError):
        get_entry("nobody/nothing")


def test_malformed_rows_are_rejected(tmp_path):
    good = json.loads((MODELS_DIR / f"{IDS[0].replace('/', '--')}.json").read_text())
    path = tmp_path / f"{IDS[0].replace('/', '--')}.json"
    for broken in (
        good | {"variant": "chat"},
        good | {"reference": {"total": "8B", "source": "x"}},
        good | {"reference": {"total": 10, "active": 20, "source": "x"}},
        {k: v for k, v in good.items() if k != "config"},
    ):
        path.write_text(json.dumps(broken))
        with pytest.raises(CatalogError):
            _entry(path)
    path.write_text("{oops")
    with pytest.raises(CatalogError, match="unreadable"):
        _entry(path)
