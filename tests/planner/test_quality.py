"""Published quality data: followable sources, coverage of every format, sane values, the retention rule."""

import copy
import json
import re

import pytest

from planner.catalog import load_catalog
from planner.formats import UnknownFormatError, format_ids
from planner.quality import (
    ACCURACY,
    FORMATS_FILE,
    MODELS_FILE,
    QualityDataError,
    load_format_quality,
    load_model_scores,
    parse_format_quality,
    parse_model_scores,
    retention,
)

TABLE = load_format_quality()
RAW = json.loads(FORMATS_FILE.read_text(encoding="utf-8"))
RAW_MODELS = json.loads(MODELS_FILE.read_text(encoding="utf-8"))
CATALOG_IDS = frozenset(load_catalog())
TYPICAL_BPW = ("2.5", "3.0", "4.0", "5.0", "6.0", "8.0")


def _all_format_ids():
    ids = []
    for fid in format_ids():
        if fid.endswith("-<bpw>"):
            ids += [fid.replace("<bpw>", bpw) for bpw in TYPICAL_BPW]
        else:
            ids.append(fid)
    return ids


ALL_IDS = _all_format_ids()


# --- sources ------------------------------------------------------------------------------


def test_every_row_has_a_followable_source():
    for row in TABLE.rows:
        assert row.source.url.startswith(("https://", "http://")), row
        assert row.where.strip() and row.quote.strip(), row
        assert row.model.strip() and row.baseline.strip(), row


def test_every_source_is_used():
    used = {r.source.id for r in TABLE.rows}
    for section in (TABLE.none, TABLE.native, TABLE.fallbacks):
        used |= {m.source.id for m in section.values() if m.source}
    assert set(TABLE.sources) == used


def _numbers(text):
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", text)]


def test_quoted_cells_contain_the_value():
    """The printed figure is in the quote, so a reader can find it in the cited table."""
    for row in TABLE.rows:
        printed = row.score if row.score is not None else row.value
        assert any(n == pytest.approx(printed, rel=1e-9) for n in _numbers(row.quote)), row


def test_computed_retentions_match_their_scores():
    for row in TABLE.rows:
        if row.score is not None:
            assert row.value == pytest.approx(100 * row.score / row.baseline_score, abs=0.05), row


# --- coverage -----------------------------------------------------------------------------


@pytest.mark.parametrize("format_id", ALL_IDS)
def test_every_format_has_data_or_says_it_has_none(format_id):
    key = format_id.lower()
    has_rows = bool(TABLE.rows_for(key))
    declared = key in TABLE.baselines or key in TABLE.fallbacks or TABLE.marker_none(key) is not None
    assert has_rows or declared, f"{format_id}: no rows and no 'none'/fallback/baseline marker"
    answer = retention(format_id, 8.0)
    if answer.basis == "none":
        assert answer.value is None and answer.note


@pytest.mark.parametrize(
    ("family", "bits"),
    [("gguf", 8), ("gguf", 6), ("gguf", 5), ("gguf", 4), ("gguf", 3), ("gguf", 2), ("gptq", 8), ("gptq", 4),
     ("gptq", 3), ("gptq", 2), ("awq", 4), ("hqq", 4), ("hqq", 3), ("hqq", 2), ("bnb", 8), ("bnb", 4),
     ("fp8", 8), ("int8", 8), ("exl3", 4)],
)  # fmt: skip
def test_published_families_are_covered_at_their_bit_widths(family, bits):
    assert any(r.family == family and r.bits == bits for r in TABLE.rows)


def test_loss_is_recorded_across_model_sizes():
    """Size dependence: the same format measured on small and large models, from one source."""
    for fmt, source in (
        ("gptq-int4", "kurtic2024"),
        ("gptq-int4", "qwen2_quant_bench"),
        ("q4_k_m", "llamacpp_l2_70b"),
    ):
        sizes = {r.params_billion for r in TABLE.rows if r.format == fmt}
        assert max(sizes) / min(sizes) > 8, fmt
        assert any(r.source.id == source for r in TABLE.rows if r.format == fmt)


# --- sane values --------------------------------------------------------------------------


def test_values_are_in_sane_ranges():
    for row in TABLE.rows:
        if row.metric == ACCURACY:
            assert 20 <= row.value <= 110, row
            if row.bits >= 8:
                assert row.value >= 90, row  # Qwen2-0.5B GPTQ-Int8 keeps 93.9%
        elif row.metric == "kld":
            assert 0 <= row.value < 5, row
        elif row.metric == "top1_agreement":
            assert 50 <= row.value <= 100, row
        elif row.metric in ("ppl", "ppl_ratio"):
            reference = row.baseline_value if row.metric == "ppl" else 1.0
            assert row.value >= reference * 0.98, row


def test_llama_cpp_kld_grows_as_bits_shrink():
    kld = {
        r.format: r.value
        for r in TABLE.rows
        if r.metric == "kld" and r.source.id == "llamacpp_ppl_readme" and "Scoreboard" in r.where
    }
    ladder = ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k", "iq1_s"]
    assert [kld[f] for f in ladder] == sorted(kld[f] for f in ladder)


