"""The planner's only door to the Hugging Face Hub.

Why this module exists: planning a model from its Hub id needs three small things,
the ``config.json``, the safetensors headers (dtypes and shapes, which reveal a
pre-quantized checkpoint) and the list of GGUF files with their sizes. It fetches
them with ``huggingface_hub``'s own client, never with hand-written HTTP, never
loads code (no ``trust_remote_code``, no transformers, no torch), keeps what it
fetched in the HF cache so a repeat call works offline, and turns every library
error into one of :mod:`planner.errors` with a message fit for a user.

huggingface_hub APIs used (2.x, see ``/work/shared/research/ecosystem.md`` §4):

* :func:`huggingface_hub.get_hf_file_metadata` (one ``HEAD``, short timeout, no
  retries) as a fast gate before :func:`huggingface_hub.hf_hub_download`, which
  stores ``config.json`` in the HF cache (``refs/``, ``snapshots/``, ``blobs/``).
  The gate matters: after a failed ``HEAD``, ``hf_hub_download`` retries with a
  60 s timeout and exponential back-off (and sleeps through a 429's reset time),
  which would freeze a page for minutes.
* :meth:`HfApi.model_info` with ``files_metadata=True``: one request that gives the
  commit sha and every file with its size (GGUF variants). Unlike
  ``list_repo_tree`` (paginated through ``http_backoff``, which sleeps on 429) it
  takes a timeout and is not retried.
* :meth:`HfApi.get_safetensors_metadata`: safetensors headers via HTTP ``Range``
  requests (a few KiB per shard); raises ``NotASafetensorsRepoError`` for repos
  without safetensors, which here means ``safetensors=None``.
* :func:`huggingface_hub.try_to_load_from_cache` and
  :func:`huggingface_hub.constants.is_offline_mode` (``HF_HUB_OFFLINE``) for the
  offline path.

The token is never handled here: every call passes ``token=None`` so
huggingface_hub reads ``HF_TOKEN`` or its token file itself; no message or log line
carries it. The safetensors summary is cached as a small JSON file under
``<HF_HUB_CACHE>/.vram-planner/`` keyed by repo and commit sha (plus a ref file per
branch or tag name), next to the ``config.json`` that the HF cache keeps.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from huggingface_hub import (
    HfApi,
    constants,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    NotASafetensorsRepoError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    SafetensorsParsingError,
)
from huggingface_hub.utils import httpx, parse_ratelimit_headers, validate_repo_id

from planner.errors import (
    ConfigError,
    HubError,
    HubGatedError,
    HubNotFoundError,
    HubOfflineError,
    HubRateLimitError,
    HubTimeoutError,
    ModelNotFoundError,
    PlannerError,
)
from planner.model.config import MAX_CONFIG_BYTES, parse_config_bytes

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_TENSORS_KEPT",
    "GGUFVariant",
    "HubModel",
    "PreQuantization",
    "SafetensorsSummary",
    "TensorEntry",
    "check_repo_id",
    "fetch_config",
    "fetch_model_info",
    "gguf_quant_type",
    "gguf_variants",
    "merge_quantization",
    "quantization_from_config",
    "quantization_from_tensors",
    "summarize_safetensors",
]

logger = logging.getLogger(__name__)

#: Seconds to wait for the Hub on each request: config and headers are a few KiB.
DEFAULT_TIMEOUT_S = 5.0
#: Per-tensor entries kept in a summary (counts by dtype are always exact). Dense
#: models have a few hundred tensors; big MoE checkpoints have ~100k, too many to cache.
MAX_TENSORS_KEPT = 10_000

CONFIG_NAME = "config.json"
_SAFETENSORS_FILES = (constants.SAFETENSORS_SINGLE_FILE, constants.SAFETENSORS_INDEX_FILE)
_CACHE_FOLDER = ".vram-planner"
_CACHE_FORMAT = 1

_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_SHA = re.compile(r"[0-9a-f]{40}")
_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{8,}")

T = TypeVar("T")


# --------------------------------------------------------------------------- results


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
    :data:`MAX_TENSORS_KEPT`; ``quantization`` is what the tensor names and dtypes
    alone reveal.
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


# --------------------------------------------------------------------------- public API


def check_repo_id(repo_id: object) -> str:
    """Return ``repo_id`` stripped if it is an ``org/name`` Hub id, else raise
    :class:`ModelNotFoundError`. No request is made."""
    if not isinstance(repo_id, str):
        raise ModelNotFoundError("a Hub model id must be text like 'org/name'")
    text = repo_id.strip()
    shown = text if len(text) <= 120 else text[:117] + "..."
    if "://" in text or text.startswith(("huggingface.co/", "hf.co/", "www.")):
        raise ModelNotFoundError(f"'{shown}' looks like a URL: give the model id only, like 'org/name'")
    if not _REPO_ID.fullmatch(text):
        raise ModelNotFoundError(
            f"'{shown}' is not a Hub model id: expected 'org/name' with letters, digits, '-', '_' or '.'"
        )
    try:
        validate_repo_id(text)
    except HFValidationError:
        raise ModelNotFoundError(
            f"'{shown}' is not a valid Hub model id (no '..', '--', '.git' ending, or leading/trailing '.'/'-')"
        ) from None
    return text


def fetch_config(
    repo_id: str,
    *,
    revision: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """``config.json`` of a Hub repo as a dict, parsed with the planner's size/nesting limits.

    Downloads through the HF cache; offline (``HF_HUB_OFFLINE``) or when the Hub
    cannot be reached, answers from the cached copy. ``endpoint`` defaults to
    ``HF_ENDPOINT``; ``timeout`` bounds each request in seconds. Raises :class:`ModelNotFoundError`
    for a malformed id, a :class:`HubError` subclass for Hub trouble and
    :class:`ConfigError` for a file that is not a usable config.
    """
    repo_id = check_repo_id(repo_id)
    rev = _check_revision(revision)
    cache = _cache_dir()
    path = _config_path(repo_id, rev, cache, timeout=timeout, endpoint=endpoint)
    return _read_config(path)


def fetch_model_info(
    repo_id: str,
    *,
    revision: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    endpoint: str | None = None,
) -> HubModel:
    """Config, safetensors summary, pre-quantization and GGUF files of a Hub repo.

    Online: one ``model_info`` call (sha and file sizes), the config through the HF
    cache, and the safetensors headers unless this commit's summary is already
    cached. Offline or unreachable: the cached answer for this revision, else
    :class:`HubOfflineError` (or :class:`HubTimeoutError` after a timeout).
    """
    repo_id = check_repo_id(repo_id)
    rev = _check_revision(revision)
    cache = _cache_dir()
    store = _SummaryStore(cache, repo_id)

    if _SHA.fullmatch(rev):  # a commit never changes: a cached answer is final
        cached = _model_from_cache(store, repo_id, rev, cache)
        if cached is not None:
            return cached
    if constants.is_offline_mode():
        return _cached_or_raise(store, repo_id, rev, cache, _offline_error(repo_id, rev, offline_mode=True))

    api = HfApi(endpoint=endpoint)
    try:
        info = _guarded(
            lambda: api.model_info(repo_id, revision=revision, timeout=timeout, files_metadata=True),
            repo_id,
            rev,
            "model info",
        )
    except PlannerError as exc:
        if _cache_may_answer(exc):
            return _cached_or_raise(store, repo_id, rev, cache, exc)
        raise

    sha = info.sha if isinstance(info.sha, str) and info.sha else rev
    files: dict[str, int] | None = None
    if info.siblings is not None:
        files = {}
        for sibling in info.siblings:
            size = sibling.lfs.size if sibling.lfs is not None else sibling.size
            files[sibling.rfilename] = int(size) if isinstance(size, int) else 0
    gguf = gguf_variants((files or {}).items())
    has_config = files is None or CONFIG_NAME in files
    if not has_config and not gguf:
        hint = (
            " It looks like an adapter (adapter_config.json): plan its base model instead."
            if "adapter_config.json" in files
            else ""
        )
        raise HubNotFoundError(f"'{repo_id}' has no config.json and no GGUF files on the Hub.{hint}")

    config: dict[str, Any] | None = None
    if has_config:
        cached_path = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=sha)
        if isinstance(cached_path, str):
            path = Path(cached_path)
        else:
            path = _config_path(repo_id, rev, cache, timeout=timeout, endpoint=endpoint)
        config = _read_config(path)

    entry = store.load(sha)
    if entry is not None:
        summary = entry.safetensors
    elif files is None or any(name in files for name in _SAFETENSORS_FILES):
        summary = _fetch_safetensors(api, repo_id, sha, rev, timeout)
    else:
        summary = None

    model = HubModel(
        repo_id=repo_id,
        revision=rev,
        sha=sha,
        config=config,
        safetensors=summary,
        gguf=gguf,
        quantization=merge_quantization(
            quantization_from_config(config), summary.quantization if summary else None
        ),
    )
    store.save(rev, model)
    return model


# --------------------------------------------------------------------------- GGUF names

_GGUF_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_GGUF_PART = re.compile(r"\.gguf\.part(\d+)of(\d+)$", re.IGNORECASE)
_GGUF_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(?:(UD)[-_])?("
    r"I?Q[1-8](?:_[0-9]){1,3}"
    r"|I?Q[1-8]_K(?:_(?:XL|S|M|L))?"
    r"|IQ[1-8]_(?:XXS|XS|NL|S|M)"
    r"|TQ[12]_0|MXFP4(?:_MOE)?|NVFP4|BF16|FP16|F16|FP32|F32"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_FLOAT_ALIASES = {"FP16": "F16", "FP32": "F32"}


def gguf_quant_type(filename: str) -> str | None:
    """The GGUF file type named in a file name (``Q4_K_M``, ``IQ2_XS``, ``BF16``...), or None.

    Reads the last match in the base name, after removing any shard suffix; lower
    case is accepted (``q8_0``) and ``fp16`` reads as ``F16``. Unsloth's dynamic
    quants keep their prefix (``UD-Q4_K_XL``).
    """
    base = filename.rsplit("/", 1)[-1]
    base = _GGUF_PART.sub(".gguf", _GGUF_SHARD.sub(".gguf", base))
    matches = list(_GGUF_QUANT.finditer(base))
    if not matches:
        return None
    last = matches[-1]
    quant = last.group(2).upper()
    quant = _FLOAT_ALIASES.get(quant, quant)
    return f"UD-{quant}" if last.group(1) else quant


def gguf_variants(files: Iterable[tuple[str, int]]) -> tuple[GGUFVariant, ...]:
    """Group ``(path, size)`` pairs into GGUF variants, shards summed, smallest first."""
    groups: dict[str, list[tuple[int, str, int]]] = {}
    expected: dict[str, int] = {}
    for path, size in files:
        lower = path.lower()
        match = _GGUF_SHARD.search(path) or _GGUF_PART.search(path)
        if match:
            key = path[: match.start()] + ".gguf"
            index, total = int(match.group(1)), int(match.group(2))
        elif lower.endswith(".gguf"):
            key, index, total = path, 1, 1
        else:
            continue
        groups.setdefault(key, []).append((index, path, max(int(size), 0)))
        expected[key] = max(expected.get(key, 1), total)
    variants = []
    for key, parts in groups.items():
        parts.sort()
        base = key.rsplit("/", 1)[-1].lower()
        variants.append(
            GGUFVariant(
                name=key,
                quant=gguf_quant_type(key),
                files=tuple(p for _, p, _ in parts),
                size_bytes=sum(s for _, _, s in parts),
                expected_shards=expected[key],
                is_projector="mmproj" in base,
            )
        )
    variants.sort(key=lambda v: (v.is_projector, v.size_bytes, v.name))
    return tuple(variants)


# --------------------------------------------------------------------------- quantization


def quantization_from_config(config: Mapping[str, Any] | None) -> PreQuantization | None:
    """Read ``quantization_config`` (top level, or in ``text_config``) of a config dict."""
    if not isinstance(config, Mapping):
        return None
    qc = config.get("quantization_config") or config.get("compression_config")
    if not isinstance(qc, Mapping):
        text = config.get("text_config")
        qc = text.get("quantization_config") if isinstance(text, Mapping) else None
    if not isinstance(qc, Mapping):
        return None

    method = qc.get("quant_method")
    method = method.strip().lower() if isinstance(method, str) and method.strip() else ""
    if not method and (qc.get("load_in_4bit") is True or qc.get("load_in_8bit") is True):
        method = "bitsandbytes"
    if not method and isinstance(qc.get("quant_algo"), str):
        method = "modelopt"
    if not method:
        return None

    bits = _small_int(qc.get("bits")) or _small_int(qc.get("w_bit")) or _small_int(qc.get("nbits"))
    group = _group_int(qc.get("group_size"))
    if group is None:
        group = _group_int(qc.get("q_group_size"))
    evidence: list[str] = [f"quantization_config.quant_method = {method!r}"]

    if method == "bitsandbytes":
        if qc.get("load_in_4bit") is True:
            bits = 4
            kind = qc.get("bnb_4bit_quant_type")
            if isinstance(kind, str):
                evidence.append(f"bnb_4bit_quant_type = {kind!r}")
        elif qc.get("load_in_8bit") is True:
            bits = 8
    elif method in ("fp8", "fbgemm_fp8"):
        bits = bits or 8
        block = qc.get("weight_block_size")
        if isinstance(block, list) and block:
            evidence.append(f"weight_block_size = {block}")
    elif method == "mxfp4":
        bits, group = bits or 4, group or 32
    elif method == "compressed-tensors":
        weights = _first_weights_scheme(qc.get("config_groups"))
        if weights is not None:
            bits = bits or _small_int(weights.get("num_bits"))
            group = group if group is not None else _group_int(weights.get("group_size"))
            kind = weights.get("type")
            if isinstance(kind, str):
                evidence.append(f"weights type = {kind!r}")
        fmt = qc.get("format")
        if isinstance(fmt, str):
            evidence.append(f"format = {fmt!r}")
    elif method == "modelopt":
        algo = str(qc.get("quant_algo", "")).upper()
        evidence.append(f"quant_algo = {algo!r}")
        if "FP4" in algo:
            bits, group = bits or 4, group or 16
        elif "FP8" in algo:
            bits = bits or 8

    return PreQuantization(
        method=method,
        bits=bits,
        group_size=group,
        source="config",
        evidence=tuple(evidence),
        config=_json_safe(qc),
    )


def quantization_from_tensors(tensors: Iterable[TensorEntry]) -> PreQuantization | None:
    """Recognize a pre-quantized layout from tensor names and dtypes alone.

    GPTQ/AWQ (``I32`` ``*.qweight`` with ``*.qzeros``/``*.scales``; ``*.g_idx`` means
    GPTQ), bitsandbytes (``U8`` weights with ``*.quant_state.*``/``*.absmax``, or
    ``I8`` with ``*.SCB``), MXFP4 (``*_blocks`` + ``*_scales``), NVFP4 (``U8`` +
    ``*.weight_scale_2``) and FP8 (``F8_E4M3`` weights, with ``*.weight_scale_inv``
    or ``*.weight_scale``). Bits and group size are inferred from the shapes of one
    GPTQ/AWQ layer where they are consistent.
    """
    by_name: dict[str, TensorEntry] = {}
    dtypes: dict[str, int] = {}
    for t in tensors:
        by_name[t.name] = t
        dtypes[t.dtype] = dtypes.get(t.dtype, 0) + 1

    def with_suffix(*suffixes: str) -> list[str]:
        return [n for n in by_name if n.endswith(suffixes)]

    qweights = [n for n in with_suffix(".qweight") if by_name[n].dtype in ("I32", "U32", "I16", "U8", "I8")]
    if qweights:
        has_gidx = bool(with_suffix(".g_idx"))
        method = "gptq" if has_gidx else "awq"
        bits, group = _packed_layout(by_name, qweights, gptq=has_gidx)
        parts = ["qzeros"] if with_suffix(".qzeros") else []
        parts += ["scales"] if with_suffix(".scales") else []
        parts += ["g_idx"] if has_gidx else []
        extra = f" with {'/'.join(parts)}" if parts else ""
        return PreQuantization(
            method,
            bits,
            group,
            source="tensors",
            evidence=(f"{len(qweights)} {by_name[qweights[0]].dtype} *.qweight tensors{extra}",),
        )

    nf4 = with_suffix(".quant_state.bitsandbytes__nf4")
    fp4 = with_suffix(".quant_state.bitsandbytes__fp4")
    if nf4 or fp4 or (with_suffix(".absmax") and with_suffix(".quant_map") and "U8" in dtypes):
        kind = "nf4" if nf4 else "fp4" if fp4 else "4-bit"
        return PreQuantization(
            "bitsandbytes",
            4,
            None,
            source="tensors",
            evidence=(f"U8 weights with bitsandbytes {kind} quant_state tensors",),
        )
    if with_suffix(".SCB") and "I8" in dtypes:
        return PreQuantization(
            "bitsandbytes", 8, None, source="tensors", evidence=("I8 weights with *.SCB scales (LLM.int8)",)
        )

    blocks = with_suffix("_blocks")
    if blocks and any(n[: -len("_blocks")] + "_scales" in by_name for n in blocks):
        return PreQuantization(
            "mxfp4", 4, 32, source="tensors", evidence=(f"{len(blocks)} *_blocks tensors with *_scales",)
        )

    if with_suffix(".weight_scale_2") and "U8" in dtypes:
        return PreQuantization(
            "nvfp4", 4, 16, source="tensors", evidence=("U8 weights with *.weight_scale_2 (NVFP4)",)
        )

    fp8_count = dtypes.get("F8_E4M3", 0) + dtypes.get("F8_E5M2", 0)
    if fp8_count:
        scale_inv = with_suffix(".weight_scale_inv")
        scale = with_suffix(".weight_scale")
        how = (
            "with *.weight_scale_inv (block scales)"
            if scale_inv
            else "with *.weight_scale"
            if scale
            else "without scale tensors"
        )
        return PreQuantization("fp8", 8, None, source="tensors", evidence=(f"{fp8_count} F8 tensors {how}",))
    return None


def merge_quantization(
    from_config: PreQuantization | None, from_tensors: PreQuantization | None
) -> PreQuantization | None:
    """Combine both readings: the config names the method, the tensors fill gaps."""
    if from_config is None or from_tensors is None:
        return from_config or from_tensors
    evidence = list(from_config.evidence) + list(from_tensors.evidence)
    if from_tensors.method != from_config.method and from_config.method != "compressed-tensors":
        evidence.append(f"tensor layout looks like {from_tensors.method}")
    return PreQuantization(
        method=from_config.method,
        bits=from_config.bits if from_config.bits is not None else from_tensors.bits,
        group_size=from_config.group_size if from_config.group_size is not None else from_tensors.group_size,
        source="config+tensors",
        evidence=tuple(evidence),
        config=from_config.config,
    )


def summarize_safetensors(metadata: Any) -> SafetensorsSummary:
    """Reduce a ``huggingface_hub`` ``SafetensorsRepoMetadata`` to a :class:`SafetensorsSummary`."""
    params: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    entries: list[TensorEntry] = []
    for file_meta in metadata.files_metadata.values():
        for name, info in file_meta.tensors.items():
            dtype = str(info.dtype)
            shape = tuple(int(d) for d in info.shape)
            params[dtype] = params.get(dtype, 0) + int(info.parameter_count)
            begin, end = info.data_offsets
            nbytes[dtype] = nbytes.get(dtype, 0) + max(int(end) - int(begin), 0)
            entries.append(TensorEntry(str(name), dtype, shape))
    entries.sort(key=lambda t: t.name)
    return SafetensorsSummary(
        parameters=dict(sorted(params.items())),
        total=sum(params.values()),
        bytes_by_dtype=dict(sorted(nbytes.items())),
        total_bytes=sum(nbytes.values()),
        tensor_count=len(entries),
        sharded=bool(metadata.sharded),
        files=tuple(sorted(metadata.files_metadata)),
        tensors=tuple(entries) if len(entries) <= MAX_TENSORS_KEPT else (),
        quantization=quantization_from_tensors(entries),
    )


# --------------------------------------------------------------------------- internals: config


def _check_revision(revision: object) -> str:
    if revision is None:
        return constants.DEFAULT_REVISION
    if (
        not isinstance(revision, str)
        or not revision.strip()
        or len(revision) > 255
        or ".." in revision
        or any(ch.isspace() or ord(ch) < 32 for ch in revision)
    ):
        raise ModelNotFoundError("a revision must be a branch, tag or commit sha, like 'main'")
    return revision


def _cache_dir() -> Path:
    """The HF hub cache, read at call time (``HF_HUB_CACHE``/``HF_HOME``; tests patch the constant).

    There is deliberately no per-call ``cache_dir``: ``get_safetensors_metadata``
    downloads a sharded index into the default cache and takes no such argument.
    """
    return Path(constants.HF_HUB_CACHE).expanduser()


def _config_path(repo_id: str, rev: str, cache: Path, *, timeout: float, endpoint: str | None) -> Path:
    """Local path of ``config.json``: downloaded into the HF cache, or the cached copy."""
    if constants.is_offline_mode():
        return _cached_config_or_raise(repo_id, rev, cache, _offline_error(repo_id, rev, offline_mode=True))
    url = hf_hub_url(repo_id, CONFIG_NAME, revision=rev, endpoint=endpoint)
    try:
        meta = _guarded(
            lambda: get_hf_file_metadata(url, timeout=timeout, endpoint=endpoint),
            repo_id,
            rev,
            CONFIG_NAME,
        )
        if meta.size is not None and meta.size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"config.json of '{repo_id}' is {meta.size:,} bytes; the limit is {MAX_CONFIG_BYTES:,} bytes"
            )
        local = _guarded(
            lambda: hf_hub_download(
                repo_id,
                CONFIG_NAME,
                revision=rev,
                cache_dir=str(cache),
                etag_timeout=timeout,
                endpoint=endpoint,
            ),
            repo_id,
            rev,
            CONFIG_NAME,
        )
    except HubError as exc:
        if _cache_may_answer(exc):
            return _cached_config_or_raise(repo_id, rev, cache, exc)
        raise
    return Path(local)


def _cached_config_or_raise(repo_id: str, rev: str, cache: Path, error: HubError) -> Path:
    found = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=rev)
    if isinstance(found, str):
        logger.info("Answering config.json of %s@%s from the local cache", repo_id, rev)
        return Path(found)
    if found is not None:  # the Hub said earlier that this commit has no config.json
        raise HubNotFoundError(f"'{repo_id}' (revision '{rev}') has no config.json")
    raise error


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise HubError(f"could not read the cached config.json ({exc.strerror or 'I/O error'})") from None
    return parse_config_bytes(data)


def _fetch_safetensors(
    api: HfApi, repo_id: str, sha: str, rev: str, timeout: float
) -> SafetensorsSummary | None:
    try:
        metadata = _guarded(
            lambda: api.get_safetensors_metadata(repo_id, revision=sha, timeout=timeout),
            repo_id,
            rev,
            "safetensors headers",
        )
    except _NoSafetensors:
        return None
    return summarize_safetensors(metadata)


class _NoSafetensors(PlannerError):
    """Internal: the repo has no (readable) safetensors; not an error for the caller."""


# --------------------------------------------------------------------------- internals: errors


def _guarded(call: Callable[[], T], repo_id: str, rev: str, what: str) -> T:
    """Run one huggingface_hub call; re-raise any failure as a planner error.

    The planner error is raised *outside* the ``except`` block so that neither
    ``__cause__`` nor ``__context__`` keeps the library exception (whose request
    object holds the authorization header).
    """
    try:
        return call()
    except PlannerError:
        raise
    except Exception as exc:
        logger.debug(
            "Hub call for %s of %s failed: %s: %s", what, repo_id, type(exc).__name__, _redact(str(exc))
        )
        failure = _translate(exc, repo_id, rev, what)
    raise failure


def _translate(exc: BaseException, repo_id: str, rev: str, what: str) -> PlannerError:
    where = f"'{repo_id}'" if rev == constants.DEFAULT_REVISION else f"'{repo_id}' (revision '{rev}')"
    if isinstance(exc, NotASafetensorsRepoError):
        return _NoSafetensors(what)
    if isinstance(exc, SafetensorsParsingError):
        logger.warning("Safetensors headers of %s could not be parsed; continuing without them", repo_id)
        return _NoSafetensors(what)
    if isinstance(exc, GatedRepoError):
        return HubGatedError(
            f"{where} is gated: accept the license on its Hub page ({constants.ENDPOINT.rstrip('/')}/{repo_id}) "
            "with your account, then set HF_TOKEN to a token of that account"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubNotFoundError(
            f"{where} was not found on the Hub, or it is private: check the id, or set HF_TOKEN "
            "to a token that can read it"
        )
    if isinstance(exc, RevisionNotFoundError):
        return HubNotFoundError(f"revision '{rev}' of '{repo_id}' was not found on the Hub")
    if isinstance(exc, DisabledRepoError):
        return HubNotFoundError(f"{where} has been disabled on the Hub")
    if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
        return HubNotFoundError(f"{where} has no {what} on the Hub")
    if isinstance(exc, HfHubHTTPError):
        return _translate_status(exc, where)
    if isinstance(exc, FileMetadataError):
        return HubError(
            "the Hub endpoint answered without the headers a Hugging Face Hub sends: "
            "check HF_ENDPOINT, proxy and firewall settings"
        )
    if _caused_by_timeout(exc):
        return HubTimeoutError(f"the Hub did not answer in time for the {what} of {where}; try again later")
    if isinstance(
        exc, (OfflineModeIsEnabled, LocalEntryNotFoundError, httpx.TransportError, ConnectionError)
    ):
        return _offline_error(repo_id, rev, offline_mode=isinstance(exc, OfflineModeIsEnabled))
    if isinstance(exc, HFValidationError):
        return ModelNotFoundError(f"{where} is not a valid Hub model id or revision")
    return HubError(f"unexpected answer from the Hub for the {what} of {where} ({type(exc).__name__})")


def _translate_status(exc: HfHubHTTPError, where: str) -> HubError:
    response = exc.response
    status = response.status_code if response is not None else 0
    server = _redact(exc.server_message or "").strip()
    detail = f": {server}" if server and len(server) < 300 else ""
    if status == 429:
        headers = response.headers if response is not None else {}
        info = parse_ratelimit_headers(headers)
        retry_after = info.reset_in_seconds if info is not None else _retry_after(headers)
        when = f"retry in {retry_after} s" if retry_after is not None else "retry in a few minutes"
        error = HubRateLimitError(
            f"the Hub is rate-limiting requests ({when}); setting HF_TOKEN gives a higher limit"
        )
        error.retry_after = retry_after  # type: ignore[attr-defined]
        return error
    if status == 401:
        return HubError(
            f"the Hub refused the token (HTTP 401{detail}): HF_TOKEN (or the saved token) is invalid or expired"
        )
    if status == 403:
        return HubError(
            f"the Hub refused access to {where} (HTTP 403{detail}): check your token's permissions"
        )
    if status >= 500:
        return HubError(f"the Hub had an internal error (HTTP {status}) for {where}; try again later")
    return HubError(f"the Hub answered HTTP {status} for {where}{detail}")


def _retry_after(headers: Mapping[str, str]) -> int | None:
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _caused_by_timeout(exc: BaseException) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, (httpx.TimeoutException, TimeoutError)):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _offline_error(repo_id: str, rev: str, *, offline_mode: bool) -> HubOfflineError:
    what = f"'{repo_id}'" if rev == constants.DEFAULT_REVISION else f"'{repo_id}' (revision '{rev}')"
    why = "offline mode is on (HF_HUB_OFFLINE)" if offline_mode else "the Hub cannot be reached (no network?)"
    return HubOfflineError(f"{why} and {what} is not in the local cache: go online once to fetch it")


def _cache_may_answer(exc: PlannerError) -> bool:
    """Failures after which a cached copy is a fair answer (not: the repo is gone)."""
    if isinstance(exc, (HubOfflineError, HubTimeoutError, HubRateLimitError)):
        return True
    return type(exc) is HubError  # 5xx, odd endpoints


def _redact(text: str) -> str:
    """Strip anything that looks like a token (and the configured token) from ``text``."""
    if not text:
        return text
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _TOKEN_LIKE.sub("hf_***", text)


# --------------------------------------------------------------------------- internals: cache


def _model_from_cache(store: _SummaryStore, repo_id: str, rev: str, cache: Path) -> HubModel | None:
    sha = rev if _SHA.fullmatch(rev) else store.read_ref(rev)
    if sha is None:
        return None
    entry = store.load(sha)
    if entry is None:
        return None
    config = None
    if entry.has_config:
        found = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=str(cache), revision=sha)
        if not isinstance(found, str):
            return None
        try:
            config = _read_config(Path(found))
        except PlannerError:
            return None
    return HubModel(
        repo_id=repo_id,
        revision=rev,
        sha=sha,
        config=config,
        safetensors=entry.safetensors,
        gguf=entry.gguf,
        quantization=merge_quantization(
            quantization_from_config(config), entry.safetensors.quantization if entry.safetensors else None
        ),
        from_cache=True,
    )


def _cached_or_raise(
    store: _SummaryStore, repo_id: str, rev: str, cache: Path, error: PlannerError
) -> HubModel:
    cached = _model_from_cache(store, repo_id, rev, cache)
    if cached is None:
        raise error
    logger.info("Answering model info of %s@%s from the local cache", repo_id, rev)
    return cached


@dataclass(frozen=True)
class _Entry:
    has_config: bool
    safetensors: SafetensorsSummary | None
    gguf: tuple[GGUFVariant, ...]


class _SummaryStore:
    """``<cache>/.vram-planner/models--org--name/{refs/<rev>, <sha>.json}``; best effort."""

    def __init__(self, cache: Path, repo_id: str) -> None:
        self.root = cache / _CACHE_FOLDER / ("models--" + repo_id.replace("/", "--"))

    def read_ref(self, rev: str) -> str | None:
        try:
            sha = (self.root / "refs" / quote(rev, safe="")).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return sha if sha and len(sha) <= 255 else None

    def load(self, sha: str) -> _Entry | None:
        path = self.root / f"{quote(sha, safe='')}.json"
        try:
            if path.stat().st_size > 64 * 1024 * 1024:
                return None
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != _CACHE_FORMAT or raw.get("sha") != sha:
                return None
            st = raw.get("safetensors")
            return _Entry(
                has_config=bool(raw["has_config"]),
                safetensors=_summary_from_json(st) if st is not None else None,
                gguf=tuple(_variant_from_json(v) for v in raw.get("gguf", [])),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, rev: str, model: HubModel) -> None:
        payload = {
            "format": _CACHE_FORMAT,
            "repo_id": model.repo_id,
            "sha": model.sha,
            "has_config": model.config is not None,
            "safetensors": _summary_to_json(model.safetensors) if model.safetensors else None,
            "gguf": [_variant_to_json(v) for v in model.gguf],
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.root / f"{quote(model.sha, safe='')}.json", json.dumps(payload))
            if rev != model.sha:
                (self.root / "refs").mkdir(exist_ok=True)
                _atomic_write(self.root / "refs" / quote(rev, safe=""), model.sha)
        except OSError as exc:
            logger.debug("Could not cache the summary of %s: %s", model.repo_id, exc.strerror)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _quant_to_json(q: PreQuantization | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {
        "method": q.method,
        "bits": q.bits,
        "group_size": q.group_size,
        "source": q.source,
        "evidence": list(q.evidence),
        "config": q.config,
    }


def _quant_from_json(raw: Any) -> PreQuantization | None:
    if raw is None:
        return None
    return PreQuantization(
        method=str(raw["method"]),
        bits=_small_int(raw.get("bits")),
        group_size=_group_int(raw.get("group_size")),
        source=str(raw.get("source", "tensors")),
        evidence=tuple(str(e) for e in raw.get("evidence", [])),
        config=raw.get("config") if isinstance(raw.get("config"), dict) else None,
    )


def _summary_to_json(s: SafetensorsSummary) -> dict[str, Any]:
    return {
        "parameters": s.parameters,
        "total": s.total,
        "bytes_by_dtype": s.bytes_by_dtype,
        "total_bytes": s.total_bytes,
        "tensor_count": s.tensor_count,
        "sharded": s.sharded,
        "files": list(s.files),
        "tensors": [[t.name, t.dtype, list(t.shape)] for t in s.tensors],
        "quantization": _quant_to_json(s.quantization),
    }


def _summary_from_json(raw: Mapping[str, Any]) -> SafetensorsSummary:
    return SafetensorsSummary(
        parameters={str(k): int(v) for k, v in raw["parameters"].items()},
        total=int(raw["total"]),
        bytes_by_dtype={str(k): int(v) for k, v in raw["bytes_by_dtype"].items()},
        total_bytes=int(raw["total_bytes"]),
        tensor_count=int(raw["tensor_count"]),
        sharded=bool(raw["sharded"]),
        files=tuple(str(f) for f in raw["files"]),
        tensors=tuple(TensorEntry(str(n), str(d), tuple(int(x) for x in s)) for n, d, s in raw["tensors"]),
        quantization=_quant_from_json(raw.get("quantization")),
    )


def _variant_to_json(v: GGUFVariant) -> dict[str, Any]:
    return {
        "name": v.name,
        "quant": v.quant,
        "files": list(v.files),
        "size_bytes": v.size_bytes,
        "expected_shards": v.expected_shards,
        "is_projector": v.is_projector,
    }


def _variant_from_json(raw: Mapping[str, Any]) -> GGUFVariant:
    quant = raw.get("quant")
    return GGUFVariant(
        name=str(raw["name"]),
        quant=str(quant) if quant is not None else None,
        files=tuple(str(f) for f in raw["files"]),
        size_bytes=int(raw["size_bytes"]),
        expected_shards=int(raw.get("expected_shards", 1)),
        is_projector=bool(raw.get("is_projector", False)),
    )


# --------------------------------------------------------------------------- internals: helpers


def _small_int(value: Any) -> int | None:
    """A bit width: an int (not a bool) in 1..64."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= 64 else None


