"""The HTTP API answers exactly what the CLI prints with ``--json``, refuses what the CLI refuses, and reads nothing local.

Each comparison runs the real CLI (``python -m planner ... --json`` in a subprocess) and the API (FastAPI's
test client) on the same plan; ``elapsed_s`` (wall time) is the only field left out.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from planner.api.app import create_app

ROOT = Path(__file__).resolve().parents[3]
LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.fixture(scope="module")
def api():
    return TestClient(create_app())


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planner", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def _drop_elapsed(data):
    if isinstance(data, dict):
        return {k: _drop_elapsed(v) for k, v in data.items() if k != "elapsed_s"}
    if isinstance(data, list):
        return [_drop_elapsed(v) for v in data]
    return data


def _query(argv: list[str]) -> list[tuple[str, str]]:
    """CLI arguments as query parameters: ``--kv-dtype fp8`` -> ``kv-dtype=fp8``, a switch -> ``=on``,
    ``-tp 2`` -> ``tp=2``, a repeated flag repeated, a positional as ``query``."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            out.append(("query", arg))
            i += 1
        elif i + 1 == len(argv) or argv[i + 1].startswith("--"):
            out.append((arg.lstrip("-"), "on"))
            i += 1
        else:
            out.append((arg.lstrip("-"), argv[i + 1]))
            i += 2
    return out


L8B = f"--model {LLAMA}"
H100 = "--gpu h100-sxm"
#: (command, its CLI arguments as a shell would split them): every flag of every command at least once.
SAME_AS_CLI = [
    (c, shlex.split(a))
    for c, a in (
        ("estimate", f"{L8B} --format Q4_K_M --gpu rtx-4090"),
        ("estimate", f"{L8B} --format bf16 --gpu 4090 --gpus 2 --context 32k"),
        ("estimate", f"{L8B} --format awq-int4 --engine vllm --kv-dtype fp8 --vram 24GB"),
        ("estimate", "--model Qwen/Qwen3-8B --format bnb-nf4 --batch 4 --double-quant"),
        (
            "estimate",
            f"{L8B} --format q4_k_m --engine llama.cpp --kv-dtype-k q8_0 --kv-dtype-v q4_0 --flash-attn on "
            "--ubatch 1024 --gpu-layers 20 --gpu rtx-3060 --offline",
        ),
        ("estimate", f"{L8B} --format gptq-int4 --group-size 32 --engine transformers"),
        (
            "estimate",
            f"{L8B} --format bf16 --engine vllm {H100} -tp 2 --max-num-seqs 64 --max-num-batched-tokens 4096 "
            "--gpu-memory-utilization 0.85 --enforce-eager",
        ),
        ("estimate", f"{L8B} --format fp8 --engine VLLM {H100} --kv-cache-memory 20GiB"),
        ("estimate", f"{L8B} --format bf16 --engine sglang {H100} --mem-fraction-static 0.8 --context 16k"),
        (
            "estimate",
            f"{L8B} --format bf16 --engine trtllm {H100} --free-gpu-memory-fraction 0.8 --tensor-parallel 2",
        ),
        (
            "estimate",
            f"{L8B} --format q4_k_m --engine llama.cpp --gpu rtx-4090 --draft-model Qwen/Qwen3-0.6B "
            "--draft-format q8_0 --no-mmproj --offline",
        ),
        ("estimate", f"{L8B} --format bf16 --engine vllm {H100} --lora-rank 16 --max-loras 2 --mmproj"),
        ("fit", "--gpu rtx-4090 --formats bf16,q4_k_m --context 16384"),
        ("fit", "--vram 48GiB -tp 2 --engine vllm --batch 2 --formats bf16,fp8"),
        ("fit", "--gpu rtx-3090 --gpus 2 --formats q4_k_m,q8_0"),
        ("recommend", "--gpu rtx-3090 --formats bf16,q4_k_m --top 3 --family llama"),
        (
            "recommend",
            "--gpu rtx-3090 --gpus 2 --context 32768 --bits 4 --arch moe --sort speed --modality text "
            "--license apache-2.0,mit --min-context 32k --benchmark mmlu --top 2",
        ),
        (
            "recommend",
            "--vram 80GiB --engine vllm --batch 4 --tensor-parallel 1 --bits 16,8 --sort headroom --top 2",
        ),
        ("gpus", "--form datacenter"),
        ("gpus", "4090"),
        ("params", "--model Qwen/Qwen3-8B --offline"),
    )
]


