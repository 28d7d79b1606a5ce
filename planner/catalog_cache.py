"""The catalog's model specs and weights reports kept on disk, so a fresh process does not rebuild them.

Ranking the whole catalog (``recommend``) needs every catalog model's spec (about 80,000 tensor records
through the builders) and the weights report of every pair it estimates (the GGUF type plans): in a
fresh process building them was most of the work. Both are stored in one file,
``<cache root>/catalog/<key>.bin`` (the root of :mod:`planner.disk_cache`), as plain tuples.

* **Key**: BLAKE2b over the content of every planner source file, every catalog file, every template
  and format data file, with the Python version and :data:`CACHE_FORMAT`. A change to code or data
  gives a new key, so a file written by other code or for another catalog is never read. The key is
  itself remembered by the files' sizes and modification times (``stamps/``), as Python's bytecode
  cache is: a file with a new size or time is hashed again.
* **Safe reads**: the file starts with a magic line, the key and a BLAKE2b digest of the payload; a
  file whose digest does not match (truncated, corrupt, foreign) is ignored before it is decoded.
  The payload is ``marshal`` data of tuples, strings and numbers only (never pickle: nothing in it
  can run code) and every value is checked as it is decoded; any surprise reads as no cache.
* **Safe writes**: a new file is written to a temporary name and renamed into place; an unwritable
  folder, a full disk or a concurrent writer is no error (the answer is computed as without a cache).
  The folder keeps the :data:`MAX_FILES` most recently used files.

Only specs the builders and templates make from the config alone are stored (not the meta-device or
safetensors-header inventories, which depend on an installed library or a checkpoint). A report is
stored against its spec's tensor groups in order, with each group's storage label, bytes and whether
it is quantized: reading it back rebuilds the very report :meth:`QuantFormat.weights` would return.
``tests/planner/test_catalog_cache.py`` checks both round trips over the whole catalog.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

from planner import catalog as _catalog
from planner.disk_cache import cache_root, read_bytes, touch, trim, write_atomic
from planner.formats.base import QuantFormat, TensorStorage, WeightsReport, known_weights, remember_weights
from planner.model.spec import AttentionKind, InventorySource, LayerSpec, ModelSpec, Role, TensorGroup

#: Bump when the file layout or the encoding of a spec or report changes.
CACHE_FORMAT = 2
MAGIC = b"vram-planner catalog cache\n"
#: Files kept in the folder (one per code and data version seen); a file is about 1-2 MB.
MAX_FILES = 4
#: Stamps kept (each a few bytes: which content key the files' sizes and times stand for).
MAX_STAMPS = 16
#: A file larger than this is ignored.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Inventory sources made from the config and the planner's own code and data alone (so the key covers them).
STORABLE_SOURCES = frozenset({InventorySource.BUILDER, InventorySource.TEMPLATE, InventorySource.GENERIC})

_PLANNER_DIR = Path(__file__).resolve().parent
_LAYER_FIELDS = tuple(f.name for f in fields(LayerSpec))
_GROUP_FIELDS = tuple(f.name for f in fields(TensorGroup))
_SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))
_ROLE_AT = _GROUP_FIELDS.index("role")
_KIND_AT = _LAYER_FIELDS.index("attention") - 1  # in a layer row (the index is kept apart)
_ROLES = {r.value: r for r in Role}
_KINDS = {k.value: k for k in AttentionKind}
_SOURCES = {s.value: s for s in InventorySource}


def cache_dir() -> Path:
    """``<cache root>/catalog``."""
    return cache_root() / "catalog"


def _files(top: Path, suffix: str) -> list[str]:
    out = []
    stack = [str(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        if e.name != "__pycache__":
                            stack.append(e.path)
                    elif e.name.endswith(suffix):
                        out.append(e.path)
        except OSError:
            continue
    return sorted(out)


def _sources() -> list[tuple[Path, list[str]]]:
    from planner.formats.registry import FORMATS_DIR
    from planner.model.templates import TEMPLATES_DIR

    tops = (
        (_PLANNER_DIR, ".py"),
        (_catalog.MODELS_DIR, ".json"),
        (TEMPLATES_DIR, ".json"),
        (FORMATS_DIR, ".json"),
    )
    return [(top, _files(top, suffix)) for top, suffix in tops]


def _version() -> bytes:
    return f"{CACHE_FORMAT}\n{sys.version_info[:3]}\n{marshal.version}\n".encode()


def content_key(sources: list[tuple[Path, list[str]]] | None = None) -> str:
    """BLAKE2b of the content of the planner's source, the catalog, the templates and the format data."""
    h = hashlib.blake2b(_version(), digest_size=20)
    for top, paths in sources if sources is not None else _sources():
        h.update(f"\0{top}\0".encode())
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError:
                data = b"\0unreadable"
            h.update(f"{os.path.relpath(path, top)}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


def _stamp(sources: list[tuple[Path, list[str]]]) -> str | None:
    """BLAKE2b of every source file's path, size and modification time (ns), or ``None`` if one cannot be read."""
    h = hashlib.blake2b(_version(), digest_size=20)
    for top, paths in sources:
        h.update(f"\0{top}\0".encode())
        for path in paths:
            try:
                st = Path(path).stat()
            except OSError:
                return None
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def cache_key() -> str:
    """:func:`content_key`, remembered on disk by the files' sizes and modification times.

    Hashing the content reads about 4 MB (30-70 ms); the sizes and times take a tenth of that. As Python's
    own bytecode cache does, a file whose size or modification time changed is read again: any edit, copy
    or checkout gives a new stamp, so the content is hashed anew (and an unchanged content keeps its key).
    """
    sources = _sources()
    stamp = _stamp(sources)
    path = cache_dir() / "stamps" / f"{stamp}.key"
    if stamp is not None:
        data = read_bytes(path, 200)
        if data is not None:
            key = data.decode("ascii", "replace").strip()
            if len(key) == 40 and all(c in "0123456789abcdef" for c in key):
                return key
    key = content_key(sources)
    if stamp is not None and write_atomic(path, key.encode() + b"\n"):
        trim(path.parent, "*.key", MAX_STAMPS)
    return key


# --- codec: specs and reports as plain tuples ------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A field value as marshal can store it (enum members as their str value)."""
    return str(value) if isinstance(value, str) else value


def encode_spec(spec: ModelSpec, layer_table: dict[tuple, int]) -> tuple:
    """``spec`` as tuples; layers that differ only by index share one row of ``layer_table``."""
    layers = []
    for layer in spec.layers:
        row = tuple(_plain(getattr(layer, name)) for name in _LAYER_FIELDS[1:])
        layers.append((layer_table.setdefault(row, len(layer_table)), layer.index))
    groups = tuple(tuple(_plain(getattr(g, name)) for name in _GROUP_FIELDS) for g in spec.tensors)
    rest = tuple(_plain(getattr(spec, name)) for name in _SPEC_FIELDS if name not in ("layers", "tensors"))
    return (tuple(layers), groups, rest)


def decode_specs(layer_rows: tuple, encoded: dict[str, tuple]) -> dict[str, ModelSpec]:
    """The specs of :func:`encode_spec`; equal layers are shared objects (frozen, so safe to share)."""
    rows = []
    for row in layer_rows:
        row = list(row)
        row[_KIND_AT] = _KINDS[row[_KIND_AT]]
        rows.append(row)
    made: dict[tuple[int, int], LayerSpec] = {}
    out = {}
    for model_id, (layers, groups, rest) in encoded.items():
        built = []
        for row, index in layers:
            layer = made.get((row, index))
            if layer is None:
                layer = made[(row, index)] = LayerSpec(index, *rows[row])
            built.append(layer)
        tensors = []
        for group in groups:
            group = list(group)
            group[_ROLE_AT] = _ROLES[group[_ROLE_AT]]
            tensors.append(TensorGroup(*group))
        values = dict(zip((n for n in _SPEC_FIELDS if n not in ("layers", "tensors")), rest, strict=True))
        values["inventory_source"] = _SOURCES[values["inventory_source"]]
        out[model_id] = ModelSpec(layers=tuple(built), tensors=tuple(tensors), **values)
    return out


def encode_report(report: WeightsReport, spec: ModelSpec) -> tuple | None:
    """``report`` as tuples against ``spec``'s groups, with the speed model's terms of it
    (:func:`planner.fit.speed.report_terms`), or ``None`` when it is not one storage per group."""
    from planner.fit.speed import report_terms

    if len(report.tensors) != len(spec.tensors):
        return None
    rows = []
    for t, g in zip(report.tensors, spec.tensors, strict=True):
        if t.group is not g or type(t) is not TensorStorage:
            return None
        rows.append((str(t.storage), int(t.bytes), bool(t.quantized)))
    notes = tuple(str(n) for n in report.notes)
    return (str(report.format_id), tuple(rows), notes, report_terms(report, spec))


def decode_report(encoded: tuple, spec: ModelSpec) -> WeightsReport:
    """The report of :func:`encode_report` for ``spec`` (raises on a mismatch)."""
    format_id, rows, notes, _ = encoded
    if len(rows) != len(spec.tensors):
        raise ValueError("report rows do not match the spec's groups")
    return WeightsReport(
        format_id,
        tuple(TensorStorage(g, s, b, q) for g, (s, b, q) in zip(spec.tensors, rows, strict=True)),
        notes,
    )


# --- the file -----------------------------------------------------------------------------------------


def _path(key: str) -> Path:
    return cache_dir() / f"{key}.bin"


def read_file(key: str) -> tuple[tuple, dict[str, tuple], dict[tuple[str, str], tuple]] | None:
    """``(layer rows, specs, reports)`` stored under ``key``, or ``None`` (missing, corrupt, foreign)."""
    path = _path(key)
    data = read_bytes(path, MAX_FILE_BYTES)
    if data is None:
        return None
    head = MAGIC + key.encode() + b"\n"
    body = data[len(head) + 64 :]
    if not data.startswith(head) or data[len(head) : len(head) + 64] != _digest(body).encode():
        return None
    try:
        payload = marshal.loads(body)
        fmt, stored_key, layer_rows, specs, reports = payload
        if fmt != CACHE_FORMAT or stored_key != key:
            return None
        if not (isinstance(layer_rows, tuple) and isinstance(specs, dict) and isinstance(reports, dict)):
            return None
    except (ValueError, EOFError, TypeError):
        return None
    touch(path)
    return layer_rows, specs, reports


def write_file(
    key: str, layer_rows: tuple, specs: dict[str, tuple], reports: dict[tuple[str, str], tuple]
) -> bool:
    """Store the payload under ``key`` (atomically); ``False`` when the folder cannot be written."""
    body = marshal.dumps((CACHE_FORMAT, key, layer_rows, specs, reports))
    data = MAGIC + key.encode() + b"\n" + _digest(body).encode() + body
    if not write_atomic(_path(key), data):
        return False
    trim(cache_dir(), "*.bin", MAX_FILES)
    return True


def _digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=32).hexdigest()


