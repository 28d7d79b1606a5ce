"""What the Hub module answers with: frozen records, shared by every part of :mod:`planner.hub`.

They sit apart from the code that fills them so that the parsers, the summary cache
and the client can all use them without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planner.model.inventory.groups import StoredGroup


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a safetensors checkpoint: name, safetensors dtype, shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class PreQuantization:
    """How a checkpoint is already quantized, from its config and/or its tensors.

    ``method`` is normalized lower case (``gptq``, ``awq``, ``bitsandbytes``, ``fp8``,
    ``mxfp4``, ``nvfp4``, ``compressed-tensors``, or whatever ``quant_method`` says).
    ``source`` is ``"config"``, ``"tensors"`` or ``"config+tensors"``; ``evidence``
    says what was seen; ``config`` is the raw ``quantization_config`` when there is one.
    """

    method: str
    bits: int | None = None
    group_size: int | None = None
    source: str = "config"
    evidence: tuple[str, ...] = ()
    config: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class SafetensorsSummary:
    """What the safetensors headers say, without downloading any weight.

    ``parameters`` counts *stored* elements by safetensors dtype, as
    ``huggingface_hub`` does: packed formats (GPTQ ``I32`` ``qweight``, bnb ``U8``)
    report packed elements, not logical parameters. ``bytes_by_dtype`` comes from
    each tensor's ``data_offsets``, so it is the exact size on disk of the tensors.
    ``tensors`` lists every tensor (sorted by name) unless there are more than
    :data:`~planner.hub.safetensors.MAX_TENSORS_KEPT`; ``groups`` always holds every
    tensor, merged by name pattern, dtype and shape with their bytes (the model's tensor
    inventory, :mod:`planner.model.inventory`); ``quantization`` is what the tensor names
    and dtypes alone reveal.
    """

    parameters: dict[str, int]
    total: int
    bytes_by_dtype: dict[str, int]
    total_bytes: int
    tensor_count: int
    sharded: bool
    files: tuple[str, ...]
    tensors: tuple[TensorEntry, ...] = ()
    quantization: PreQuantization | None = None
    groups: tuple[StoredGroup, ...] = field(default=(), compare=False)

    @property
    def tensors_complete(self) -> bool:
        return len(self.tensors) == self.tensor_count


@dataclass(frozen=True)
class GGUFVariant:
    """One GGUF quantization in a repo: a single file or a group of shards.

    ``name`` is the path with any ``-0000k-of-0000n`` shard suffix removed;
    ``quant`` the file type read from the name (``Q4_K_M``, ``IQ2_XS``, ``Q8_0``,
    ``F16``, ``BF16``, ``UD-Q4_K_XL``...) or ``None``; ``size_bytes`` the summed size
    of ``files``; ``is_projector`` marks a multimodal projector (``mmproj``), not a
    language model.
    """

    name: str
    quant: str | None
    files: tuple[str, ...]
    size_bytes: int
    expected_shards: int = 1
    is_projector: bool = False

    @property
    def shards(self) -> int:
        return len(self.files)

    @property
    def complete(self) -> bool:
        return len(self.files) == self.expected_shards


@dataclass(frozen=True)
class HubModel:
    """Everything the planner reads about one Hub repository at one commit.

    ``config`` is ``None`` only for a repo that ships GGUF files and no
    ``config.json`` (a typical ``*-GGUF`` repo). ``from_cache`` is true when the
    answer came from the local cache (offline, or the Hub unreachable).
    """

    repo_id: str
    revision: str
    sha: str
    config: dict[str, Any] | None = field(compare=False, hash=False)
    safetensors: SafetensorsSummary | None = field(compare=False, hash=False)
    gguf: tuple[GGUFVariant, ...] = ()
    quantization: PreQuantization | None = field(default=None, compare=False, hash=False)
    from_cache: bool = field(default=False, compare=False)
