"""The one plan request: text parsers shared by flags, links and API queries, and resolve()."""

import pytest

from planner.errors import RequestError
from planner.hardware.units import GIB
from planner.request import PlanRequest, parse_fraction, parse_tokens, parse_whole, resolve

LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("8192", 8192),
        ("8,192", 8192),
        ("32k", 32768),
        ("32K", 32768),
        ("1m", 1 << 20),
        ("0.5k", 512),
        (4096, 4096),
    ],
)
def test_token_counts_read_as_the_app_labels_them(text, tokens):
    # the app's context slider labels 32,768 tokens "32k" (n // 1024) and 1,048,576 "1024k"
    assert parse_tokens("context", text) == tokens


@pytest.mark.parametrize("text", ["-5", "0", "1e400", "abc", "32kk", "nan", "inf", "1.5", "", "9" * 40])
def test_bad_token_counts_name_the_parameter(text):
    with pytest.raises(RequestError) as err:
        parse_tokens("context", text)
    assert err.value.parameter == "context" and str(err.value).startswith("context ")
    assert len(str(err.value)) < 120  # a long value is cut, never echoed whole


@pytest.mark.parametrize(
    ("text", "ok"), [("1", True), ("64", True), ("0", False), ("1000", False), ("abc", False)]
)
def test_gpu_counts(text, ok):
    if ok:
        assert parse_whole("gpus", text, 1, 64) == int(text)
    else:
        with pytest.raises(RequestError, match="gpus"):
            parse_whole("gpus", text, 1, 64)


@pytest.mark.parametrize("text", ["0", "1.5", "-0.1", "x", "nan"])
def test_fractions_outside_0_1_are_refused(text):
    with pytest.raises(RequestError, match=r"gpu_memory_utilization must be a number in \(0, 1\]"):
        parse_fraction("gpu_memory_utilization", text)


def test_from_params_reads_link_and_api_spellings():
    request = PlanRequest.from_params(
        {
            "model": LLAMA,
            "format": "Q4_K_M",
            "context": "32k",
            "kv-dtype": "q8_0",
            "gpu": "rtx-3090",
            "gpus": "2",
        }
    )
    assert (request.context, request.kv_dtype, request.gpus) == (32768, "q8_0", 2)
    plan = resolve(request)
    assert plan.format.id == "q4_k_m" and plan.engine == "llama.cpp"  # capitals as the README writes them
    assert (
        plan.budget.count == 2 and plan.budget.devices[0].capacity_bytes == 24 * GIB
    )  # NVML total 24576 MiB
    assert plan.settings.kv_dtype_k == plan.settings.kv_dtype_v == "q8_0"


def test_unknown_and_overlong_parameters_are_refused_by_name():
    with pytest.raises(RequestError) as err:
        PlanRequest.from_params({"contxt": "8k"})
    assert err.value.parameter == "contxt" and "known:" in str(err.value)
    with pytest.raises(RequestError) as err:
        PlanRequest.from_params({"vram": "9" * 100_000})
    assert err.value.parameter == "vram" and len(str(err.value)) < 100


def test_default_context_is_the_apps_8192():
    assert PlanRequest().context == 8192
    plan = resolve(PlanRequest(model=LLAMA, format="bf16"))
    assert plan.settings.context == 8192 and plan.budget is None


@pytest.mark.parametrize(
    ("changes", "parameter", "message"),
    [
        ({"vram": "24"}, "vram", "reads as 24 bytes; give the unit: 24GiB"),
        ({"vram": "24g"}, "vram", "ambiguous"),
        ({"gpus": 2}, "gpus", "a GPU count needs a GPU"),
        ({"live": True, "gpu": "4090"}, "live", "leave out the GPU name and size"),
        ({"format": "nope"}, "format", "unknown format 'nope'"),
        ({"engine": "vllm", "format": "q4_k_m"}, "engine", "vllm does not load 'q4_k_m'"),
    ],
)
def test_resolve_names_the_parameter(changes, parameter, message):
    with pytest.raises(RequestError) as err:
        resolve(PlanRequest(model=LLAMA, format="bf16").with_(**changes))
    assert err.value.parameter == parameter and message in str(err.value)


def test_need_budget_and_messages_without_cli_syntax():
    with pytest.raises(RequestError) as err:
        resolve(PlanRequest(model=LLAMA, format="bf16"), need_budget=True)
    assert "--" not in str(err.value)  # the app and the API show these messages too
    with pytest.raises(RequestError) as err:
        resolve(PlanRequest(model=LLAMA, format="bf16", gpu="no-such-gpu-9000"))
    assert err.value.parameter == "gpu" and "no GPU in the catalog matches" in str(err.value)


def test_the_app_never_reads_local_files(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama", "hidden_size": 64}')
    with pytest.raises(Exception) as err:
        resolve(PlanRequest(model=str(tmp_path), format="bf16", offline=True), allow_local=False)
    assert "not in the shipped catalog" in str(err.value)
