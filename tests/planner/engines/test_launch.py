"""Each engine's launch command carries the flags that enforce the plan (checked against the engines' parsers).

Flag spellings are those of: llama.cpp tools/server/README.md @00dc8057 (the generated llama-server
argument list), Ollama v0.32.15 (envconfig/config.go, parser/parser.go Modelfile commands,
api/types.go runner options), mlx-lm v0.31.3 (convert.py, generate.py, server.py argparse),
vLLM vllm/engine/arg_utils.py, transformers 5.23 ``from_pretrained``.
"""

import ast
import itertools
import shlex

import pytest

from planner.engines import estimate, get_engine
from planner.fit import budget_from_gpu
from planner.fit.answer import fit_answer, launch_json
from planner.formats import parse_format
from planner.memory.estimate import RunSettings

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def _words(command: str) -> list[str]:
    return shlex.split(command.replace("\\\n", " "))


def _launch(catalog, model, fmt_id, engine, **kw):
    est = estimate(catalog[model].spec(), parse_format(fmt_id), engine, RunSettings(**kw))
    return est, get_engine(engine).launch(est)


def test_llama_server_flags(catalog):
    _, launch = _launch(
        catalog,
        LLAMA,
        "q4_k_m",
        "llama.cpp",
        context=8192,
        batch=4,
        kv_dtype_k="q8_0",
        kv_dtype_v="q8_0",
        flash_attn=True,
    )
    words = _words(launch.command)
    assert words[:3] == ["llama-server", "-m", "Llama-3.1-8B-Instruct-Q4_K_M.gguf"]
    flags = dict(zip(words[3::2], words[4::2], strict=False))
    # -c is the total over slots: 4 slots x 8192 cells (one stream per slot with -np set)
    assert flags["-c"] == "32768" and flags["-np"] == "4"
    assert flags["-ngl"] == "all" and flags["-fa"] == "on"
    assert flags["-ctk"] == "q8_0" and flags["-ctv"] == "q8_0"


def test_llama_server_uses_the_offload_plan_when_all_on_gpu_does_not_fit(catalog):
    spec = catalog["meta-llama/Llama-3.1-70B-Instruct"].spec()
    fmt = parse_format("q4_k_m")
    run = RunSettings(context=8192)
    est = estimate(spec, fmt, "llama.cpp", run)
    answer = fit_answer(spec, fmt, run, est, budget_from_gpu("rtx-4090"))
    launch = get_engine("llama.cpp").launch(est, answer)
    words = _words(launch.command)
    assert words[words.index("-ngl") + 1] == str(answer.offload.gpu_layers)
    # an MoE model gets --n-cpu-moe from the experts plan
    mix = catalog["mistralai/Mixtral-8x7B-Instruct-v0.1"].spec()
    est = estimate(mix, fmt, "llama.cpp", run)
    answer = fit_answer(mix, fmt, run, est, budget_from_gpu("rtx-4090"))
    words = _words(get_engine("llama.cpp").launch(est, answer).command)
    assert words[words.index("--n-cpu-moe") + 1] == str(answer.offload.experts.n_cpu_moe)


def test_llama_server_vision_draft_and_lora_flags(catalog):
    from planner.memory.estimate import DraftModel

    draft = DraftModel(catalog["meta-llama/Llama-3.2-1B-Instruct"].spec(), parse_format("q4_k_m"), "x")
    _, launch = _launch(catalog, LLAMA, "q4_k_m", "llama.cpp", draft=draft, lora_rank=8, max_loras=2)
    words = _words(launch.command)
    assert "--spec-draft-model" in words and words[words.index("--spec-type") + 1] == "draft-simple"
    assert words[words.index("--lora") + 1] == "adapter-1.gguf,adapter-2.gguf"
    _, vision = _launch(catalog, "google/gemma-3-4b-it", "q4_k_m", "llama.cpp")
    assert "--mmproj" in _words(vision.command)
    _, text = _launch(catalog, "google/gemma-3-4b-it", "q4_k_m", "llama.cpp", mmproj=False)
    assert "--no-mmproj" in _words(text.command)


