"""planner.hub against a fake Hub on loopback (tests/fakehub.py).

No mocking of huggingface_hub: its real client talks HTTP to a local server. The
endpoint and cache are redirected by patching ``huggingface_hub.constants`` the way
huggingface_hub's own tests do (``ENDPOINT`` *and* ``HUGGINGFACE_CO_URL_TEMPLATE``,
which is derived from it at import time), with a fresh cache per test.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path

import pytest
from huggingface_hub import constants

from planner.errors import (
    ConfigError,
    HubError,
    HubGatedError,
    HubNotFoundError,
    HubOfflineError,
    HubRateLimitError,
    HubTimeoutError,
    ModelNotFoundError,
    PlannerError,
)
from planner.hub import (
    GGUFVariant,
    PreQuantization,
    TensorEntry,
    check_repo_id,
    fetch_config,
    fetch_model_info,
    gguf_quant_type,
    gguf_variants,
    merge_quantization,
    quantization_from_config,
    quantization_from_tensors,
)
from tests.fakehub import FakeFile, FakeHub, build_safetensors

TINY = "fake-org/tiny-llama"
TINY_SHA = "1" * 40
GPTQ = "fake-org/tiny-llama-gptq"
FP8 = "fake-org/tiny-fp8"
GGUF = "fake-org/tiny-llama-GGUF"
SENTINEL = "hf_SENTINELdoNotLeak0123456789"

# Stored elements of the tiny llama: embed + lm_head + final norm + 2 layers.
TINY_PARAMS = 2 * 256 * 64 + 64 + 2 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 128 * 64)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = FakeHub().start()
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agent_harnesses.json"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    try:
        yield server
    finally:
        server.stop()


def repo_requests(server: FakeHub, repo_id: str | None = None):
    """Requests about repos (huggingface_hub also asks for /api/agent-harnesses)."""
    return [
        r
        for r in server.requests
        if "agent-harnesses" not in r.path and (repo_id is None or repo_id in r.path)
    ]


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


# --------------------------------------------------------------------------- happy paths


def test_fetch_config_downloads_into_the_hf_cache(hub, tmp_path):
    config = fetch_config(TINY)
    assert config["model_type"] == "llama"
    assert config["num_hidden_layers"] == 2
    cached = tmp_path / "hub" / "models--fake-org--tiny-llama" / "snapshots" / TINY_SHA / "config.json"
    assert cached.is_file()
    assert (tmp_path / "hub" / "models--fake-org--tiny-llama" / "refs" / "main").read_text() == TINY_SHA


def test_fetch_config_by_commit_sha(hub):
    assert fetch_config(TINY, revision=TINY_SHA)["hidden_size"] == 64


def test_model_info_dense_safetensors(hub, tmp_path):
    model = fetch_model_info(TINY)
    assert (model.repo_id, model.revision, model.sha, model.from_cache) == (TINY, "main", TINY_SHA, False)
    assert model.config is not None and model.config["model_type"] == "llama"
    st = model.safetensors
    assert st is not None
    assert st.parameters == {"BF16": TINY_PARAMS}
    assert st.total == TINY_PARAMS
    assert st.bytes_by_dtype == {"BF16": 2 * TINY_PARAMS} and st.total_bytes == 2 * TINY_PARAMS
    assert (st.sharded, st.files, st.tensor_count) == (False, ("model.safetensors",), 21)
    assert st.tensors_complete
    assert TensorEntry("model.layers.1.self_attn.k_proj.weight", "BF16", (32, 64)) in st.tensors
    assert st.quantization is None and model.quantization is None
    assert model.gguf == ()
    store = tmp_path / "hub" / ".vram-planner" / "models--fake-org--tiny-llama"
    assert (store / f"{TINY_SHA}.json").is_file()
    assert (store / "refs" / "main").read_text() == TINY_SHA


def test_model_info_gptq_sharded_detects_prequantization(hub):
    model = fetch_model_info(GPTQ)
    st = model.safetensors
    assert st is not None and st.sharded
    assert st.files == ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    assert set(st.parameters) == {"F16", "I32"}
    assert TensorEntry("model.layers.0.self_attn.q_proj.qweight", "I32", (8, 64)) in st.tensors
    assert st.quantization is not None
    assert (st.quantization.method, st.quantization.bits, st.quantization.group_size) == ("gptq", 4, 32)
    q = model.quantization
    assert q is not None
    assert (q.method, q.bits, q.group_size, q.source) == ("gptq", 4, 32, "config+tensors")
    assert q.config is not None and q.config["quant_method"] == "gptq"


def test_model_info_fp8_detected_from_tensors_only(hub):
    model = fetch_model_info(FP8)
    assert model.safetensors is not None and "F8_E4M3" in model.safetensors.parameters
    q = model.quantization
    assert q is not None
    assert (q.method, q.bits, q.source) == ("fp8", 8, "tensors")
    assert any("weight_scale_inv" in e for e in q.evidence)


def test_model_info_gguf_repo_lists_variants(hub):
    model = fetch_model_info(GGUF)
    assert model.config is None and model.safetensors is None and model.quantization is None
    by_quant = {v.quant: v for v in model.gguf if not v.is_projector}
    assert set(by_quant) == {"IQ2_XS", "Q4_K_M", "UD-Q4_K_XL", "Q6_K", "Q8_0", "F16", "BF16"}
    bf16 = by_quant["BF16"]
    assert bf16.name == "BF16/tiny-llama-BF16.gguf"
    assert (bf16.shards, bf16.size_bytes, bf16.complete) == (3, 3_100_000, True)
    assert (by_quant["Q6_K"].shards, by_quant["Q6_K"].size_bytes) == (2, 1_300_000)
    assert by_quant["Q4_K_M"].files == ("tiny-llama-Q4_K_M.gguf",)
    sizes = [v.size_bytes for v in model.gguf if not v.is_projector]
    assert sizes == sorted(sizes)
    projector = model.gguf[-1]
    assert projector.is_projector and projector.quant == "F16"
    # No safetensors in the file list: no header requests at all.
    assert not [r for r in repo_requests(hub, GGUF) if ".safetensors" in r.path]


def test_repeat_online_call_reuses_cached_summary_and_config(hub):
    first = fetch_model_info(GPTQ)
    hub.clear()
    second = fetch_model_info(GPTQ)
    assert second == first and second.safetensors == first.safetensors
    paths = [r.path for r in repo_requests(hub)]
    assert len(paths) == 1 and paths[0].startswith(f"/api/models/{GPTQ}")


def test_commit_sha_revision_answers_from_cache_without_requests(hub):
    first = fetch_model_info(TINY, revision=TINY_SHA)
    hub.clear()
    again = fetch_model_info(TINY, revision=TINY_SHA)
    assert again.from_cache and again.safetensors == first.safetensors
    assert repo_requests(hub) == []


def test_corrupt_summary_cache_is_ignored(hub, tmp_path, monkeypatch):
    fetch_model_info(TINY)
    store = tmp_path / "hub" / ".vram-planner" / "models--fake-org--tiny-llama"
    (store / f"{TINY_SHA}.json").write_text("{not json")
    assert fetch_model_info(TINY).safetensors is not None  # online: fetched again
    (store / f"{TINY_SHA}.json").write_text('{"format": 999}')
    go_offline(monkeypatch)
    with pytest.raises(HubOfflineError):
        fetch_model_info(TINY)


def test_unreadable_safetensors_header_degrades_to_none(hub, caplog):
    broken = b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"{not a header}!!"
    hub.repos[TINY].files["model.safetensors"] = FakeFile(len(broken), broken, lfs=True, etag="b" * 40)
    model = fetch_model_info(TINY)
    assert model.safetensors is None and model.config is not None
    assert "could not be parsed" in caplog.text


# --------------------------------------------------------------------------- offline and cache


def test_offline_mode_answers_from_cache_after_online_fetch(hub, monkeypatch):
    online = {repo: fetch_model_info(repo) for repo in (TINY, GPTQ, GGUF)}
    config = fetch_config(TINY)
    go_offline(monkeypatch)
    hub.clear()
    for repo, first in online.items():
        again = fetch_model_info(repo)
        assert again.from_cache
        assert (again.sha, again.config, again.safetensors, again.gguf) == (
            first.sha,
            first.config,
            first.safetensors,
            first.gguf,
        )
        assert again.quantization == first.quantization
    assert fetch_config(TINY) == config
    assert hub.requests == []  # not even telemetry: offline means no traffic


def test_unreachable_hub_answers_from_cache(hub):
    first = fetch_model_info(TINY)
    hub.stop()
    again = fetch_model_info(TINY)
    assert again.from_cache and again.safetensors == first.safetensors
    assert fetch_config(TINY) == first.config


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_offline_mode_with_empty_cache(hub, monkeypatch, fetch):
    go_offline(monkeypatch)
    with pytest.raises(HubOfflineError, match="HF_HUB_OFFLINE") as info:
        fetch(TINY)
    assert "not in the local cache" in str(info.value)
    assert repo_requests(hub) == []


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_unreachable_hub_with_empty_cache(hub, fetch):
    hub.stop()
    with pytest.raises(HubOfflineError, match="cannot be reached"):
        fetch(TINY, timeout=2)


def test_rate_limit_falls_back_to_cache_but_a_vanished_repo_does_not(hub):
    fetch_model_info(TINY)
    repo = hub.repos[TINY]
    repo.error = {"status": 429, "headers": {"RateLimit": '"api";r=0;t=9'}}
    assert fetch_model_info(TINY).from_cache
    assert fetch_config(TINY)["model_type"] == "llama"
    repo.error = {"status": 401, "code": "RepoNotFound", "message": "Repository not found"}
    with pytest.raises(HubNotFoundError):
        fetch_model_info(TINY)
    with pytest.raises(HubNotFoundError):
        fetch_config(TINY)


# --------------------------------------------------------------------------- errors

ERROR_CASES = [
    ("fake-org/missing", HubNotFoundError, ["not found on the Hub", "private", "HF_TOKEN"]),
    ("fake-org/gated", HubGatedError, ["gated", "accept the license", "HF_TOKEN"]),
    ("fake-org/rate-limited", HubRateLimitError, ["rate-limiting", "retry in 42 s"]),
    ("fake-org/server-error", HubError, ["HTTP 500", "try again later"]),
    ("fake-org/bad-token", HubError, ["invalid or expired", "HF_TOKEN"]),
]


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
@pytest.mark.parametrize(("repo_id", "error", "phrases"), ERROR_CASES)
def test_hub_errors_map_to_planner_errors(hub, fetch, repo_id, error, phrases):
    with pytest.raises(PlannerError) as info:
        fetch(repo_id)
    exc = info.value
    assert type(exc) is error
    for phrase in phrases:
        assert phrase in str(exc)
    # Nothing from huggingface_hub or httpx rides along.
    assert exc.__cause__ is None and exc.__context__ is None
    if error is HubRateLimitError:
        assert exc.retry_after == 42


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_no_config_is_not_found(hub, fetch):
    with pytest.raises(HubNotFoundError, match=r"no config\.json"):
        fetch("fake-org/no-config")


def test_adapter_repo_gets_a_hint(hub):
    with pytest.raises(HubNotFoundError, match="adapter"):
        fetch_model_info("fake-org/adapter")


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_unknown_revision_is_not_found(hub, fetch):
    with pytest.raises(HubNotFoundError, match="revision 'v9'"):
        fetch(TINY, revision="v9")


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_slow_hub_times_out_quickly(hub, fetch):
    start = time.monotonic()
    with pytest.raises(HubTimeoutError, match="did not answer in time") as info:
        fetch("fake-org/slow", timeout=0.3)
    assert time.monotonic() - start < 2.5
    assert info.value.__context__ is None


@pytest.mark.parametrize("fetch", [fetch_config, fetch_model_info])
def test_invalid_config_is_a_config_error(hub, fetch):
    with pytest.raises(ConfigError, match="not valid JSON"):
        fetch("fake-org/bad-config")


@pytest.mark.parametrize(
    "repo_id",
    [
        "",
        "gpt2",
        "a/b/c",
        "../etc/passwd",
        "org/..",
        "org/na--me",
        "org/name.git",
        "org/-name",
        "org/ name",
        "https://huggingface.co/org/name",
        "huggingface.co/org/name",
        "org/name?x=1",
        "x" * 200 + "/y",
        None,
        42,
    ],
)
def test_invalid_repo_ids_fail_before_any_request(hub, repo_id):
    for fetch in (fetch_config, fetch_model_info):
        with pytest.raises(ModelNotFoundError):
            fetch(repo_id)
    assert repo_requests(hub) == []


def test_check_repo_id_strips_and_accepts_real_ids():
    assert check_repo_id("  meta-llama/Llama-3.1-8B-Instruct ") == "meta-llama/Llama-3.1-8B-Instruct"
    assert check_repo_id("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    with pytest.raises(ModelNotFoundError, match="URL"):
        check_repo_id("https://huggingface.co/Qwen/Qwen2.5-0.5B")


@pytest.mark.parametrize("revision", ["", " ", "main branch", "a..b", "x\n", "r" * 300])
def test_invalid_revisions(hub, revision):
    with pytest.raises(ModelNotFoundError):
        fetch_model_info(TINY, revision=revision)
    assert repo_requests(hub) == []


# --------------------------------------------------------------------------- the token


def test_token_from_env_is_sent_but_never_shown(hub, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    caplog.set_level(logging.DEBUG)
    fetch_model_info(TINY)
    sent = repo_requests(hub, TINY)
    assert sent and all(r.headers.get("authorization") == f"Bearer {SENTINEL}" for r in sent)
    assert not any(SENTINEL in r.path for r in hub.requests)

    failures = []
    for repo_id, _, _ in [*ERROR_CASES, ("fake-org/slow", None, None), ("fake-org/no-config", None, None)]:
        for fetch in (fetch_config, fetch_model_info):
            with pytest.raises(PlannerError) as info:
                fetch(repo_id, timeout=0.3)
            failures.append(info.value)
    hub.stop()
    with pytest.raises(HubOfflineError) as info:
        fetch_config(GPTQ, timeout=1)
    failures.append(info.value)

    for exc in failures:
        shown = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.args)
        assert SENTINEL not in shown
    assert SENTINEL not in caplog.text
    out, err = capsys.readouterr()
    assert SENTINEL not in out and SENTINEL not in err


def test_token_file_is_used_when_env_is_unset(hub):
    Path(constants.HF_TOKEN_PATH).write_text(SENTINEL)
    fetch_config(TINY)
    assert all(r.headers.get("authorization") == f"Bearer {SENTINEL}" for r in repo_requests(hub, TINY))


def test_no_token_sends_no_authorization(hub):
    fetch_config(TINY)
    assert all("authorization" not in r.headers for r in repo_requests(hub, TINY))


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("filename", "quant"),
    [
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("Qwen2.5-7B-Instruct-IQ2_XS.gguf", "IQ2_XS"),
        ("llama-2-7b.Q8_0.gguf", "Q8_0"),
        ("qwen2-7b-instruct-q5_k_s.gguf", "Q5_K_S"),
        ("ggml-model-f16.gguf", "F16"),
        ("model-fp16.gguf", "F16"),
        ("gemma-3-27b-it-BF16-00001-of-00002.gguf", "BF16"),
        ("Q4_K_M/DeepSeek-R1-Q4_K_M-00003-of-00009.gguf", "Q4_K_M"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
        ("Llama-3.2-1B-Instruct-IQ4_NL.gguf", "IQ4_NL"),
        ("Llama-3.2-1B-Instruct-IQ3_XXS.gguf", "IQ3_XXS"),
        ("Llama-3.2-1B-Instruct-Q4_0_4_4.gguf", "Q4_0_4_4"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("BitNet-b1.58-TQ1_0.gguf", "TQ1_0"),
        ("model.gguf", None),
        ("Q2-finetune.gguf", None),
    ],
)
def test_gguf_quant_type(filename, quant):
    assert gguf_quant_type(filename) == quant


def test_gguf_variants_group_shards_and_flag_missing_ones():
    variants = gguf_variants(
        [
            ("m-Q4_K_M-00001-of-00003.gguf", 10),
            ("m-Q4_K_M-00003-of-00003.gguf", 5),
            ("m-Q8_0.gguf", 30),
            ("m-Q2_K.gguf.part1of2", 4),
            ("m-Q2_K.gguf.part2of2", 4),
            ("README.md", 1),
            ("config.json", 1),
        ]
    )
    assert [v.quant for v in variants] == ["Q2_K", "Q4_K_M", "Q8_0"]
    q2, q4, _ = variants
    assert (q2.shards, q2.size_bytes, q2.complete) == (2, 8, True)
    assert (q4.shards, q4.expected_shards, q4.size_bytes, q4.complete) == (2, 3, 15, False)
    assert isinstance(q4, GGUFVariant) and q4.name == "m-Q4_K_M.gguf"


def _t(name: str, dtype: str, *shape: int) -> TensorEntry:
    return TensorEntry(name, dtype, shape)


def test_quantization_from_tensors_awq():
    p = "model.layers.0.self_attn.q_proj"
    q = quantization_from_tensors(
        [_t(f"{p}.qweight", "I32", 64, 8), _t(f"{p}.qzeros", "I32", 2, 8), _t(f"{p}.scales", "F16", 2, 64)]
    )
    assert q is not None and (q.method, q.bits, q.group_size, q.source) == ("awq", 4, 32, "tensors")


def test_quantization_from_tensors_bitsandbytes():
    p = "model.layers.0.mlp.up_proj.weight"
    nf4 = quantization_from_tensors(
        [
            _t(p, "U8", 4096, 1),
            _t(f"{p}.absmax", "F32", 128),
            _t(f"{p}.quant_map", "F32", 16),
            _t(f"{p}.quant_state.bitsandbytes__nf4", "U8", 100),
        ]
    )
    assert nf4 is not None and (nf4.method, nf4.bits) == ("bitsandbytes", 4)
    assert "nf4" in nf4.evidence[0]
    int8 = quantization_from_tensors([_t(p, "I8", 128, 64), _t(p.replace("weight", "SCB"), "F32", 128)])
    assert int8 is not None and (int8.method, int8.bits) == ("bitsandbytes", 8)


def test_quantization_from_tensors_mxfp4_nvfp4_and_plain():
    e = "model.layers.0.mlp.experts"
    mx = quantization_from_tensors(
        [
            _t(f"{e}.gate_up_proj_blocks", "U8", 32, 5760, 90, 16),
            _t(f"{e}.gate_up_proj_scales", "U8", 32, 5760, 90),
        ]
    )
    assert mx is not None and (mx.method, mx.bits, mx.group_size) == ("mxfp4", 4, 32)
    w = "model.layers.0.mlp.down_proj"
    nv = quantization_from_tensors(
        [
            _t(f"{w}.weight", "U8", 64, 32),
            _t(f"{w}.weight_scale", "F8_E4M3", 64, 4),
            _t(f"{w}.weight_scale_2", "F32"),
        ]
    )
    assert nv is not None and (nv.method, nv.bits) == ("nvfp4", 4)
    plain = quantization_from_tensors([_t("lm_head.weight", "BF16", 256, 64), _t("norm.weight", "F32", 64)])
    assert plain is None


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}}, ("gptq", 4, 128)),
        ({"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": -1}}, ("awq", 4, None)),
        (
            {"quantization_config": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}},
            ("bitsandbytes", 4, None),
        ),
        (
            {"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}},
            ("bitsandbytes", 8, None),
        ),
        (
            {"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}},
            ("fp8", 8, None),
        ),
        ({"quantization_config": {"quant_method": "mxfp4"}}, ("mxfp4", 4, 32)),
        (
            {
                "quantization_config": {
                    "quant_method": "compressed-tensors",
                    "config_groups": {
                        "group_0": {"weights": {"num_bits": 4, "group_size": 128, "type": "int"}}
                    },
                }
            },
            ("compressed-tensors", 4, 128),
        ),
        ({"text_config": {"quantization_config": {"quant_method": "AWQ", "bits": 4}}}, ("awq", 4, None)),
        ({"quantization_config": {"quant_method": "gptq", "bits": True}}, ("gptq", None, None)),
    ],
)
def test_quantization_from_config(config, expected):
    q = quantization_from_config(config)
    assert q is not None and (q.method, q.bits, q.group_size) == expected and q.source == "config"


@pytest.mark.parametrize("config", [None, {}, {"quantization_config": None}, {"quantization_config": "gptq"}])
def test_no_quantization_config(config):
    assert quantization_from_config(config) is None


def test_merge_quantization_fills_gaps_from_tensors():
    from_config = PreQuantization("gptq", None, None, source="config", evidence=("config",))
    from_tensors = PreQuantization("gptq", 4, 128, source="tensors", evidence=("tensors",))
    merged = merge_quantization(from_config, from_tensors)
    assert merged is not None and (merged.bits, merged.group_size, merged.source) == (
        4,
        128,
        "config+tensors",
    )
    assert merge_quantization(None, from_tensors) is from_tensors
    assert merge_quantization(None, None) is None


def test_build_safetensors_header_is_8_byte_aligned():
    data = build_safetensors({"w": ("BF16", [3, 5])})
    header_len = int.from_bytes(data[:8], "little")
    assert header_len % 8 == 0 and len(data) == 8 + header_len + 30
