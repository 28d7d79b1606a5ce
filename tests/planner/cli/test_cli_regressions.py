"""Issue 17's bugs, each held by a test: bare sizes, broken pipes, argparse texts, catalog uploads, huge fields."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import main
from planner.fit.budget import budget_from_gpu
from planner.model import model_from_bytes

ROOT = Path(__file__).resolve().parents[3]
LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.mark.parametrize(
    "command",
    [
        ["estimate", "--model", LLAMA, "--format", "bf16"],
        ["fit"],
        ["recommend"],
    ],
)
def test_a_bare_vram_number_exits_2_with_the_unit_message_on_every_command(command, capsys):
    assert main([*command, "--vram", "24"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --vram: ") and "give the unit: 24GiB (x 2^30 bytes) or 24GB" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--context", "abc", "context must be a number of tokens such as 8192 or 32k, not 'abc'"),
        ("--context", "-5", "not '-5'"),
        ("--batch", "0", "batch must be between 1 and 65,536, not 0"),
        ("--gpus", "1000", "gpus must be between 1 and 64, not 1000"),
        ("--gpu-memory-utilization", "2", "must be a number in (0, 1]"),
    ],
)
def test_argparse_messages_say_what_is_wrong(flag, value, says, capsys):
    assert main(["estimate", "--model", LLAMA, "--format", "bf16", flag, value]) == 2
    err = capsys.readouterr().err
    assert f"error: argument {flag}: " in err and says in err
    assert "invalid" not in err and "_positive" not in err


def test_context_32k_is_read_as_the_app_writes_it(capsys):
    assert main(["estimate", "--model", LLAMA, "--format", "bf16", "--context", "32k", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["context"] == 32768


def test_recommend_into_a_closed_pipe_ends_quietly():
    # `python -m planner recommend | head -1`: the reader closes the pipe after one line
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner", "recommend", "--gpu", "4090", "--top", "50"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_a_catalog_file_can_be_uploaded_as_its_model():
    path = ROOT / "data" / "models" / "meta-llama--Llama-3.1-8B.json"
    spec = model_from_bytes(path.read_bytes(), name=path.name)
    assert spec.name == LLAMA and spec.total_parameters == 8_030_261_248  # the entry's published reference


def test_config_errors_name_the_uploaded_file():
    with pytest.raises(Exception) as err:
        model_from_bytes(b'{"vocab": 3}', name="my-model.json")
    assert str(err.value).startswith("my-model.json: ")


@pytest.mark.parametrize("value", ["1e308", "-1e308", "1.7976931348623157e308"])
def test_a_huge_field_is_named_as_written_not_as_309_digits(value):
    with pytest.raises(Exception) as err:
        model_from_bytes(f'{{"model_type": "llama", "hidden_size": {value}}}'.encode())
    assert "hidden_size" in str(err.value) and len(str(err.value)) < 160


def test_no_cli_flag_in_texts_the_app_shows():
    # the app shows budget notes as they come: they must not tell web users to "use --live"
    for gpu in ("rtx-4090", "h100-sxm", "m3-max-64gb"):
        for note in budget_from_gpu(gpu).notes:
            assert "--" not in note, note
