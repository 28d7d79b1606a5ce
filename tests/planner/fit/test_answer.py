"""The whole fit answer and its plain-data forms: the CLI's JSON, CSV rows, the bar limit."""

import csv
import io
import json

import pytest

from planner.catalog import load_catalog
from planner.cli import main
from planner.engines import estimate
from planner.fit import budget_from_gpu, budget_from_size, charged_bytes, fit_estimate, max_context
from planner.fit.answer import (
    FIT_KEYS,
    ROW_COLUMNS,
    estimate_json,
    fit_answer,
    plan_rows,
    plan_speed,
    rows_csv,
)
from planner.formats import parse_format
from planner.memory.estimate import RunSettings

LLAMA = "meta-llama/Llama-3.1-8B"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def _answer(model_id, fmt_id, budget, engine=None, **settings):
    spec = load_catalog()[model_id].spec()
    fmt = parse_format(fmt_id)
    run = RunSettings(**settings)
    est = estimate(spec, fmt, engine, run)
    return est, fit_answer(spec, fmt, run, est, budget)


def test_answer_for_a_plan_that_fits():
    budget = budget_from_gpu("rtx-4090")
    _, answer = _answer(LLAMA, "q4_k_m", budget, context=8192)
    assert answer.fit.fits and answer.offload is None and answer.offload_speed is None
    assert answer.fit.headroom_bytes == answer.fit.usable_bytes - answer.fit.required_bytes > 0
    # XiongjieDai/GPU-Benchmarks-on-LLM-Inference (llama-bench): Meta-Llama-3-8B Q4_K_M on an RTX 4090
    # decodes 110.66 tokens/s at 4,096 tokens of context; the plan's band holds it
    speed = answer.speed
    assert speed is not None and speed.decode_tokens_per_s_low <= 110.66 <= speed.decode_tokens_per_s_high
    spec = load_catalog()[LLAMA].spec()
    assert answer.max_context == max_context(
        spec, parse_format("q4_k_m"), "llama.cpp", RunSettings(context=8192), budget
    )


def test_llamacpp_plan_that_does_not_fit_gets_an_offload_plan_with_its_speed():
    est, answer = _answer(MIXTRAL, "q4_k_m", budget_from_gpu("rtx-4090"))
    assert not answer.fit.fits and answer.speed is None
    off = answer.offload
    assert off is not None and 0 < off.gpu_layers <= off.n_layer
    assert off.fit.fits and off.host_bytes > est.host_total
    assert answer.offload_speed is not None
    assert answer.offload_speed.host_bytes_per_step > 0  # host-resident layers are read by the CPU


def test_other_engines_get_no_offload_plan():
    _, answer = _answer(LLAMA, "bf16", budget_from_size("8GiB"))
    assert not answer.fit.fits and answer.offload is None


def test_custom_size_has_no_speed():
    budget = budget_from_size("24GiB")
    est, answer = _answer(LLAMA, "q4_k_m", budget)
    assert answer.fit.fits and answer.speed is None
    assert plan_speed(est, budget) is None


def test_bar_limit_adds_what_vllm_keeps_outside_its_pool():
    budget = budget_from_gpu("rtx-4090")
    est, answer = _answer(LLAMA, "bf16", budget, engine="vllm")
    outside = est.total - charged_bytes(est)
    # the CUDA context (before the init snapshot) and the CUDA graphs (v0.19: captured after the KV cache)
    assert outside == est.overhead.parts["cuda_context"] + est.overhead.parts["cuda_graphs"] > 0
    assert answer.bar_limit_bytes == answer.fit.allowance.usable_bytes[0] + outside
    est, answer = _answer(LLAMA, "q4_k_m", budget)
    assert answer.bar_limit_bytes == answer.fit.usable_bytes  # llama.cpp charges everything