# --- the store a process keeps ------------------------------------------------------------------------


class CatalogStore:
    """This process's catalog specs, and the weights reports read from or to be written to disk."""

    def __init__(self, catalog: dict, key: str | None) -> None:
        self.catalog = catalog
        self.key = key
        self.specs: dict[str, ModelSpec] = {}
        self._layer_rows: tuple = ()
        self._encoded_specs: dict[str, tuple] = {}
        self._reports: dict[tuple[str, str], tuple] = {}
        self._dirty = False
        self._lock = threading.Lock()
        #: (model, format) pairs whose report this process already read back or noted.
        self._done: set[tuple[str, str]] = set()

    def weights(self, model_id: str, spec: ModelSpec, fmt: QuantFormat, *, note: bool = True) -> None:
        """Make sure ``fmt.weights(spec)`` is held in memory: read back from disk, else built and (``note``)
        noted for the file."""
        key = (model_id, fmt.id)
        if key in self._done or self.specs.get(model_id) is not spec:
            return  # handled already in this process, or a Hub model or a spec this store does not know
        self._done.add(key)
        held = known_weights(fmt, spec)
        if held is None and (encoded := self._reports.get(key)) is not None:
            try:
                report = decode_report(encoded, spec)
            except (ValueError, TypeError):
                report = None
            if report is not None and report.format_id == fmt.id:
                from planner.fit.speed import remember_report_terms

                with contextlib.suppress(
                    ValueError, TypeError, IndexError
                ):  # else the speed model works them out
                    remember_report_terms(report, spec, encoded[3])
                remember_weights(fmt, spec, report, sum(row[1] for row in encoded[1]))
                return
        if key in self._reports and held is not None:
            return
        report = held if held is not None else fmt.weights(spec)
        if note:
            self._note(key, report, spec)
        else:
            self._done.discard(key)  # a later call that notes it finds the report held and notes it then

    def _note(self, key: tuple[str, str], report: WeightsReport, spec: ModelSpec) -> None:
        encoded = encode_report(report, spec)
        if encoded is not None and self.key is not None:
            with self._lock:
                self._reports[key] = encoded
                self._dirty = True

    def flush(self) -> None:
        """Write the file when reports were added since it was read (best effort)."""
        if not self._dirty or self.key is None or not self._encoded_specs:
            return
        with self._lock:
            reports = dict(self._reports)
            self._dirty = False
        write_file(self.key, self._layer_rows, self._encoded_specs, reports)