def test_ollama_environment_and_modelfile(catalog):
    _, launch = _launch(
        catalog, LLAMA, "q4_k_m", "ollama", context=16384, batch=2, kv_dtype_k="q8_0", kv_dtype_v="q8_0"
    )
    assert launch.env == {"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KV_CACHE_TYPE": "q8_0"}
    lines = launch.command.splitlines()
    assert "FROM llama3.1:8b" in lines and "PARAMETER num_ctx 16384" in lines
    assert lines[0] == "ollama serve &" and lines[-1].startswith("ollama run ")
    assert launch.script.startswith("export OLLAMA_NUM_PARALLEL=2\nexport OLLAMA_KV_CACHE_TYPE=q8_0\n")
    _, fa = _launch(catalog, LLAMA, "q4_k_m", "ollama", flash_attn=False, gpu_layers=20)
    assert fa.env["OLLAMA_FLASH_ATTENTION"] == "0" and "PARAMETER num_gpu 20" in fa.command.splitlines()
    _, untagged = _launch(catalog, "meta-llama/Llama-3.1-70B-Instruct", "q4_k_m", "ollama")
    assert "FROM ./Llama-3.1-70B-Instruct-Q4_K_M.gguf" in untagged.command.splitlines()


def test_mlx_convert_then_generate_or_serve(catalog):
    _, one = _launch(catalog, LLAMA, "mlx-4bit", "mlx", context=4096, kv_dtype_k="q8", kv_dtype_v="q8")
    convert, run = (shlex.split(line) for line in one.command.replace("\\\n", " ").splitlines())
    assert convert[:1] == ["mlx_lm.convert"] and convert[convert.index("--q-bits") + 1] == "4"
    assert convert[convert.index("--q-group-size") + 1] == "64" and "-q" in convert
    assert run[0] == "mlx_lm.generate" and run[run.index("--kv-bits") + 1] == "8"
    assert run[run.index("--quantized-kv-start") + 1] == "0"
    _, many = _launch(catalog, LLAMA, "mlx-mxfp4", "mlx", batch=16)
    assert "--q-mode" in _words(many.command) and "mlx_lm.server" in many.command
    assert _words(many.command)[_words(many.command).index("--decode-concurrency") + 1] == "16"


def test_vllm_serve_flags(catalog):
    _est, launch = _launch(
        catalog,
        LLAMA,
        "fp8",
        "vllm",
        context=16384,
        batch=8,
        max_num_seqs=8,
        gpu_memory_utilization=0.85,
        lora_rank=32,
    )
    words = _words(launch.command)
    flags = dict(itertools.pairwise(words))
    assert words[:3] == ["vllm", "serve", LLAMA]
    assert flags["--max-model-len"] == "16384" and flags["--max-num-seqs"] == "8"
    # the batch alone leaves vLLM's default --max-num-seqs, which the estimate's profile run assumes
    _, default_seqs = _launch(catalog, LLAMA, "fp8", "vllm", context=16384, batch=8)
    assert "--max-num-seqs" not in _words(default_seqs.command)
    assert flags["--gpu-memory-utilization"] == "0.85" and flags["--quantization"] == "fp8"
    assert flags["--max-lora-rank"] == "32" and "--enable-lora" in words


def test_transformers_snippet_is_python_with_the_quantization_config(catalog):
    _, launch = _launch(catalog, LLAMA, "bnb-nf4-dq", "transformers", context=4096)
    assert launch.kind == "python"
    ast.parse(launch.command)  # the snippet is valid Python
    assert (
        'bnb_4bit_quant_type="nf4"' in launch.command and "bnb_4bit_use_double_quant=True" in launch.command
    )
    assert "quantization_config=quantization_config" in launch.command
    _, gptq = _launch(catalog, LLAMA, "gptq-int4", "transformers")
    assert "quantization_config" not in gptq.command and any("GPTQ" in n for n in gptq.notes)


@pytest.mark.parametrize(
    "engine, fmt",
    [
        ("transformers", "bf16"),
        ("vllm", "bf16"),
        ("llama.cpp", "q4_k_m"),
        ("ollama", "q4_k_m"),
        ("mlx", "mlx-4bit"),
    ],
)
def test_every_engine_has_a_launch_in_the_json(catalog, engine, fmt):
    est = estimate(catalog[LLAMA].spec(), parse_format(fmt), engine, RunSettings())
    launch = launch_json(est)
    assert set(launch) >= {"command", "env", "kind", "script", "notes", "source"}
    assert launch["source"]


def test_ollama_launch_says_what_num_ctx_ollama_would_pick_on_the_gpu(catalog):
    spec = catalog[LLAMA].spec()
    fmt = parse_format("q4_k_m")
    run = RunSettings(context=8192)
    est = estimate(spec, fmt, "ollama", run)
    answer = fit_answer(spec, fmt, run, est, budget_from_gpu("rtx-4090"))
    notes = get_engine("ollama").launch(est, answer).notes
    assert any("would pick 32,768 tokens" in n for n in notes)  # a 24 GiB card is in the 23-47 GiB tier
