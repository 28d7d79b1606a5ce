"""The shipped Ollama tag map: every tag names a catalog model and a format whose bytes match what Ollama publishes.

The outside reference is each tag's size as Ollama's ``GET /api/tags`` reported it in public
posts (cited per tag in data/ollama_tags.json): the planner's bytes for the mapped model in the
mapped format must land within a fraction of a percent of it (the blob also holds the tokenizer and
metadata, a few MB), which also pins the quantization: Q4_0 and Q4_K_M differ by 6-10%.
"""

import pytest

from planner.catalog import load_catalog
from planner.engines import get_engine
from planner.errors import ModelNotFoundError
from planner.formats import parse_format
from planner.ollama_tags import find_tag, looks_like_tag, require_tag, tag_for, tags
from planner.request import PlanRequest, resolve

#: Tags whose blob Ollama made with its own tools: (allowed relative gap, why).
OWN_QUANTIZER = {"qwen3:8b": (0.045, "Ollama's quantizer keeps a few more tensors at higher types")}
SIZED = sorted((t for t in tags().values() if t.size), key=lambda t: t.tag)


def test_every_tag_names_a_catalog_model_and_a_format_ollama_loads():
    catalog = load_catalog()
    for tag in tags().values():
        assert tag.model in catalog, tag.tag
        assert get_engine("ollama").loads(parse_format(tag.format)), tag.tag


@pytest.mark.parametrize("tag", SIZED, ids=lambda t: t.tag)
def test_published_size_matches_the_planners_bytes(tag):
    spec = load_catalog()[tag.model].spec()
    planned = parse_format(tag.format).weights(spec).total_bytes
    gap = (tag.size - planned) / tag.size
    allowed = OWN_QUANTIZER.get(tag.tag, (0.016, ""))[0]
    assert 0 <= gap <= allowed, f"{tag.tag}: published {tag.size:,} vs planned {planned:,} ({gap:+.2%})"


def test_the_quantization_is_pinned_by_the_size():
    # llama3.1:8b is Q4_K_M (4.92 GB); the Q4_0 of the same model would be 4.66 GB, 5% short
    tag = require_tag("llama3.1:8b")
    spec = load_catalog()[tag.model].spec()
    q4_0 = parse_format("q4_0").weights(spec).total_bytes
    assert (tag.size - q4_0) / tag.size > 0.04


def test_spellings_resolve():
    assert find_tag("llama3.1:8b").model == "meta-llama/Llama-3.1-8B-Instruct"
    assert find_tag("LLAMA3.1:8B").tag == "llama3.1:8b"
    assert find_tag("library/llama3.1:8b").tag == "llama3.1:8b"
    assert find_tag("llama3.1").tag == "llama3.1:8b"  # no tag: the 'latest' alias
    assert find_tag("qwen2.5:latest").tag == "qwen2.5:7b"
    assert find_tag("qwen2.5:9000b") is None
    assert looks_like_tag("llama3.1:8b") and not looks_like_tag("meta-llama/Llama-3.1-8B")
    with pytest.raises(ModelNotFoundError, match=r"known tags: .*llama3\.1:8b"):
        require_tag("llama9:8b")


def test_reverse_lookup_for_the_launch_command():
    assert tag_for("openai/gpt-oss-20b", "mxfp4").tag == "gpt-oss:20b"
    assert tag_for("openai/gpt-oss-20b", "q4_k_m") is None


def test_a_tag_resolves_to_the_catalog_model_its_format_and_ollama():
    plan = resolve(PlanRequest(model="llama3.1:8b"))
    assert plan.spec.name == "meta-llama/Llama-3.1-8B-Instruct"
    assert plan.format.id == "q4_k_m" and plan.engine == "ollama"
    other = resolve(PlanRequest(model="llama3.1:8b", format="q8_0", engine="llama.cpp"))
    assert other.format.id == "q8_0" and other.engine == "llama.cpp"
