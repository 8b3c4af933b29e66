"""Writers of standard data files that several test modules share (on the path via pytest's ``pythonpath``)."""

from __future__ import annotations

import pickle

import numpy as np


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"batch", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(n)]}


def write_cifar_dir(d, n=6):
    d.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        (d / f"data_batch_{i}").write_bytes(pickle.dumps(cifar_batch(n, i), protocol=2))
    (d / "test_batch").write_bytes(pickle.dumps(cifar_batch(n, 9), protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2))
    return d
