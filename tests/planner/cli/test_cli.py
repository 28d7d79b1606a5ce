"""``python -m planner params``: the JSON contract, text output, and errors."""

import json
import subprocess
import sys

import pytest

from planner.cli import main

TINY = {
    "model_type": "qwen3",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "vocab_size": 100,
    "tie_word_embeddings": True,
}
# By hand: embedding 100 x 64 (tied, no lm_head); per layer q 64 x 128, k and v 64 x 64, o 128 x 64,
# q_norm and k_norm 32 each, gate/up/down 64 x 96, two RMSNorms of 64; final norm 64
# (transformers' Qwen3ForCausalLM on the meta device counts the same 92,864).
TINY_PARAMETERS = 100 * 64 + 2 * (64 * 128 + 2 * 64 * 64 + 128 * 64 + 2 * 32 + 3 * 64 * 96 + 2 * 64) + 64


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    return tmp_path


def test_params_json_contract(config_dir, capsys):
    assert main(["params", "--model", str(config_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["architecture"] == "qwen3"
    assert set(out["parameters"]) >= {"total", "active"}
    assert out["parameters"]["total"] == out["parameters"]["active"] == TINY_PARAMETERS == 92_864
    assert sum(t["count"] * _prod(t["shape"]) for t in out["tensors"]) == TINY_PARAMETERS
    assert {"name", "role", "shape", "count"} <= set(out["tensors"][0])
    layers = [(layer["index"], layer["attention"], layer["window"]) for layer in out["layers"]]
    assert layers == [(0, "full", None), (1, "full", None)]


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def test_params_text_output(config_dir, capsys):
    assert main(["params", "--model", str(config_dir / "config.json")]) == 0
    out = capsys.readouterr().out
    assert "qwen3" in out
    assert "model.layers.*.self_attn.q_norm.weight" in out
    assert "lm_head is tied" in out


def test_catalog_id_works_offline(capsys):
    from planner.catalog import load_catalog

    model_id = sorted(load_catalog())[0]
    assert main(["params", "--model", model_id, "--json", "--offline"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == model_id


@pytest.mark.parametrize(
    ("model", "message"),
    [("nobody/nothing", "not in the shipped catalog"), ("./missing.json", "no such file")],
)
def test_unknown_model_is_a_clean_error(model, message, capsys):
    assert main(["params", "--model", model, "--offline"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_broken_config_is_a_clean_error(tmp_path, capsys):
    (tmp_path / "config.json").write_bytes(b"\x00\xff not json")
    assert main(["params", "--model", str(tmp_path)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_module_entry_point(config_dir):
    result = subprocess.run(
        [sys.executable, "-m", "planner", "params", "--model", str(config_dir), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["parameters"]["total"] == TINY_PARAMETERS


ESTIMATE_KEYS = {
    "model",
    "format",
    "engine",
    "context",
    "batch",
    "kv_dtype",
    "parameters",
    "memory",
    "host_memory",
}


def _estimate(capsys, *args):
    code = main(["estimate", "--model", "meta-llama/Llama-3.1-8B", "--offline", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_estimate_json_contract(capsys):
    code, out, _ = _estimate(capsys, "--format", "bnb-nf4", "--context", "8192", "--json")
    assert code == 0
    data = json.loads(out)
    assert ESTIMATE_KEYS | {"explain"} <= set(data)
    assert (data["format"], data["engine"], data["context"], data["batch"]) == (
        "bnb-nf4",
        "transformers",
        8192,
        1,
    )
    memory = data["memory"]
    assert all(
        isinstance(memory[k], int) and memory[k] >= 0
        for k in ("weights", "kv_cache", "activations", "overhead")
    )
    assert (
        memory["total"] == memory["weights"] + memory["kv_cache"] + memory["activations"] + memory["overhead"]
    )
    host = data["host_memory"]
    assert host["total"] == host["weights"] + host["kv_cache"] + host["activations"]
    assert data["parameters"]["total"] == 8_030_261_248


def test_estimate_defaults_engine_from_format(capsys):
    code, out, _ = _estimate(capsys, "--format", "Q4_K_M", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["engine"], data["format"], data["context"]) == ("llama.cpp", "q4_k_m", 8192)


def test_estimate_text_output_says_gib(capsys):
    code, out, _ = _estimate(capsys, "--format", "bf16")
    assert code == 0
    assert "GiB" in out
    assert "KV cache" in out


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["--format", "int3000"], "bnb-nf4"),
        (["--format", "bf16", "--engine", "tensorrt"], "vllm"),
        (["--format", "bf16", "--kv-dtype", "int1"], "fp16"),
    ],
)
def test_estimate_unknown_values_exit_2_and_list_valid_ones(capsys, args, listed):
    code, _, err = _estimate(capsys, *args)
    assert code == 2
    assert listed in err
    assert "Traceback" not in err


def test_estimate_rejects_absurd_context(capsys):
    code, _, err = _estimate(capsys, "--format", "bf16", "--context", str(10**12))
    assert code == 2
    assert "context" in err


# ---------------------------------------------------------------------------------------------
# estimate --gpu / --vram / --gpus / --live, and fit
# ---------------------------------------------------------------------------------------------

FIT_KEYS = {
    "gpu",
    "per_gpu",
    "fits",
    "headroom",
    "max_context",
    "max_batch",
    "decode_tokens_per_s",
    "prefill_seconds",
}


def _json(capsys, *args):
    code, out, err = _estimate(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_estimate_json_without_a_gpu_keeps_the_contract_and_adds_nulls(capsys):
    data = _json(capsys, "--format", "bnb-nf4")
    assert ESTIMATE_KEYS | {"explain", "notes", "bits_per_weight"} <= set(data)
    assert all(data[k] is None for k in FIT_KEYS)


def test_estimate_json_with_a_catalog_gpu(capsys):
    data = _json(capsys, "--format", "q4_k_m", "--gpu", "4090")
    plain = _json(capsys, "--format", "q4_k_m")
    assert {k: data[k] for k in plain if k not in FIT_KEYS} == {
        k: v for k, v in plain.items() if k not in FIT_KEYS
    }
    assert data["gpu"] == {
        "name": "NVIDIA GeForce RTX 4090",
        "count": 1,
        "vram": 24564 << 20,
        "source": "catalog",
    }
    (share,) = data["per_gpu"]
    assert share["usable"] == share["capacity"] - share["margin"] == (24564 - 1024) << 20
    assert share["used"] == data["memory"]["total"]
    assert data["fits"] is True and data["headroom"] == share["usable"] - share["used"] > 0
    assert data["max_context"] == 131072 and data["max_context_capped"] is True
    assert isinstance(data["max_batch"], int) and data["max_batch"] > 1


def test_estimate_vram_units_are_honoured(capsys):
    gb = _json(capsys, "--format", "bf16", "--vram", "24GB")
    gib = _json(capsys, "--format", "bf16", "--vram", "24GiB")
    assert (gb["gpu"]["vram"], gib["gpu"]["vram"]) == (24 * 10**9, 24 << 30)
    assert gb["max_context"] < gib["max_context"]


def test_estimate_with_several_gpus(capsys):
    data = _json(capsys, "--format", "bf16", "--vram", "10GiB", "--gpus", "2")
    assert data["gpu"]["count"] == 2 and len(data["per_gpu"]) == 2
    assert sum(s["used"] for s in data["per_gpu"]) > data["memory"]["total"]  # overhead on each GPU
    # headroom adds up over the cards; the fullest card's own is reported beside it and decides the fit
    assert data["usable"] == sum(s["usable"] for s in data["per_gpu"])
    assert data["required"] == sum(s["used"] for s in data["per_gpu"])
    assert data["headroom"] == data["usable"] - data["required"]
    fullest = min(data["per_gpu"], key=lambda s: s["headroom"])
    assert data["fullest_gpu"] == {"name": fullest["name"], "headroom": fullest["headroom"]}
    assert data["fits"] is (fullest["headroom"] >= 0)
    assert data["split"]["mode"] == "layer"


def test_estimate_text_output_with_a_gpu_says_fits_in_gib(capsys):
    code, out, _ = _estimate(capsys, "--format", "bf16", "--gpu", "rtx-3060")
    assert code == 0
    assert "fits: no, short by" in out and "GiB" in out
    assert "max context at batch 1: none fits" in out


def test_estimate_live_without_a_gpu_is_a_clean_error(capsys, monkeypatch):
    import planner.fit.budget as budget
    from planner.hardware.live import NO_GPU, LiveReport

    monkeypatch.setattr(
        budget, "read_live_gpus", lambda nvml=None: LiveReport(False, f"{NO_GPU}: test", None, None, ())
    )
    code, _, err = _estimate(capsys, "--format", "bf16", "--live")
    assert code == 2
    assert "no NVIDIA GPU detected" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vram", "24g"], "ambiguous"),
        (["--vram", "0GB"], "some memory"),
        (["--gpus", "2"], "--gpus: a GPU count needs a GPU"),
        (["--gpu", "4090", "--gpus", "1000"], "between 1 and"),
        (["--gpu", "nonexistent-gpu-9000"], "no GPU in the catalog"),
        (["--live", "--gpu", "4090"], "--live"),
    ],
)
def test_estimate_absurd_gpu_options_exit_2(capsys, args, message):
    code, _, err = _estimate(capsys, "--format", "bf16", *args)
    assert code == 2
    assert message in err and "Traceback" not in err


def _fit(capsys, *args):
    code = main(["fit", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fit_json_lists_what_fits_sorted_with_one_pick_per_model(capsys):
    code, out, err = _fit(capsys, "--gpu", "4090", "--json")
    assert code == 0, err
    data = json.loads(out)
    rows = data["fits"]
    assert rows and all(r["headroom"] >= 0 for r in rows)
    keys = [(r["parameters"], r["model"], -r["bits_per_weight"]) for r in rows]
    assert keys == sorted(keys)
    picks = {}
    for r in rows:
        picks.setdefault(r["model"], []).append(r["pick"])
    assert all(flags[0] and flags.count(True) == 1 for flags in picks.values())
    assert "meta-llama/Llama-3.1-405B-Instruct" in data["no_fit"]
    assert data["gpu"]["name"] == "NVIDIA GeForce RTX 4090"


def test_fit_honours_engine_and_formats(capsys):
    code, out, _ = _fit(
        capsys, "--vram", "16GiB", "--engine", "llama.cpp", "--formats", "Q4_K_M,q8_0", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["formats"] == ["q4_k_m", "q8_0"]
    assert {r["format"] for r in data["fits"]} <= {"q4_k_m", "q8_0"}
    assert {r["engine"] for r in data["fits"]} == {"llama.cpp"}


def test_fit_text_output(capsys):
    code, out, _ = _fit(capsys, "--gpu", "4090", "--context", "8192")
    assert code == 0
    assert "headroom GiB" in out and "* the pick" in out
    assert "llama.cpp --fit keeps 1024 MiB free" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "fit needs a GPU"), (["--gpu", "4090", "--formats", "int3000"], "unknown format")],
)
def test_fit_errors_exit_2(capsys, args, message):
    code, _, err = _fit(capsys, *args)
    assert code == 2
    assert message in err


def test_estimate_offers_partial_offload_when_llamacpp_does_not_fit(capsys):
    code = main(
        [
            "estimate",
            "--model",
            "mistralai/Mixtral-8x7B-Instruct-v0.1",
            "--format",
            "q4_k_m",
            "--gpu",
            "4090",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["fits"] is False
    offload = data["offload"]
    assert offload["flag"] == f"-ngl {offload['gpu_layers']}" and 0 < offload["gpu_layers"] < 33
    assert offload["gpu"] <= data["per_gpu"][0]["usable"] and offload["host"] > 0
    assert offload["n_cpu_moe_flag"] == f"-ngl 99 --n-cpu-moe {offload['n_cpu_moe']}"
    assert _json(capsys, "--format", "q4_k_m", "--gpu", "4090")["offload"] is None  # it fits: no plan
