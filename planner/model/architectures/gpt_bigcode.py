"""GPTBigCode (``gpt_bigcode``): StarCoder, StarCoderBase (1B-15.5B), SantaCoder, WizardCoder-15B.

GPT-2 layout with multi-query attention: a fused ``c_attn`` projecting to the queries plus
one shared key and value head, learned absolute position embeddings, LayerNorms and linears
with biases, a GELU MLP, and a head tied to the token embedding.
Sources: transformers ``models/gpt_bigcode/{configuration,modeling}_gpt_bigcode.py`` (transformers 5.x).
"""

from __future__ import annotations

from typing import Any

from planner.errors import InvalidFieldError
from planner.hardware.units import MIB
from planner.model.architectures import register
from planner.model.architectures.common import add_embeddings, attention_layer, num_layers
from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import AttentionKind, ModelSpec, Role

#: transformers' ``GPTBigCodeConfig.n_positions`` default, used when the config omits it.
_DEFAULT_POSITIONS = 1024


@register("gpt_bigcode")
def build_gpt_bigcode(cfg: ConfigView, name: str, root: dict[str, Any]) -> ModelSpec:
    """Read a GPTBigCode config (GPT-2 field names: n_embd, n_layer, n_head, n_positions, n_inner)."""
    b = SpecBuilder(cfg, "gpt_bigcode")
    hidden = cfg.int("hidden_size")
    vocab = cfg.int("vocab_size", maximum=LIMITS["vocab"])
    n = num_layers(cfg)
    heads = cfg.int("num_attention_heads", maximum=LIMITS["heads"])
    if hidden % heads:
        raise InvalidFieldError("n_head", f"is {heads}, which does not divide n_embd ({hidden})")
    head_dim = hidden // heads
    positions = cfg.int("max_position_embeddings", _DEFAULT_POSITIONS, maximum=LIMITS["positions"])
    if not cfg.has("max_position_embeddings"):
        b.note(f"n_positions is not set: transformers' default of {_DEFAULT_POSITIONS} positions was used")
    inner = cfg.int("intermediate_size", 4 * hidden)  # n_inner; null means 4 * n_embd
    multi_query = cfg.bool("multi_query", True)
    kv_heads = 1 if multi_query else heads
    cross = cfg.bool("add_cross_attention", False)
    if cross and multi_query:
        raise InvalidFieldError(
            "add_cross_attention", "is true, but GPTBigCode has no cross-attention with multi_query"
        )
    tied = cfg.bool("tie_word_embeddings", True)

    add_embeddings(b, vocab, hidden, tied=tied, embed_name="transformer.wte.weight")
    b.add("transformer.wpe.weight", Role.POSITION_EMBEDDING, (positions, hidden))
    b.add_norm("transformer.ln_f", hidden, bias=True)
    for i in range(n):
        p = "transformer.h.*"
        b.add_norm(f"{p}.ln_1", hidden, i, bias=True)
        b.add_norm(f"{p}.ln_2", hidden, i, bias=True)
        # NOTE: one fused projection: hidden query columns, then one key and one value head
        # (head_dim each) under multi-query, else full keys and values.
        qkv_out = hidden + 2 * kv_heads * head_dim
        b.add_linear(f"{p}.attn.c_attn", Role.ATTN_QKV, qkv_out, hidden, i, bias=True)
        b.add_linear(f"{p}.attn.c_proj", Role.ATTN_OUT, hidden, hidden, i, bias=True)
        if cross:
            b.add_norm(f"{p}.ln_cross_attn", hidden, i, bias=True)
            b.add_linear(f"{p}.crossattention.c_attn", Role.ATTN_QKV, 2 * hidden, hidden, i, bias=True)
            b.add_linear(f"{p}.crossattention.q_attn", Role.ATTN_Q, hidden, hidden, i, bias=True)
            b.add_linear(f"{p}.crossattention.c_proj", Role.ATTN_OUT, hidden, hidden, i, bias=True)
        b.add_linear(f"{p}.mlp.c_fc", Role.MLP_UP, inner, hidden, i, bias=True)
        b.add_linear(f"{p}.mlp.c_proj", Role.MLP_DOWN, hidden, inner, i, bias=True)
        b.layers.append(attention_layer(i, AttentionKind.FULL, None, kv_heads, head_dim))

    b.note(
        f"learned absolute positions: the model cannot attend beyond {positions:,} tokens; transformers "
        f"also allocates a {positions:,}x{positions:,} boolean causal mask ({positions * positions / MIB:,.0f} MiB), "
        "a buffer that is not in the checkpoint"
    )
    return b.build(name=name, hidden_size=hidden, vocab_size=vocab, tied_embeddings=tied)