@pytest.mark.parametrize(("fmt", "gpu"), [("q4_k_m", "4090"), ("q4_k_m", None)])
def test_estimate_json_is_what_the_cli_prints(capsys, fmt, gpu):
    args = ["estimate", "--model", LLAMA, "--format", fmt, "--context", "8192", "--json", "--offline"]
    assert main([*args, *(["--gpu", gpu] if gpu else [])]) == 0
    printed = json.loads(capsys.readouterr().out)
    spec = load_catalog()[LLAMA].spec()
    run = RunSettings(context=8192)
    est = estimate(spec, parse_format(fmt), None, run)
    answer = fit_answer(spec, parse_format(fmt), run, est, budget_from_gpu(gpu)) if gpu else None
    assert json.loads(json.dumps(estimate_json(est, answer))) == printed
    if gpu is None:
        assert all(printed[k] is None for k in FIT_KEYS)


def test_offload_json_carries_the_speed_and_layer_counts(capsys):
    assert main(["estimate", "--model", MIXTRAL, "--format", "q4_k_m", "--gpu", "4090", "--json"]) == 0
    offload = json.loads(capsys.readouterr().out)["offload"]
    assert offload["repeating_layers_on_gpu"] == offload["gpu_layers"] - 1
    assert offload["speed"]["estimate"] is True and offload["speed"]["decode_tokens_per_s"] > 0


def test_plan_rows_carry_the_estimate_bytes_with_their_derivation():
    est, answer = _answer(LLAMA, "q4_k_m", budget_from_gpu("rtx-4090"), context=8192)
    rows = {r["quantity"]: r for r in plan_rows(est, answer)}
    assert all(list(r) == list(ROW_COLUMNS) for r in rows.values())
    for name, fig in (
        ("gpu weights", est.weights),
        ("gpu kv_cache", est.kv_cache),
        ("host weights", est.host_weights),
    ):
        assert rows[name]["value"] == fig.bytes and rows[name]["unit"] == "bytes"
        assert rows[name]["gib"] == round(fig.bytes / (1 << 30), 4)
        assert rows[name]["rule"] == fig.rule and (rows[name]["low"], rows[name]["high"]) == fig.band
    assert rows["gpu total"]["value"] == est.total
    assert rows["headroom"]["value"] == answer.fit.headroom_bytes
    assert rows["fits"]["value"] is True
    assert rows["max_context"]["value"] == answer.max_context.value
    assert rows["decode_tokens_per_s"]["value"] == round(answer.speed.decode_tokens_per_s, 2)
    assert "estimate" in rows["decode_tokens_per_s"]["unit"]


def test_plan_rows_without_a_gpu_stop_after_the_estimate():
    spec = load_catalog()[LLAMA].spec()
    est = estimate(spec, parse_format("bf16"), None, RunSettings())
    names = [r["quantity"] for r in plan_rows(est)]
    assert names[-1] == "host total" and "fits" not in names


def test_rows_csv_round_trips_and_leaves_missing_values_empty():
    est, answer = _answer(MIXTRAL, "q4_k_m", budget_from_gpu("rtx-4090"))
    rows = plan_rows(est, answer)
    text = rows_csv(rows, ROW_COLUMNS)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["quantity"] for r in parsed] == [r["quantity"] for r in rows]
    by_name = {r["quantity"]: r for r in parsed}
    assert int(by_name["gpu weights"]["value"]) == est.weights.bytes
    assert by_name["max_context"]["value"] == ""  # none fits: None is written empty
    assert int(by_name["offload gpu_layers"]["value"]) == answer.offload.gpu_layers
    assert rows_csv([]) == "\n"


def test_fit_estimate_and_answer_agree():
    budget = budget_from_size("10GiB", 2)
    est, answer = _answer(LLAMA, "bf16", budget)
    direct = fit_estimate(est, budget)
    assert (answer.fit.fits, answer.fit.headroom_bytes) == (direct.fits, direct.headroom_bytes)
    assert answer.fit.split is not None and answer.fit.split.mode == "layer"
