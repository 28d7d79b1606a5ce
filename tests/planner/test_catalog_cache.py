"""The catalog cache on disk: specs and weights reports come back exactly as built, a change to the
catalog or the code gives a new key, and a corrupt file, an unwritable folder or concurrent writers
are never an error (the answer is computed as without a cache)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import fields
from pathlib import Path

import pytest

from planner import catalog, catalog_cache
from planner.catalog import load_catalog
from planner.disk_cache import CACHE_ENV, write_atomic
from planner.fit import budget_from_gpu
from planner.formats import parse_format
from planner.formats.base import known_weights
from planner.memory.estimate import RunSettings
from planner.model.spec import LayerSpec, ModelSpec, TensorGroup

ROOT = Path(__file__).resolve().parents[2]
SOME_IDS = ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B", "openai/gpt-oss-20b")


def _same(a: object, b: object) -> None:
    """Equal, and of the very same types all the way down (an enum member, not its str value)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, LayerSpec | TensorGroup | ModelSpec):
        for f in fields(a):
            _same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    """A fresh cache folder and a fresh store (the process's own comes back afterwards)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    saved = catalog_cache._STORE
    catalog_cache.clear()
    yield tmp_path / "cache"
    catalog_cache._STORE = saved


def test_every_catalog_spec_comes_back_identical():
    specs = {m: e.spec() for m, e in load_catalog().items()}
    table: dict[tuple, int] = {}
    encoded = {m: catalog_cache.encode_spec(s, table) for m, s in specs.items()}
    decoded = catalog_cache.decode_specs(tuple(table), encoded)
    assert decoded.keys() == specs.keys()
    for model_id, spec in specs.items():
        _same(decoded[model_id], spec)
    # Layers that differ only by index are stored once: far fewer rows than layers.
    assert len(table) < sum(len(s.layers) for s in specs.values()) / 20


@pytest.mark.parametrize("format_id", ["q4_k_m", "iq2_xs", "q6_k", "bnb-nf4", "awq-int4", "bf16", "mxfp4"])
def test_weights_reports_come_back_identical(format_id):
    fmt = parse_format(format_id)
    for entry in load_catalog().values():
        spec = entry.spec()
        try:
            report = fmt.weights(spec)
        except Exception:  # a format that refuses a model has nothing to store
            continue
        encoded = catalog_cache.encode_report(report, spec)
        assert encoded is not None
        back = catalog_cache.decode_report(encoded, spec)
        assert back == report
        assert back.total_bytes == report.total_bytes and back.bits_per_weight == report.bits_per_weight
        assert all(a.group is b.group for a, b in zip(back.tensors, report.tensors, strict=True))


def test_a_fresh_store_reads_specs_and_reports_back_without_building(cache_root, monkeypatch):
    first = catalog_cache.catalog_store()
    model_id = SOME_IDS[0]
    fmt = parse_format("q4_k_m")
    first.weights(model_id, first.specs[model_id], fmt)
    first.flush()
    files = list((cache_root / "catalog").glob("*.bin"))
    assert [f.stem for f in files] == [first.key]

    # A new process: no spec built yet, and building one is an error.
    catalog_cache.clear()
    monkeypatch.setattr(catalog, "_SPECS", {})
    monkeypatch.setattr(catalog, "model_from_config", _no_build)
    again = catalog_cache.catalog_store()
    assert again is not first and again.key == first.key
    for m, spec in first.specs.items():
        _same(again.specs[m], spec)
        assert catalog.load_catalog()[m].spec() is again.specs[m]  # the catalog hands out the same object
    spec = again.specs[model_id]
    assert known_weights(fmt, spec) is None
    monkeypatch.setattr(type(fmt), "build_weights", _no_build)
    again.weights(model_id, spec, fmt)  # read back, not planned again
    monkeypatch.undo()
    report = known_weights(fmt, spec)
    assert report is not None and fmt.weights(spec) is report
    assert report == fmt.build_weights(spec)
    built = fmt.build_weights(first.specs[model_id])
    # Its sums were remembered with it: the same as a report built here sums to.
    assert (report.total_bytes, report.bits_per_weight) == (built.total_bytes, built.bits_per_weight)
    assert report.total_bytes == fmt.weights(first.specs[model_id]).total_bytes


def _no_build(*args, **kwargs):
    raise AssertionError("a spec was built although the cache holds it")


def _copy_catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for model_id in SOME_IDS:
        name = model_id.replace("/", "--") + ".json"
        shutil.copy(catalog.MODELS_DIR / name, folder / name)
    return folder


def test_a_changed_catalog_file_is_a_new_key_and_a_new_spec(cache_root, tmp_path, monkeypatch):
    folder = _copy_catalog(tmp_path)
    monkeypatch.setattr(catalog, "MODELS_DIR", folder)
    loaded = {}

    def reload() -> None:  # the catalog as a new process would read it (the process's own stays as it is)
        loaded["catalog"] = {e.id: e for e in map(catalog._entry, sorted(folder.glob("*.json")))}
        monkeypatch.setattr(catalog, "_SPECS", {})

    reload()
    monkeypatch.setattr(catalog, "load_catalog", lambda: loaded["catalog"])
    store = catalog_cache.catalog_store()
    store.flush()
    assert store.specs[SOME_IDS[0]].num_layers == 32
    old_key = store.key

    path = folder / (SOME_IDS[0].replace("/", "--") + ".json")
    row = json.loads(path.read_text())
    row["config"]["num_hidden_layers"] = 16
    path.write_text(json.dumps(row))
    reload()
    store = catalog_cache.catalog_store()
    assert store.key != old_key
    assert store.specs[SOME_IDS[0]].num_layers == 16  # built again, not the stale 32-layer spec
    store.flush()
    assert {f.stem for f in (cache_root / "catalog").glob("*.bin")} == {old_key, store.key}


def test_a_changed_source_file_is_a_new_key(tmp_path, monkeypatch):
    source = tmp_path / "planner"
    source.mkdir()
    (source / "a.py").write_text("X = 1\n")
    monkeypatch.setattr(catalog_cache, "_PLANNER_DIR", source)
    before = catalog_cache.content_key()
    assert catalog_cache.content_key() == before
    (source / "a.py").write_text("X = 2\n")
    assert catalog_cache.content_key() != before
    (source / "a.py").write_text("X = 1\n")
    assert catalog_cache.content_key() == before
    (source / "b.py").write_text("")
    assert catalog_cache.content_key() != before


def test_the_key_remembered_by_file_times_follows_every_edit(cache_root, tmp_path, monkeypatch):
    source = tmp_path / "planner"
    source.mkdir()
    module = source / "a.py"
    monkeypatch.setattr(catalog_cache, "_PLANNER_DIR", source)

    def write(text: str, mtime_ns: int) -> None:
        module.write_text(text)
        os.utime(module, ns=(mtime_ns, mtime_ns))

    write("X = 1\n", 1_000_000_000)
    first = catalog_cache.cache_key()
    assert first == catalog_cache.content_key()
    assert len(list((cache_root / "catalog" / "stamps").glob("*.key"))) == 1
    assert catalog_cache.cache_key() == first  # from the stamp

    write("X = 2\n", 2_000_000_000)  # an edit: a new time (and here the same size)
    second = catalog_cache.cache_key()
    assert second != first and second == catalog_cache.content_key()

    write("X = 2\n", 3_000_000_000)  # touched, content unchanged: hashed again, the same key
    assert catalog_cache.cache_key() == second

    for stamp in (cache_root / "catalog" / "stamps").glob("*.key"):
        stamp.write_text("not a key\n")  # a damaged stamp is hashed again, not trusted
    assert catalog_cache.cache_key() == second


def _stored(cache_root: Path) -> tuple[catalog_cache.CatalogStore, Path]:
    store = catalog_cache.catalog_store()
    store.flush()
    return store, cache_root / "catalog" / f"{store.key}.bin"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-100] + bytes(b ^ 0xFF for b in data[-100:]),  # payload bytes flipped
        lambda data: b"",  # empty
        lambda data: b"not a cache file at all\n" * 10,
        lambda data: data.replace(b"vram-planner catalog cache", b"vram-planner catalog cachX", 1),
    ],
)
def test_a_corrupt_file_reads_as_no_cache_and_is_written_again(cache_root, damage):
    store, path = _stored(cache_root)
    path.write_bytes(damage(path.read_bytes()))
    assert catalog_cache.read_file(store.key) is None
    catalog_cache.clear()
    again = catalog_cache.catalog_store()  # builds (no error), then writes a good file
    again.flush()
    assert catalog_cache.read_file(store.key) is not None


def test_a_payload_with_a_valid_digest_but_wrong_shape_is_refused(cache_root):
    store, path = _stored(cache_root)
    body = b"\xe9\x00\x00\x00\x00"  # marshal of a bare int: digest fine, layout wrong
    head = catalog_cache.MAGIC + store.key.encode() + b"\n"
    path.write_bytes(head + hashlib.blake2b(body, digest_size=32).hexdigest().encode() + body)
    assert catalog_cache.read_file(store.key) is None


def test_an_unwritable_cache_folder_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    saved = catalog_cache._STORE
    catalog_cache.clear()
    try:
        assert write_atomic(blocker / "catalog" / "x.bin", b"data") is False
        store = catalog_cache.catalog_store()
        store.flush()  # nothing written, nothing raised
        assert store.specs[SOME_IDS[0]].num_layers == 32
        from planner.recommend import recommend

        result = recommend(budget_from_gpu("rtx-4090"), RunSettings(context=8192), formats=["q4_k_m"])
        assert result.best is not None
    finally:
        catalog_cache._STORE = saved


def test_concurrent_writers_never_leave_a_torn_file(cache_root):
    store, _ = _stored(cache_root)
    layer_rows, specs, reports = catalog_cache.read_file(store.key)
    errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        for _ in range(15):
            catalog_cache.write_file(store.key, layer_rows, specs, reports)

    def read() -> None:
        while not stop.is_set():
            if catalog_cache.read_file(store.key) is None:
                errors.append("a reader saw a partial or missing file")

    readers = [threading.Thread(target=read)]
    writers = [threading.Thread(target=write) for _ in range(3)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors
    assert not list((cache_root / "catalog").glob(".tmp-*"))  # no temporary file left behind


def test_a_second_process_answers_the_same_from_the_cache(cache_root):
    """Two fresh processes: the first writes the cache, the second reads it; the JSON is the same."""
    env = {**os.environ, CACHE_ENV: str(cache_root), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "planner", "recommend", "--gpu", "3060", "--json", "--top", "30"]
    first = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    files = list((cache_root / "catalog").glob("*.bin"))
    assert len(files) == 1
    _, specs, reports = catalog_cache.read_file(files[0].stem)
    assert set(specs) == set(load_catalog()) and len(reports) > 100
    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b
