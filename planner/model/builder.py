"""Accumulates tensor groups and layers while an architecture reads its config."""

from __future__ import annotations

from planner.model.config import ConfigView
from planner.model.spec import InventorySource, LayerSpec, ModelSpec, Role, TensorGroup


class SpecBuilder:
    """Collects tensors per layer and merges equal ones into :class:`TensorGroup` rows.

    Architectures call :meth:`add` once per tensor per layer; tensors that share a
    name pattern, role and shape across layers become one group with a layer list.
    """

    def __init__(self, cfg: ConfigView, family: str) -> None:
        self.cfg = cfg
        self.family = family
        # Per (name, role, shape): [count, layer indices, active fraction of the first add]; the
        # TensorGroup rows are made once in build() (not re-made per add: that was quadratic in layers).
        self._groups: dict[tuple[str, Role, tuple[int, ...]], list] = {}
        self.layers: list[LayerSpec] = []
        self.notes: list[str] = []

    def add(
        self,
        name: str,
        role: Role,
        shape: tuple[int, ...],
        layer: int | None = None,
        *,
        copies: int = 1,
        active: tuple[int, int] = (1, 1),
    ) -> None:
        """Record ``copies`` tensors of ``shape`` (``copies`` > 1 for routed experts)."""
        if shape and min(shape) <= 0:
            return
        key = (name, role, shape)
        entry = self._groups.get(key)
        if entry is None:
            self._groups[key] = [copies, [] if layer is None else [layer], active]
        else:
            entry[0] += copies
            if layer is not None:
                entry[1].append(layer)

    def add_norm(self, name: str, width: int, layer: int | None = None, *, bias: bool = False) -> None:
        """A norm's weight (and bias for LayerNorm)."""
        self.add(f"{name}.weight", Role.NORM, (width,), layer)
        if bias:
            self.add(f"{name}.bias", Role.BIAS, (width,), layer)

    def add_linear(
        self,
        name: str,
        role: Role,
        out_features: int,
        in_features: int,
        layer: int | None = None,
        *,
        bias: bool = False,
        copies: int = 1,
        active: tuple[int, int] = (1, 1),
    ) -> None:
        """A linear layer's weight ``[out, in]`` and optional bias ``[out]``."""
        self.add(f"{name}.weight", role, (out_features, in_features), layer, copies=copies, active=active)
        if bias:
            self.add(f"{name}.bias", Role.BIAS, (out_features,), layer, copies=copies, active=active)

    def note(self, text: str) -> None:
        """Record an assumption the user should see."""
        if text not in self.notes:
            self.notes.append(text)

    def build(
        self,
        *,
        name: str,
        hidden_size: int,
        vocab_size: int,
        n_experts: int = 0,
        n_experts_per_token: int = 0,
        tied_embeddings: bool = False,
        approximate: bool = False,
    ) -> ModelSpec:
        """Freeze what was collected into a :class:`ModelSpec`."""
        return ModelSpec(
            name=name,
            architecture=self.cfg.architecture,
            family=self.family,
            hidden_size=hidden_size,
            vocab_size=vocab_size,
            max_position_embeddings=self.cfg.opt_int("max_position_embeddings"),
            layers=tuple(self.layers),
            tensors=tuple(
                TensorGroup(name, role, shape, count, tuple(layers), active)
                for (name, role, shape), (count, layers, active) in self._groups.items()
            ),
            n_experts=n_experts,
            n_experts_per_token=n_experts_per_token,
            tied_embeddings=tied_embeddings,
            approximate=approximate,
            notes=tuple(self.notes),
            inventory_source=InventorySource.GENERIC if approximate else InventorySource.BUILDER,
        )
