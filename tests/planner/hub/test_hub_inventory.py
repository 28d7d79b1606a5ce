"""A Hub id's tensors come from its safetensors headers (fake Hub, real huggingface_hub client).

References outside the planner: transformers' parameter count of each repo's config on the
meta device (the logical parameters a pre-quantized checkpoint holds), and the bytes of the
tensors the fake Hub serves, computed here from its manifest (dtype size x elements).
"""

from __future__ import annotations

import json
import math

import pytest

from planner.formats import parse_format
from planner.model.spec import ROUTED_EXPERT_ROLES, InventorySource, Role
from planner.resolve import load_model
from tests.fakehub import DTYPE_BYTES, FIXTURES
from verify.meta_count import transformers_parameter_count

MANIFEST = json.loads((FIXTURES / "repos.json").read_text())


def _config(repo: str) -> dict:
    return json.loads((FIXTURES / repo / "config.json").read_text())


def _served_bytes(repo: str) -> int:
    spec = MANIFEST[repo]
    total = 0
    for table in spec["safetensors"].values():
        for name, (dtype, shape) in table.items():
            copies = spec.get("layers", 1) if "{i}" in name else 1
            total += copies * DTYPE_BYTES[dtype] * math.prod(shape)
    return total


@pytest.mark.parametrize(
    "repo",
    ["fake-org/tiny-llama", "fake-org/tiny-llama-gptq", "fake-org/tiny-fp8", "fake-org/tiny-gpt-oss-mxfp4"],
)
def test_hub_checkpoint_tensors_and_bytes_come_from_its_headers(hub, repo):
    spec = load_model(repo, meta=False)
    assert spec.inventory_source is InventorySource.HEADERS
    assert repo in spec.inventory_detail
    config = {k: v for k, v in _config(repo).items() if k != "quantization_config"}
    assert spec.total_parameters == transformers_parameter_count(config)
    assert parse_format("stored").weights(spec).total_bytes == _served_bytes(repo)


def test_gptq_weights_keep_their_logical_shapes(hub):
    spec = load_model("fake-org/tiny-llama-gptq", meta=False)
    report = parse_format("stored").weights(spec)
    k_proj = next(t for t in report.tensors if t.group.role is Role.ATTN_K)
    # qweight [64 * 4 / 32, 32] I32 -> k_proj [32, 64]; per layer: qweight 1024 + qzeros 32 + scales 128 + g_idx 256 bytes
    assert k_proj.group.shape == (32, 64)
    assert k_proj.bytes == 2 * (8 * 32 * 4 + 2 * 4 * 4 + 2 * 32 * 2 + 64 * 4)
    assert "qweight" in k_proj.storage and k_proj.quantized


def test_mxfp4_experts_are_routed_with_their_active_share(hub):
    spec = load_model("fake-org/tiny-gpt-oss-mxfp4", meta=False)
    experts = [t for t in spec.tensors if t.role in ROUTED_EXPERT_ROLES]
    assert {t.role for t in experts} == {Role.EXPERT_GATE_UP, Role.EXPERT_DOWN}
    gate_up = next(t for t in experts if t.role is Role.EXPERT_GATE_UP)
    # [E=4, 2I=128, H/32=2, 16] U8 blocks -> 4 experts x 2 layers of [128, 64], 2 of 4 run per token
    assert (gate_up.shape, gate_up.count, gate_up.active_fraction) == ((128, 64), 8, (2, 4))
    # 4 bits per value plus one 8-bit scale per 32 values
    assert gate_up.stored_bytes * 8 / gate_up.parameters == pytest.approx(4.25)
    assert spec.active_parameters < spec.total_parameters


def test_headers_are_cached_with_the_summary(hub, monkeypatch):
    first = load_model("fake-org/tiny-llama-gptq", meta=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    again = load_model("fake-org/tiny-llama-gptq", meta=False)
    assert again.inventory_source is InventorySource.HEADERS
    assert again.tensors == first.tensors


def test_a_checkpoint_with_more_tensors_than_kept_still_has_its_inventory():
    """A big MoE lists ~100k tensors: the per-tensor list is dropped, the grouped inventory is not."""
    from huggingface_hub.utils import SafetensorsFileMetadata, SafetensorsRepoMetadata, TensorInfo

    from planner.hub import MAX_TENSORS_KEPT, summarize_safetensors

    layers, experts, offset, tensors = 4, 1024, 0, {}
    for i in range(layers):
        for e in range(experts):
            for proj, shape in (("gate_proj", [32, 16]), ("up_proj", [32, 16]), ("down_proj", [16, 32])):
                n = 2 * math.prod(shape)
                tensors[f"model.layers.{i}.mlp.experts.{e}.{proj}.weight"] = TensorInfo(
                    "BF16", shape, (offset, offset + n)
                )
                offset += n
    metadata = SafetensorsRepoMetadata(
        None, False, {}, {"model.safetensors": SafetensorsFileMetadata({}, tensors)}
    )
    summary = summarize_safetensors(metadata)
    assert summary.tensor_count == layers * experts * 3 > MAX_TENSORS_KEPT
    assert summary.tensors == ()
    groups = {g.name: g for g in summary.groups}
    down = groups["model.layers.*.mlp.experts.*.down_proj.weight"]
    assert (down.count, down.layers, down.shape) == (layers * experts, (0, 1, 2, 3), (16, 32))
    assert sum(g.nbytes for g in summary.groups) == offset == summary.total_bytes
