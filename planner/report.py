"""Plain-data views of planner results: what the CLI prints as JSON and the app downloads."""

from __future__ import annotations

from typing import Any

from planner.model import ModelSpec


def params_report(spec: ModelSpec) -> dict[str, Any]:
    """The ``params`` answer: counts, tensor groups and per-layer attention.

    The keys ``model``, ``architecture``, ``parameters.{total,active}``,
    ``tensors[].{name,role,shape,count}`` and ``layers[].{index,attention,window}``
    are a contract other tools rely on; the rest may grow.
    """
    return {
        "model": spec.name,
        "architecture": spec.architecture,
        "family": spec.family,
        "approximate": spec.approximate,
        "notes": list(spec.notes),
        "parameters": {
            "total": spec.total_parameters,
            "active": spec.active_parameters,
            # the multimodal towers and projector (llama.cpp's separate mmproj file) and the rest
            "vision": spec.vision_parameters,
            "language": spec.language_parameters,
            "by_role": {role.value: n for role, n in spec.parameters_by_role().items()},
        },
        "hidden_size": spec.hidden_size,
        "vocab_size": spec.vocab_size,
        "max_position_embeddings": spec.max_position_embeddings,
        "tied_embeddings": spec.tied_embeddings,
        "experts": {"routed": spec.n_experts, "per_token": spec.n_experts_per_token},
        "tensors": [
            {
                "name": t.name,
                "role": t.role.value,
                "shape": list(t.shape),
                "count": t.count,
                "parameters": t.parameters,
                "layers": list(t.layers),
            }
            for t in spec.tensors
        ],
        "layers": [
            {
                "index": layer.index,
                "attention": layer.attention.value,
                "window": layer.window,
                "kv_heads": layer.kv_heads,
                "k_head_dim": layer.k_head_dim,
                "v_head_dim": layer.v_head_dim,
                "latent_dim": layer.latent_dim,
                "state_elements": layer.state_elements,
                "kv_elements_per_token": layer.kv_elements_per_token,
                "moe": layer.moe,
            }
            for layer in spec.layers
        ],
    }


def compact_layers(spec: ModelSpec) -> list[tuple[str, str]]:
    """Runs of consecutive layers with the same attention, as ``("0-4", "sliding 1024")``."""
    runs: list[tuple[int, int, str]] = []
    for layer in spec.layers:
        label = layer.attention.value
        if layer.window:
            label += f" {layer.window}"
        if layer.moe:
            label += " + MoE"
        if runs and runs[-1][2] == label and runs[-1][1] == layer.index - 1:
            runs[-1] = (runs[-1][0], layer.index, label)
        else:
            runs.append((layer.index, layer.index, label))
    return [(f"{a}" if a == b else f"{a}-{b}", label) for a, b, label in runs]