# --- retention ----------------------------------------------------------------------------


def test_retention_picks_the_nearest_size_class():
    small = retention("gptq-int4", 0.5)
    assert {r.params_billion for r in small.evidence} == {0.49}
    large = retention("gptq-int4", 70)
    assert all(60 <= r.params_billion <= 90 for r in large.evidence)
    huge = retention("gptq-int4", 400)
    assert {r.params_billion for r in huge.evidence} == {405.85}
    assert large.basis == "accuracy" and large.low <= large.value <= large.high
    assert small.value < large.value  # the published small-model loss is larger


def test_retention_of_an_8bit_format_is_near_lossless():
    answer = retention("int8", 8)
    assert answer.value == pytest.approx(1.0, abs=0.02)


def test_retention_says_when_nothing_is_published():
    answer = retention("exl2-4.0", 8)
    assert answer.basis == "none" and answer.value is None and answer.evidence == ()
    assert "No published measurement" in answer.note


def test_retention_without_accuracy_rows_carries_perplexity_evidence():
    answer = retention("q8_0", 8)
    assert answer.basis == "perplexity" and answer.value is None
    assert answer.evidence and all(r.metric != ACCURACY for r in answer.evidence)


def test_retention_fallbacks_are_stated():
    answer = retention("bnb-nf4", 13)
    assert answer.value is not None and "Assumed from bnb-nf4-dq" in answer.note
    assert all(r.format == "bnb-nf4-dq" for r in answer.evidence)


def test_retention_of_baselines_and_native_formats():
    assert retention("bf16", 8).value == 1.0
    native = retention("mxfp4", 20)
    assert native.value is None and "MXFP4" in native.note


def test_retention_parametric_formats_match_their_bpw():
    assert {r.bits for r in retention("exl3-4", 300).evidence} == {4.0}
    assert retention("exl3-5.0", 300).basis == "none"


def test_retention_rejects_bad_input():
    with pytest.raises(UnknownFormatError):
        retention("q9_k", 8)
    with pytest.raises(ValueError):
        retention("q4_k_m", 0)


# --- loader rejects malformed rows --------------------------------------------------------


def _mutated(change):
    data = copy.deepcopy(RAW)
    change(data)
    return data


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["rows"][0].update(metric="vibes"),
        lambda d: d["rows"][0].update(source="nowhere"),
        lambda d: d["rows"][0].pop("quote"),
        lambda d: d["rows"][0].update(value=250.0),
        lambda d: d["rows"][0].update(format="q9_k"),
        lambda d: d["rows"][0].update(params_billion=-1),
        lambda d: d["rows"][0].update(value=True),
        lambda d: d["rows"][0].update(baseline_scor=1.0),
        lambda d: d["sources"]["kurtic2024"].update(url="arxiv 2411.02355"),
        lambda d: next(r for r in d["rows"] if "score" in r).update(value=50.0),
        lambda d: next(r for r in d["rows"] if r["metric"] == "ppl").pop("baseline_value"),
        lambda d: d["none"][0].pop("source"),
        lambda d: d["fallbacks"][0].update(uses="bnb-nf4"),
        lambda d: d.update(rows=[]),
    ],
)
def test_format_loader_rejects_malformed_rows(change):
    with pytest.raises(QualityDataError):
        parse_format_quality(_mutated(change))


def test_format_loader_accepts_the_shipped_file():
    assert len(parse_format_quality(RAW).rows) == len(TABLE.rows)


# --- model scores -------------------------------------------------------------------------


def test_every_catalog_model_has_an_entry():
    scores = load_model_scores()
    assert set(scores) == CATALOG_IDS
    assert sum(s.mmlu_5shot is not None for s in scores.values()) >= 20


def test_model_scores_are_sourced_and_explained():
    for model_id, entry in load_model_scores().items():
        for score in (entry.mmlu_5shot, entry.mmlu_pro, *entry.other):
            if score is not None:
                assert score.source.startswith("https://") and score.quote and score.where, model_id
                assert any(n == pytest.approx(score.value) for n in _numbers(score.quote)), model_id
        if entry.mmlu_5shot is None and entry.mmlu_pro is None:
            assert entry.note, model_id


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["models"].update({"acme/NotAModel": {"mmlu_5shot": None, "mmlu_pro": None, "note": "x"}}),
        lambda d: d["models"]["meta-llama/Llama-3.1-8B"].pop("mmlu_pro"),
        lambda d: d["models"]["meta-llama/Llama-3.1-8B"]["mmlu_5shot"].update(shots=0),
        lambda d: d["models"]["meta-llama/Llama-3.1-8B"]["mmlu_5shot"].update(value=180.0),
        lambda d: d["models"]["meta-llama/Llama-3.1-8B"]["mmlu_5shot"].update(source="the card"),
        lambda d: d["models"]["bigcode/starcoder"].pop("note"),
        lambda d: d["models"]["google/gemma-2-9b-it"].pop("note"),
    ],
)
def test_model_loader_rejects_malformed_entries(change):
    data = copy.deepcopy(RAW_MODELS)
    change(data)
    with pytest.raises(QualityDataError):
        parse_model_scores(data, CATALOG_IDS)