def _case_id(value):
    return value if isinstance(value, str) else " ".join(value)[:80]


@pytest.mark.parametrize(("command", "argv"), SAME_AS_CLI, ids=_case_id)
def test_the_api_answers_exactly_the_clis_json(api, command, argv):
    printed = cli(command, *argv, "--json")
    assert printed.returncode == 0, printed.stderr
    response = api.get(f"/v1/{command}", params=_query(argv))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert _drop_elapsed(response.json()) == _drop_elapsed(json.loads(printed.stdout))


def _cli_flags(command: str) -> set[str]:
    """The command's flags as ``python -m planner <command> --help`` lists them (long names; positionals)."""
    from planner.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return {
        max(a.option_strings, key=len).lstrip("-") if a.option_strings else a.dest
        for a in sub._actions
        if a.dest not in ("help", "json")
    }


@pytest.mark.parametrize("command", ["estimate", "fit", "recommend", "gpus", "params"])
def test_every_cli_flag_is_a_documented_query_parameter_and_compared_above(api, command):
    """Each flag of the command (``live`` aside: refused over HTTP) is in the route's OpenAPI docs and in at least
    one comparison with the CLI above (``--add-model`` in the Hub test below)."""
    flags = _cli_flags(command)
    documented = {
        p["name"] for p in api.get("/openapi.json").json()["paths"][f"/v1/{command}"]["get"]["parameters"]
    }
    assert documented == flags
    aliases = {"tp": "tensor-parallel"}
    used = {aliases.get(name, name) for c, argv in SAME_AS_CLI if c == command for name, _ in _query(argv)}
    assert flags - used - {"live", "add-model"} == set()


def test_recommend_with_hub_models_added_is_the_clis_too(api, hub, tmp_path):
    """``add-model`` may be repeated (as ``--add-model`` is); the Hub ids come from the fake Hub for both."""
    argv = shlex.split(
        "--vram 8GiB --context 2048 --add-model fake-org/tiny-llama --add-model fake-org/gated "
        "--formats bf16,q4_k_m --top 3"
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HUB_CACHE": str(tmp_path / "cli-hub"),
        "HF_HUB_OFFLINE": "0",
        "HF_TOKEN_PATH": str(tmp_path / "token"),
    }
    env.pop("HF_TOKEN", None)
    command = [sys.executable, "-m", "planner", "recommend", *argv, "--json"]
    printed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert printed.returncode == 0, printed.stderr
    response = api.get("/v1/recommend", params=_query(argv))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["extra_models"] == ["fake-org/tiny-llama"]
    assert _drop_elapsed(data) == _drop_elapsed(json.loads(printed.stdout))


BAD = [
    ("estimate", {"context": "-5"}, "context"),
    ("estimate", {"context": "1e400"}, "context"),
    ("estimate", {"batch": "abc"}, "batch"),
    ("estimate", {"gpus": "0"}, "gpus"),
    ("estimate", {"gpus": "1000"}, "gpus"),
    ("estimate", {"gpu-memory-utilization": "1.5"}, "gpu-memory-utilization"),
    ("fit", {"formats": "bf16,nonsense"}, None),
    ("recommend", {"top": "0"}, "top"),
    ("recommend", {"bits": "four"}, "bits"),
    ("recommend", {"gpus": "2", "tensor-parallel": "4"}, "tensor-parallel"),
    ("estimate", {"kv-cache-memory": "lots"}, "kv-cache-memory"),
    ("estimate", {"mem-fraction-static": "0"}, "mem-fraction-static"),
    ("estimate", {"max-num-seqs": "-3"}, "max-num-seqs"),
]


