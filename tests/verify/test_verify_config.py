"""Run settings: validation, suite entries and the command line that carries them to a subprocess."""

import pytest

from verify.cli import build_parser
from verify.config import ConfigError, RunConfig


def test_defaults_and_prompt():
    c = RunConfig(model="Qwen/Qwen3-8B", format="bnb-nf4")
    assert (c.engine, c.device, c.weights, c.context, c.decode) == (
        "transformers",
        "cuda",
        "random",
        4096,
        16,
    )
    assert c.prompt_tokens == 4096 - 16
    assert c.label == "Qwen3-8B_bnb-nf4_c4096_b1"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"context": 0}, "context"),
        ({"batch": 0}, "batch"),
        ({"decode": 64, "context": 64}, "smaller than context"),
        ({"engine": "vllm"}, "engine"),
        ({"device": "tpu"}, "device"),
        ({"weights": "hub"}, "weights"),
        ({"tiny": True, "weights": "checkpoint"}, "tiny"),
        ({"id": "has space"}, "id"),
        ({"context": True}, "context"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(model="m", format="bf16", **settings)


def test_from_dict_refuses_unknown_and_missing_keys():
    with pytest.raises(ConfigError, match="unknown setting"):
        RunConfig.from_dict({"model": "m", "format": "bf16", "ctx": 4})
    with pytest.raises(ConfigError, match="'format' is required"):
        RunConfig.from_dict({"model": "m"})
    assert RunConfig.from_dict({"model": "m", "format": "bf16"}, batch=4).batch == 4


def test_argv_round_trips_through_the_cli_parser():
    c = RunConfig(
        model="google/gemma-3-4b-it",
        format="bnb-fp4-dq",
        context=8192,
        batch=2,
        decode=4,
        kv_dtype="bf16",
        device="cpu",
        seed=3,
        tiny=True,
        id="g4",
    )
    args = build_parser().parse_args(["run", *c.to_argv()])
    back = RunConfig(
        model=args.model,
        format=args.format,
        engine=args.engine,
        context=args.context,
        batch=args.batch,
        decode=args.decode,
        kv_dtype=args.kv_dtype,
        device=args.device,
        weights=args.weights,
        seed=args.seed,
        tiny=args.tiny,
        id=args.id,
    )
    assert back == c
    assert RunConfig.from_dict(c.to_dict()) == c