def _group_int(value: Any) -> int | None:
    """A group size: a positive int (``-1`` means per-channel in GPTQ configs: None)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= 1 << 20 else None


def _first_weights_scheme(groups: Any) -> Mapping[str, Any] | None:
    if not isinstance(groups, Mapping):
        return None
    for group in groups.values():
        if isinstance(group, Mapping) and isinstance(group.get("weights"), Mapping):
            return group["weights"]
    return None


def _packed_layout(
    by_name: Mapping[str, TensorEntry], qweights: list[str], *, gptq: bool
) -> tuple[int | None, int | None]:
    """Bits and group size of GPTQ/AWQ packing, from the first consistent layer.

    GPTQ: ``qweight [in*bits/32, out]``, ``scales [in/group, out]``, ``g_idx [in]``.
    AWQ:  ``qweight [in, out*bits/32]``, ``scales [in/group, out]``.
    """
    for name in sorted(qweights):
        prefix = name[: -len(".qweight")]
        qw = by_name[name]
        scales = by_name.get(prefix + ".scales")
        if qw.dtype not in ("I32", "U32") or len(qw.shape) != 2 or scales is None or len(scales.shape) != 2:
            continue
        if gptq:
            g_idx = by_name.get(prefix + ".g_idx")
            if g_idx is None or len(g_idx.shape) != 1 or g_idx.shape[0] == 0:
                continue
            in_features = g_idx.shape[0]
            packed_bits = qw.shape[0] * 32
            if packed_bits % in_features or scales.shape[0] == 0:
                continue
            bits = packed_bits // in_features
            group = in_features // scales.shape[0] if in_features % scales.shape[0] == 0 else None
        else:
            out_features = scales.shape[1]
            if out_features == 0 or (qw.shape[1] * 32) % out_features or scales.shape[0] == 0:
                continue
            bits = qw.shape[1] * 32 // out_features
            group = qw.shape[0] // scales.shape[0] if qw.shape[0] % scales.shape[0] == 0 else None
        if bits in (2, 3, 4, 8):
            return bits, group
    return None, None


def _json_safe(value: Any, depth: int = 0) -> Any:
    """A plain-JSON copy of ``value`` (dicts, lists, str, numbers, bools, None)."""
    if depth > 16:
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
