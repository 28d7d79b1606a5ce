"""planner.hub.client (fetch_config, fetch_model_info) against the fake Hub: answers, caches, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import constants

from planner.errors import HubNotFoundError, HubOfflineError
from planner.hub import TensorEntry, fetch_config, fetch_model_info
from tests.fakehub import FakeFile, build_safetensors
from tests.planner.hub._fake_repos import (
    FP8,
    GGUF,
    GPTQ,
    SENTINEL,
    TINY,
    TINY_PARAMS,
    TINY_SHA,
    go_offline,
    repo_requests,
)

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


# --------------------------------------------------------------------------- the token


def test_token_file_is_used_when_env_is_unset(hub):
    Path(constants.HF_TOKEN_PATH).write_text(SENTINEL)
    fetch_config(TINY)
    assert all(r.headers.get("authorization") == f"Bearer {SENTINEL}" for r in repo_requests(hub, TINY))


def test_no_token_sends_no_authorization(hub):
    fetch_config(TINY)
    assert all("authorization" not in r.headers for r in repo_requests(hub, TINY))


def test_build_safetensors_header_is_8_byte_aligned():
    data = build_safetensors({"w": ("BF16", [3, 5])})
    header_len = int.from_bytes(data[:8], "little")
    assert header_len % 8 == 0 and len(data) == 8 + header_len + 30
