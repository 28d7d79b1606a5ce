"""Stored tensors merged by name pattern: the compact form every inventory source produces.

A checkpoint names each layer's (and each routed expert's) tensors separately; a 671B MoE
has ~100k of them. Merging names that differ only in their numeric indices (``*`` for each)
and share a dtype and shape leaves a few hundred rows, small enough to cache, with the
layer of each tensor (the first index) and the bytes they take on disk kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from planner.frozen import record


@record
class StoredTensor:
    """One tensor as a source lists it: name, dtype (safetensors spelling, or None), shape, bytes."""

    name: str
    dtype: str | None
    shape: tuple[int, ...]
    nbytes: int | None = None


@record
class StoredGroup:
    """Tensors of one name pattern, dtype and shape.

    ``name`` has ``*`` for every numeric index; ``layers`` lists the distinct first indices
    (the decoder layer, or the tower layer); ``nbytes`` is the bytes of all ``count`` tensors
    on disk (None when the source has no bytes: the meta device).
    """

    name: str
    dtype: str | None
    shape: tuple[int, ...]
    count: int
    layers: tuple[int, ...] = ()
    nbytes: int | None = None

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def name_pattern(name: str) -> tuple[str, int | None]:
    """``model.layers.3.mlp.experts.7.w1.weight`` -> (``model.layers.*.mlp.experts.*.w1.weight``, 3)."""
    parts = name.split(".")
    first: int | None = None
    for i, part in enumerate(parts):
        if part.isdigit():
            if first is None:
                first = int(part)
            parts[i] = "*"
    return ".".join(parts), first


def group_tensors(tensors: Iterable[StoredTensor]) -> tuple[StoredGroup, ...]:
    """Merge tensors by (pattern, dtype, shape), in the order their patterns first appear."""
    acc: dict[tuple[str, str | None, tuple[int, ...]], list] = {}
    for t in tensors:
        pattern, layer = name_pattern(t.name)
        key = (pattern, t.dtype, tuple(t.shape))
        row = acc.get(key)
        if row is None:
            row = acc[key] = [0, set(), 0, t.nbytes is not None]
        row[0] += 1
        if layer is not None:
            row[1].add(layer)
        if t.nbytes is None:
            row[3] = False
        else:
            row[2] += t.nbytes
    return tuple(
        StoredGroup(name, dtype, shape, count, tuple(sorted(layers)), nbytes if known else None)
        for (name, dtype, shape), (count, layers, nbytes, known) in acc.items()
    )


def groups_to_json(groups: Iterable[StoredGroup]) -> list[list]:
    """Plain lists for a JSON cache: ``[name, dtype, shape, count, layers, nbytes]``."""
    return [[g.name, g.dtype, list(g.shape), g.count, list(g.layers), g.nbytes] for g in groups]


def groups_from_json(rows: Iterable) -> tuple[StoredGroup, ...]:
    """The inverse of :func:`groups_to_json`; raises ValueError/TypeError on a malformed row."""
    out = []
    for name, dtype, shape, count, layers, nbytes in rows:
        if not isinstance(name, str) or (dtype is not None and not isinstance(dtype, str)):
            raise ValueError("malformed stored group")
        shape_t = tuple(int(d) for d in shape)
        count_i = int(count)
        if count_i < 1 or any(d < 0 for d in shape_t):
            raise ValueError("malformed stored group")
        out.append(
            StoredGroup(
                name,
                dtype,
                shape_t,
                count_i,
                tuple(int(x) for x in layers),
                None if nbytes is None else int(nbytes),
            )
        )
    return tuple(out)