_STORE: CatalogStore | None = None
_STORE_LOCK = threading.Lock()


def catalog_store() -> CatalogStore:
    """The store for the catalog as loaded now: its specs read from disk, or built (and written) once."""
    global _STORE
    catalog = _catalog.load_catalog()
    store = _STORE
    if store is not None and store.catalog is catalog:
        return store
    with _STORE_LOCK:
        if _STORE is not None and _STORE.catalog is catalog:
            return _STORE
        _STORE = _load(catalog)
        return _STORE


def _load(catalog: dict) -> CatalogStore:
    try:
        key = cache_key()
    except OSError:
        key = None
    store = CatalogStore(catalog, key)
    found = read_file(key) if key is not None else None
    if found is not None:
        layer_rows, encoded, reports = found
        try:
            if set(encoded) != set(catalog):
                raise ValueError("another catalog")
            specs = decode_specs(layer_rows, encoded)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            found = None
        else:
            for model_id in catalog:
                # A spec this process built already keeps its identity (caches key on it); its
                # stored reports are the same (same config, same code), so they serve it too.
                store.specs[model_id] = _catalog.adopt_spec(model_id, specs[model_id])
            store._layer_rows, store._encoded_specs, store._reports = layer_rows, encoded, dict(reports)
            return store
    store.specs = {model_id: entry.spec() for model_id, entry in catalog.items()}
    if key is not None and all(s.inventory_source in STORABLE_SOURCES for s in store.specs.values()):
        table: dict[tuple, int] = {}
        store._encoded_specs = {m: encode_spec(s, table) for m, s in store.specs.items()}
        store._layer_rows = tuple(table)
        store._dirty = True
    return store


def clear() -> None:
    """Forget this process's store (tests that change the catalog or the cache folder use it)."""
    global _STORE
    _STORE = None


__all__ = [
    "CACHE_FORMAT",
    "CatalogStore",
    "cache_dir",
    "cache_key",
    "catalog_store",
    "clear",
    "content_key",
    "decode_report",
    "decode_specs",
    "encode_report",
    "encode_spec",
    "read_file",
    "write_file",
]
