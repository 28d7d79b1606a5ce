"""Vision towers counted alongside a language model (multimodal wrappers).

SigLIP follows transformers ``models/siglip/modeling_siglip.py``: a conv patch
embedding, learned position embeddings, pre-norm ViT layers with biases everywhere,
a final LayerNorm and, when ``vision_use_head`` is set, an attention-pooling head.
"""

from __future__ import annotations

from planner.model.builder import SpecBuilder
from planner.model.config import LIMITS, ConfigView
from planner.model.spec import Role


def add_siglip_tower(b: SpecBuilder, v: ConfigView, prefix: str) -> int:
    """Add a SigLIP vision tower under ``prefix``; returns its hidden size.

    Defaults are ``SiglipVisionConfig``'s (base/16 at 224 px), used when a field is absent.
    """
    hidden = v.int("hidden_size", 768)
    inter = v.int("intermediate_size", 3072)
    n = v.int("num_hidden_layers", 12, maximum=LIMITS["layers"])
    channels = v.int("num_channels", 3, maximum=64)
    image = v.int("image_size", 224, maximum=1 << 16)
    patch = v.int("patch_size", 16, maximum=image)
    positions = (image // patch) ** 2

    def vec(name: str, width: int, role: Role = Role.VISION) -> None:
        b.add(f"{prefix}.{name}", role, (width,))

    b.add(f"{prefix}.embeddings.patch_embedding.weight", Role.VISION, (hidden, channels, patch, patch))
    vec("embeddings.patch_embedding.bias", hidden)
    b.add(f"{prefix}.embeddings.position_embedding.weight", Role.VISION, (positions, hidden))
    layer = f"{prefix}.encoder.layers.*"
    for i in range(n):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            b.add(f"{layer}.self_attn.{proj}.weight", Role.VISION, (hidden, hidden), i)
            b.add(f"{layer}.self_attn.{proj}.bias", Role.VISION, (hidden,), i)
        for norm in ("layer_norm1", "layer_norm2"):
            b.add(f"{layer}.{norm}.weight", Role.VISION, (hidden,), i)
            b.add(f"{layer}.{norm}.bias", Role.VISION, (hidden,), i)
        b.add(f"{layer}.mlp.fc1.weight", Role.VISION, (inter, hidden), i)
        b.add(f"{layer}.mlp.fc1.bias", Role.VISION, (inter,), i)
        b.add(f"{layer}.mlp.fc2.weight", Role.VISION, (hidden, inter), i)
        b.add(f"{layer}.mlp.fc2.bias", Role.VISION, (hidden,), i)
    vec("post_layernorm.weight", hidden)
    vec("post_layernorm.bias", hidden)
    if v.bool("vision_use_head", True):
        # NOTE: the multihead-attention pooling head (nn.MultiheadAttention packs q/k/v in one in_proj).
        head = f"{prefix}.head"
        b.add(f"{head}.probe", Role.VISION, (1, 1, hidden))
        b.add(f"{head}.attention.in_proj_weight", Role.VISION, (3 * hidden, hidden))
        vec("head.attention.in_proj_bias", 3 * hidden)
        b.add(f"{head}.attention.out_proj.weight", Role.VISION, (hidden, hidden))
        vec("head.attention.out_proj.bias", hidden)
        vec("head.layernorm.weight", hidden)
        vec("head.layernorm.bias", hidden)
        b.add(f"{head}.mlp.fc1.weight", Role.VISION, (inter, hidden))
        vec("head.mlp.fc1.bias", inter)
        b.add(f"{head}.mlp.fc2.weight", Role.VISION, (hidden, inter))
        vec("head.mlp.fc2.bias", hidden)
    return hidden