@pytest.mark.parametrize(("command", "bad", "parameter"), BAD, ids=lambda v: str(v))
def test_bad_values_answer_400_with_the_clis_message(api, command, bad, parameter):
    base = (
        {"model": LLAMA, "format": "q4_k_m", "gpu": "rtx-4090"} if command == "estimate" else {"gpu": "4090"}
    )
    params = {**base, **bad}
    response = api.get(f"/v1/{command}", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body.get("parameter") == parameter
    argv = [x for k, v in params.items() for x in (f"--{k}", v)]
    printed = cli(command, *argv, "--json")
    assert printed.returncode == 2 and printed.stdout == ""
    assert body["error"] in printed.stderr  # the same sentence the CLI prints


def test_unknown_repeated_and_overlong_parameters_are_refused_by_name(api):
    r = api.get("/v1/estimate", params={"model": LLAMA, "format": "q4_k_m", "contxt": "8192"})
    assert (
        r.status_code == 400
        and r.json()["parameter"] == "contxt"
        and "unknown parameter" in r.json()["error"]
    )
    r = api.get(f"/v1/estimate?model={LLAMA}&format=q4_k_m&gpu=4090&gpu=3090")
    assert r.status_code == 400 and r.json() == {"error": "gpu is given more than once", "parameter": "gpu"}
    r = api.get("/v1/estimate", params={"model": LLAMA, "format": "q4_k_m", "vram": "9" * 20_000})
    assert r.status_code == 400 and r.json()["parameter"] == "vram" and len(r.text) < 300
    # Underscore spellings are the same flags.
    r = api.get("/v1/estimate", params={"model": LLAMA, "format": "q4_k_m", "kv_dtype": "q8_0"})
    assert r.status_code == 200 and r.json()["kv_dtype"] == "q8_0"


def test_the_api_never_reads_the_servers_gpus_or_files(api, tmp_path):
    r = api.get("/v1/estimate", params={"model": LLAMA, "format": "q4_k_m", "live": "on"})
    assert r.status_code == 400 and r.json()["parameter"] == "live"
    assert api.get("/v1/gpus", params={"live": "1"}).status_code == 400
    config = tmp_path / "config.json"
    config.write_text((ROOT / "tests/fixtures/hub/fake-org/tiny-llama/config.json").read_text())
    assert (
        cli("estimate", "--model", str(config), "--format", "bf16", "--json").returncode == 0
    )  # the CLI may
    for ref in (str(config), str(tmp_path), "./config.json", "~/config.json"):
        r = api.get("/v1/estimate", params={"model": ref, "format": "bf16", "offline": "on"})
        assert r.status_code == 400, ref
        assert "tiny" not in r.text


def test_docs_and_schema_list_every_route(api):
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/estimate", "/v1/fit", "/v1/recommend", "/v1/gpus", "/v1/badge.svg"} <= set(paths)
    names = {p["name"] for p in paths["/v1/estimate"]["get"]["parameters"]}
    assert {"model", "format", "context", "kv-dtype", "gpu", "vram", "gpus"} <= names


def test_answers_carry_cache_headers_and_errors_do_not(api):
    ok = api.get("/v1/gpus", params={"query": "4090"})
    assert ok.headers["cache-control"] == "public, max-age=300"
    bad = api.get("/v1/gpus", params={"query": "no such gpu at all"})
    assert bad.status_code == 400 and bad.headers["cache-control"] == "no-store"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_m_planner_serve_starts_the_api():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/v1/gpus?query=rtx-4090", timeout=5
                ) as r:
                    assert json.loads(r.read())["id"] == "rtx-4090"
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_answer_cache_is_bounded_by_entries_and_bytes():
    from planner.api.app import AnswerCache

    cache = AnswerCache(max_entries=3, max_bytes=100)
    for i in range(5):
        cache.put(i, b"x" * 10)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) == b"x" * 10
    cache.get(2)  # used: the least recently used is now 3
    cache.put("big", b"y" * 13)  # an eighth of 100 bytes at most: not kept
    assert cache.get("big") is None
    cache.put(5, b"z" * 12)
    assert cache.get(3) is None and cache.get(2) is not None
    cache.put(6, b"w" * 12)
    cache.put(7, b"v" * 12)
    assert cache.bytes <= 100 and len(cache) <= 3


def test_hub_models_are_not_cached_and_catalog_answers_are(api):
    from planner.api.app import CACHE

    before = len(CACHE)
    api.get("/v1/estimate", params={"model": LLAMA, "format": "q2_k", "gpu": "rtx-3060", "context": "777"})
    assert len(CACHE) == before + 1
    r = api.get("/v1/estimate", params={"model": "fake-org/never-seen", "format": "q2_k", "offline": "on"})
    assert r.status_code in (400, 503) and len(CACHE) == before + 1
