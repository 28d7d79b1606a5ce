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
    NO_ENTRY,
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
    used |= {TABLE.kld.source.id, TABLE.kld.justification.id}
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
    answer = retention("exl2-2.5", 8)  # the author's table starts at 3.0 bpw
    assert answer.basis == "none" and answer.value is None and answer.evidence == ()
    assert "below 3.0 bpw" in answer.note


def test_retention_of_a_gguf_type_is_unsloths_published_mmlu_ratio():
    """Unsloth's Gemma 3 27B table: Q6_K 71.87 and Q2_K 68.50 against 71.5 for BF16 (5-shot MMLU)."""
    q6 = retention("q6_k", 27)
    assert q6.basis == "accuracy" and q6.value == pytest.approx(71.87 / 71.5, abs=1e-4)
    q2 = retention("q2_k", 27)
    assert (
        q2.value == pytest.approx(68.50 / 71.5, abs=1e-4) and q2.evidence[0].source.id == "unsloth_dynamic2"
    )


def test_kld_translation_reads_between_the_bracketing_anchors():
    """Q4_0's published KLD on Llama 3 8B (0.07194) lies between Unsloth's UD-Q4_K_XL and UD-Q3_K_XL.

    Hand computation from the two anchors (KLD 0.023701 -> 71.47/71.5, KLD 0.080617 -> 70.87/71.5):
    71.47/71.5 + (70.87 - 71.47)/71.5 * (0.07194 - 0.023701) / (0.080617 - 0.023701).
    """
    answer = retention("q4_0", 8)
    expected = 71.47 / 71.5 + (70.87 - 71.47) / 71.5 * (0.07194 - 0.023701) / (0.080617 - 0.023701)
    assert answer.basis == "kld" and answer.value == pytest.approx(expected, abs=1e-6)
    assert (answer.low, answer.high) == (pytest.approx(70.87 / 71.5), pytest.approx(71.47 / 71.5))
    assert answer.evidence[0].metric == "kld" and answer.evidence[0].value == 0.07194
    assert answer.translation is not None and "UD-Q4_K_XL" in answer.note and "UD-Q3_K_XL" in answer.note


def test_kld_translation_never_extrapolates():
    table = load_format_quality().kld
    assert table.translate(table.anchors[-1].kld * 1.01) is None
    assert table.translate(0.0)[0] == 1.0


def test_retention_without_accuracy_or_translatable_kld_carries_perplexity_evidence():
    """Parsed data without the translation section: a KLD-only format has evidence but no value."""
    raw = copy.deepcopy(RAW)
    raw.pop("kld_translation")
    table = parse_format_quality(raw)
    assert (
        table.kld is None
        and table.rows_for("q4_0")
        and not any(r.metric == ACCURACY for r in table.rows_for("q4_0"))
    )


def test_retention_fallbacks_are_stated():
    answer = retention("bnb-nf4", 13)
    assert answer.value is not None and "Assumed from bnb-nf4-dq" in answer.note
    assert all(r.format == "bnb-nf4-dq" for r in answer.evidence)
    hqq8 = retention("hqq-int8", 8)
    assert "Assumed from gptq-int8" in hqq8.note and all(r.format == "gptq-int8" for r in hqq8.evidence)


def test_retention_of_bnb_int8_is_the_llm_int8_blog_table():
    """OPT-175B and BLOOM-176B zero-shot tasks, int8 against 16-bit: the median of the eight ratios."""
    answer = retention("bnb-int8", 176)
    ratios = sorted([1.0, 0.7965 / 0.7959, 0.7464 / 0.7466, 0.7174 / 0.7245,
                     0.7274 / 0.7303, 0.7835 / 0.7884, 0.6808 / 0.6718, 1.0])  # fmt: skip
    assert answer.value == pytest.approx((ratios[3] + ratios[4]) / 2, abs=1e-4)


def test_retention_of_baselines_and_native_formats():
    assert retention("bf16", 8).value == 1.0
    w4a4 = retention("mxfp4", 20)  # only W4A4 MXFP4 is published (AutoRound)
    assert w4a4.basis == "accuracy" and "W4A4" in w4a4.evidence[0].method


def test_retention_parametric_formats_match_their_bpw():
    assert {r.bits for r in retention("exl3-4", 300).evidence} == {4.0}
    assert retention("exl3-4", 300).basis == "kld"
    lower = retention("exl2-4.65", 8)  # nothing at 4.65: the 4.0 bpw figures, said so
    assert {r.bits for r in lower.evidence} == {4.0} and "4 bpw" in lower.note


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
    assert set(scores) >= CATALOG_IDS
    assert sum(scores[m].mmlu_5shot is not None for m in CATALOG_IDS) >= 20
    recorded = set(RAW_MODELS["models"])
    unrecorded = sorted(CATALOG_IDS - recorded)
    assert len(unrecorded) <= 0.05 * len(CATALOG_IDS), (
        f"catalog models missing from models.json: {unrecorded}"
    )
    assert all(scores[m].note == NO_ENTRY for m in unrecorded)


def test_the_primary_benchmark_covers_the_catalog():
    """MMLU-Pro from the publisher or the leaderboard for at least 90% of catalog models (the rest say why)."""
    scores = load_model_scores()
    covered = [m for m in CATALOG_IDS if scores[m].best("mmlu_pro") is not None]
    assert len(covered) >= 0.9 * len(CATALOG_IDS)
    for model_id in CATALOG_IDS - set(covered):
        assert scores[model_id].note, model_id


def test_leaderboard_scores_are_raw_accuracy_with_the_normalisation_undone():
    """The leaderboard page shows (raw - 10) / 0.9; Llama-2-7b's row has raw 18.61 and normalised 9.57."""
    entry = load_model_scores()["meta-llama/Llama-2-7b-hf"]
    assert entry.mmlu_pro is None and entry.mmlu_pro_leaderboard.value == pytest.approx(18.61)
    assert "9.57" in entry.mmlu_pro_leaderboard.quote and entry.best("mmlu_pro").value == pytest.approx(18.61)
    assert (
        entry.best("mmlu_5shot").value == 45.3
    )  # the publisher's own figure wins over the leaderboard's 46.87


def test_model_scores_are_sourced_and_explained():
    for model_id, entry in load_model_scores().items():
        scores = (entry.mmlu_5shot, entry.mmlu_pro, *entry.other, entry.mmlu_5shot_leaderboard,
                  entry.mmlu_pro_leaderboard)  # fmt: skip
        for score in scores:
            if score is not None:
                assert score.source.startswith("https://") and score.quote and score.where, model_id
                printed = _numbers(score.quote)  # as printed: a percentage, or a fraction (Mistral's 0.663)
                assert any(score.value in (pytest.approx(n), pytest.approx(100 * n)) for n in printed), (
                    model_id
                )
        if model_id in CATALOG_IDS and entry.mmlu_5shot is None and entry.mmlu_pro is None:
            assert entry.note, model_id


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["models"].update({"not a hub id": {"mmlu_5shot": None, "mmlu_pro": None, "note": "x"}}),
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
