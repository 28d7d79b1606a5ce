"""One model in every representative format: order, pick, left-out formats, quality and the plain-data records."""

import json

import pytest

from planner.catalog import load_catalog
from planner.errors import PlannerError
from planner.fit import budget_from_gpu, budget_from_size, fits, representative_formats
from planner.fit.bit_widths import (
    RECORD_COLUMNS,
    bit_width_candidates,
    bit_width_table,
    perplexity_text,
    quality_evidence,
    quality_sources,
    quality_text,
)
from planner.formats import parse_format
from planner.memory.estimate import RunSettings
from planner.quality import retention

LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.fixture(scope="module")
def llama():
    return load_catalog()[LLAMA].spec()


def test_rows_are_most_bits_first_and_the_pick_is_the_first_that_fits(llama):
    budget = budget_from_size("10GiB")
    table = bit_width_table(llama, None, RunSettings(context=8192), budget)
    bits = [r.bits_per_weight for r in table.rows]
    assert bits == sorted(bits, reverse=True)
    assert {r.format_id for r in table.rows} == set(representative_formats(None))
    fitting = [r for r in table.rows if r.fit.fits]
    assert fitting and table.pick is fitting[0] and sum(r.pick for r in table.rows) == 1
    assert not table.rows[0].fit.fits  # bf16 does not fit 10 GiB: the pick is further down


def test_each_row_is_the_planners_fit_and_retention(llama):
    budget = budget_from_gpu("rtx-4090")
    settings = RunSettings(context=4096)
    table = bit_width_table(llama, None, settings, budget)
    for row in table.rows:
        direct = fits(llama, parse_format(row.format_id), None, settings, budget)
        assert (row.fit.required_bytes, row.fit.headroom_bytes) == (
            direct.required_bytes,
            direct.headroom_bytes,
        )
        assert row.retention == retention(row.format_id, llama.total_parameters / 1e9)
        assert (row.speed is not None) == row.fit.fits  # catalog GPU: speed wherever it fits


def test_an_engine_leaves_out_what_it_does_not_load_and_says_why(llama):
    table = bit_width_table(llama, "vllm", None, budget_from_gpu("rtx-4090"), ["bf16", "q4_k_m", "awq-int4"])
    assert [r.format_id for r in table.rows] == ["bf16", "awq-int4"]
    assert {r.estimate.engine for r in table.rows} == {"vllm"}
    (skipped,) = table.skipped
    assert skipped.format_id == "q4_k_m" and "does not load" in skipped.reason


def test_candidates_add_the_sidebar_format_once():
    assert bit_width_candidates("llama.cpp", ["Q4_K_M"]) == representative_formats("llama.cpp")
    assert bit_width_candidates("llama.cpp", ["iq3_m"])[-1] == "iq3_m"
    with pytest.raises(PlannerError):
        bit_width_candidates(None, ["int3000"])


def test_nothing_fits_a_tiny_gpu(llama):
    table = bit_width_table(llama, None, None, budget_from_size("1GiB"))
    assert table.rows and table.pick is None
    assert all(r.speed is None for r in table.rows)


def test_custom_size_gives_no_speed(llama):
    table = bit_width_table(llama, None, None, budget_from_size("48GiB"))
    assert all(r.fit.fits and r.speed is None for r in table.rows)


def test_records_and_json_carry_integer_bytes_in_column_order(llama):
    table = bit_width_table(llama, None, RunSettings(context=8192, batch=2), budget_from_gpu("rtx-4090", 2))
    records = table.records()
    assert all(list(r) == list(RECORD_COLUMNS) for r in records)
    for row, rec in zip(table.rows, records, strict=True):
        est = row.estimate
        assert (
            rec["total"]
            == est.total
            == est.weights.bytes + est.kv_cache.bytes + rec["activations"] + rec["overhead"]
        )
        assert isinstance(rec["total"], int) and rec["total_gib"] == round(est.total / (1 << 30), 4)
        assert rec["headroom"] == row.fit.headroom_bytes and rec["fits"] == row.fit.fits
        assert rec["quality_retention"] == row.retention.value
    data = json.loads(json.dumps(table.to_dict()))
    assert data["gpu"]["count"] == 2 and data["context"] == 8192 and data["batch"] == 2
    assert data["pick"] == table.pick.format_id and len(data["formats"]) == len(table.rows)


def test_quality_text_for_each_kind_of_evidence():
    assert quality_text(retention("bf16", 8)) == "16-bit baseline"
    accuracy = retention("q4_k_m", 8)
    assert quality_text(accuracy).startswith(f"{accuracy.value:.1%} of 16-bit accuracy")
    assert quality_evidence(accuracy).endswith(f"at {accuracy.size_class}")
    assumed = retention("bnb-nf4", 8)
    assert "assumed from bnb-nf4-dq" in quality_text(assumed) and "as bnb-nf4-dq" in quality_evidence(assumed)
    kld = retention("q5_k_s", 8)  # only llama.cpp's KLD 0.016595 on Llama 3 8B is published
    assert kld.basis == "kld" and quality_text(kld).startswith(f"~{kld.value:.1%} of 16-bit accuracy")
    assert "mean KLD 0.01659" in quality_text(kld) and quality_evidence(kld) == "~ from KLD at 8.03B"
    assert {url for _, url in quality_sources(kld)} >= {
        "https://docs.unsloth.ai/basics/unsloth-dynamic-2.0-ggufs",
        "https://arxiv.org/abs/2407.09141",
    }
    low = retention("exl2-2.5", 8)  # the EXL2 author's figures start at 3.0 bpw
    assert quality_text(low) == quality_evidence(low) == "no published measurement"
    assert quality_sources(low) == ()
    titles = quality_sources(accuracy)
    assert titles and all(url.startswith("http") for _, url in titles)


def test_perplexity_text_prefers_kld_then_says_what_it_has():
    from planner.quality import load_format_quality

    rows = load_format_quality().rows_for("q8_0")
    assert perplexity_text(rows).startswith("mean KLD")
    ppl_only = [r for r in rows if r.metric == "ppl_ratio"]
    assert perplexity_text(ppl_only).startswith("perplexity x")
    assert perplexity_text([]) == "perplexity figures only"
