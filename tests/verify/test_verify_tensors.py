"""Exact bytes from tensors: each storage once, views and caches at their real size."""

import pytest

from verify.tensors import cache_bytes, logical_bytes, storage_bytes

torch = pytest.importorskip("torch")


def test_storage_bytes_counts_each_storage_once():
    a = torch.zeros(10, 4, dtype=torch.bfloat16)
    view = a[2:5]
    assert storage_bytes([a, view, a]) == 80
    assert logical_bytes([a, view]) == 80 + 24
    assert storage_bytes([torch.empty(3, device="meta")]) == 0


def test_cache_bytes_of_a_legacy_tuple_and_of_layers():
    k = torch.zeros(1, 2, 5, 8)
    assert cache_bytes(((k, k.clone()),)).logical == 2 * k.nbytes

    class Layer:
        def __init__(self, keys, values):
            self.keys, self.values = keys, values

    class Cache:
        def __init__(self):
            self.layers = [Layer(k[:, :, -3:], k.clone())]

    counted = cache_bytes(Cache())
    assert counted.logical == k.nbytes * 3 // 5 + k.nbytes
    assert counted.storage == 2 * k.nbytes  # the view pins its whole prefill
    assert counted.layers == 1
