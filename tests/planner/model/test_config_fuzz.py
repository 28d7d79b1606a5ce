"""Property-based: thousands of malformed configs end in our error type or a valid description.

Seeds are every catalog config plus tiny ones per family; hypothesis mutates their
fields to hostile values (wrong types, huge or negative numbers, nesting, nulls),
drops fields, and also throws arbitrary JSON and arbitrary bytes at the parser.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog import load_catalog
from planner.errors import PlannerError
from planner.model import ModelSpec, model_from_bytes, model_from_config

SEEDS = [entry.config for entry in load_catalog().values()] + [
    {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 100,
    },
    {"model_type": "unknown_future", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 100},
]

hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-2, max_value=70_000),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["full_attention", "sliding_attention", "linear_attention", "mamba", "llama", "gemma3"]),
)
hostile_value = st.recursive(
    hostile_scalar,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


def _outcome_is_clean(build):
    try:
        spec = build()
    except PlannerError as exc:
        assert str(exc)
        return
    assert isinstance(spec, ModelSpec)
    assert spec.total_parameters >= 0
    assert spec.active_parameters <= spec.total_parameters


@st.composite
def mutated_configs(draw):
    config = json.loads(json.dumps(draw(st.sampled_from(SEEDS))))
    target = config
    if isinstance(config.get("text_config"), dict) and draw(st.booleans()):
        target = config["text_config"]
    keys = sorted(target)
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(keys)) if keys and draw(st.integers(0, 4)) else draw(st.text(max_size=20))
        if draw(st.integers(0, 5)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(hostile_value)
    return config


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_configs())
def test_mutated_configs_never_crash(config):
    _outcome_is_clean(lambda: model_from_config(config))


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(st.text(max_size=25), hostile_value, max_size=12))
def test_arbitrary_json_objects_never_crash(config):
    _outcome_is_clean(lambda: model_from_bytes(json.dumps(config).encode()))


@settings(max_examples=800, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    _outcome_is_clean(lambda: model_from_bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789 ae-', max_size=200))
def test_json_like_text_never_crashes(text):
    _outcome_is_clean(lambda: model_from_bytes(text.encode()))


def test_ten_thousand_mutated_real_configs_never_crash():
    """10,000 seeded mutations of real configs (catalog + every template's transformers defaults).

    Only the planner's own errors or a valid description may come out; the bytes path (an
    upload) is exercised for a tenth of them.
    """
    from tests.planner.model.fuzz_configs import as_json_bytes, fuzzed

    specs = errors = 0
    for k, config in enumerate(fuzzed(10_000)):
        if k % 10 == 0:
            _outcome_is_clean(lambda config=config: model_from_bytes(as_json_bytes(config)))
        try:
            spec = model_from_config(config)
        except PlannerError as exc:
            assert str(exc)
            errors += 1
            continue
        assert isinstance(spec, ModelSpec)
        assert spec.total_parameters >= 0
        assert spec.active_parameters <= spec.total_parameters
        assert spec.vision_parameters <= spec.total_parameters
        specs += 1
    # the mutations must leave enough configs readable for the valid path to be exercised too
    assert specs > 2_000 and errors > 2_000, (specs, errors)
