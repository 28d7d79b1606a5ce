"""Plain-data views of planner results: what the CLI prints as JSON and the app downloads.

Also the one wording of "this figure is approximate" (:func:`approximate_warning`) that
the app shows on every page and the CLI prints at the top of its text output.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.model import ModelSpec
from planner.model.spec import InventorySource
from planner.model.templated import CACHE_CAVEAT, PART_CAVEAT

#: The generic estimate's measured error (written by ``scripts/generic_error.py``).
GENERIC_ERROR_FILE = Path(__file__).resolve().parents[1] / "data" / "generic_error.json"


@cache
def generic_error() -> dict[str, Any]:
    """``median_abs_error``, ``p90_abs_error``, ``measured`` and ``source`` of the generic estimate.

    Read from :data:`GENERIC_ERROR_FILE`, checked: fractions in [0, 10], a count, a source.
    """
    try:
        raw = json.loads(GENERIC_ERROR_FILE.read_text(encoding="utf-8"))
        out = {
            "median_abs_error": float(raw["median_abs_error"]),
            "p90_abs_error": float(raw["p90_abs_error"]),
            "measured": int(raw["measured"]),
            "source": str(raw["source"]),
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PlannerError(f"{GENERIC_ERROR_FILE.name}: unreadable ({exc})") from None
    if not (0 <= out["median_abs_error"] <= out["p90_abs_error"] <= 10) or out["measured"] < 1:
        raise PlannerError(f"{GENERIC_ERROR_FILE.name}: implausible figures {out}")
    return out


def approximate_warning(spec: ModelSpec) -> str | None:
    """One line saying why ``spec``'s figures are approximate and by how much; None when exact.

    The app shows it as a warning on every page with figures, the CLI as ``warning: ...``
    at the top of ``params`` and ``estimate``.
    """
    if not spec.approximate:
        return None
    arch = spec.architecture
    if spec.inventory_source is InventorySource.GENERIC:
        err = generic_error()
        return (
            f"approximate: architecture '{arch}' is not known; counted as a Llama-style decoder; "
            f"typical error ±{err['median_abs_error']:.0%} (median over {err['measured']} transformers model "
            f"types; one in ten is off by more than {err['p90_abs_error']:.0%}). Install torch and transformers "
            "(or give a Hub id or a local checkpoint folder with safetensors files) for an exact count"
        )
    caveats = [n.removeprefix(CACHE_CAVEAT) for n in spec.notes if n.startswith(CACHE_CAVEAT)]
    if (
        spec.inventory_source in (InventorySource.HEADERS, InventorySource.META)
        and spec.family == "inventory"
    ):
        return f"approximate: the tensors are exact ({spec.inventory_source.value}), but " + "; ".join(
            caveats
        )
    if spec.inventory_source in (InventorySource.HEADERS, InventorySource.META):
        return (
            f"approximate: the tensors are exact ({spec.inventory_source.value}), but '{arch}' has no "
            "hand-written reader: its per-layer attention, hence the KV cache, is read as a Llama-style "
            "decoder's"
        )
    parts = [n.removeprefix(PART_CAVEAT) for n in spec.notes if n.startswith(PART_CAVEAT)]
    if parts or caveats:
        said = [*parts, *(f"the KV cache is not exact: {c}" for c in caveats)]
        return "approximate: " + "; ".join(said)
    return "approximate: " + "; ".join(spec.notes)


def inventory_report(spec: ModelSpec) -> dict[str, Any]:
    """Where the tensors came from: ``source``, ``detail``, ``approximate`` and the ``warning`` line."""
    return {
        "source": spec.inventory_source.value,
        "detail": spec.inventory_detail,
        "approximate": spec.approximate,
        "warning": approximate_warning(spec),
    }


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
        "inventory": inventory_report(spec),
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
                **(
                    {"stored_bytes": t.stored_bytes, "stored_as": t.stored_as}
                    if t.stored_bytes is not None
                    else {}
                ),
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
