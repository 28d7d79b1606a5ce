"""Random-weight models built the way from_pretrained builds them: meta skeleton, quantizer swap, module by module."""

import pytest

from verify.backends import backend_for
from verify.build import build_random, skeleton
from verify.tensors import storage_bytes, weight_tensors

torch = pytest.importorskip("torch")

LLAMA = {
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 512,
}


def test_skeleton_has_no_storage_and_the_quantizers_swap():
    pytest.importorskip("bitsandbytes")
    model, quantizer, parameters = skeleton(LLAMA, backend_for("bnb-nf4"))
    assert all(p.device.type == "meta" for p in model.parameters())
    assert type(model.model.layers[0].mlp.up_proj).__name__ == "Linear4bit"
    assert type(model.lm_head) is torch.nn.Linear  # transformers keeps the output head
    assert quantizer is not None and parameters == sum(p.numel() for p in model.parameters())


def test_meta_build_reports_the_swap():
    pytest.importorskip("bitsandbytes")
    built = build_random(LLAMA, backend_for("bnb-int8"), "meta")
    assert len(built.quantized) == 2 * 7 and built.kept_linear == ("lm_head",)


def test_random_build_leaves_nothing_on_meta_and_keeps_ties():
    built = build_random(LLAMA | {"tie_word_embeddings": True}, backend_for("bf16"), "cpu", seed=1)
    model = built.model
    assert not any(t.device.type == "meta" for t in [*model.parameters(), *model.buffers()])
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert storage_bytes(weight_tensors(model)) == 2 * sum(p.numel() for p in model.parameters())
    # rotary frequencies are rebuilt as from_pretrained does, not left uninitialized
    inv_freq = model.model.rotary_emb.inv_freq
    assert torch.isfinite(inv_freq).all() and inv_freq[0] == 1.0


def test_seeded_builds_repeat():
    a = build_random(LLAMA, backend_for("bf16"), "cpu", seed=7).model
    b = build_random(LLAMA, backend_for("bf16"), "cpu", seed=7).model
    assert torch.equal(a.model.layers[1].mlp.up_proj.weight, b.model.layers[1].mlp.up_proj.weight)


def test_hqq_swaps_tagged_linears_and_keeps_their_bias():
    pytest.importorskip("hqq")
    built = build_random(LLAMA | {"attention_bias": True}, backend_for("hqq-int4"), "cpu")
    q_proj = built.model.model.layers[0].self_attn.q_proj
    assert type(q_proj).__name__ == "HQQLinear"
    assert isinstance(q_proj.bias, torch.nn.Parameter)
    assert built.kept_linear == ("lm_head",)
