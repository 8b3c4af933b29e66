"""A file that does not parse is named in one line, and the line never shows what the file holds.

Parsers quote the bytes they met (numpy's header check, gzip's magic test,
``float()``, pickle's load key); a message that passes them on would show a
file's contents to whoever sees the message. Each loader gets a file that
starts with a secret and must not repeat it.
"""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from convscope._checks import ConvscopeError

SECRET = b"hunter2:x:0:0:SECRETWORD:/home/s3cr3t\n" * 4


def _secret_file(tmp_path, name: str, *, gz: bool = False):
    p = tmp_path / name
    p.write_bytes(gzip.compress(SECRET) if gz else SECRET)
    return p


def _kernel_npy(p):
    from convscope.kernels import parse_kernel

    parse_kernel(p)


def _kernel_txt(p):
    from convscope.kernels import kernel_from_spec

    kernel_from_spec(str(p))


def _npz(p):
    from convscope.data.datasets import load_dataset

    load_dataset(str(p), split="train")


def _chunked(p):
    from convscope.data.chunked import open_chunked

    open_chunked(p, 64)


def _idx(p):
    from convscope.data.mnist import read_idx

    read_idx(p)


def _cifar(p):
    from convscope.data.cifar import read_batch

    read_batch(p)


def _image(p):
    from convscope.data.images import load_image

    load_image(p)


def _csv(p):
    from convscope.train.logging import _read_csv

    _read_csv(p)


def _jsonl(p):
    from convscope.train.logging import read_jsonl

    read_jsonl(p, strict=True)


CASES = [
    ("k.npy", _kernel_npy, False),
    ("k.txt", _kernel_txt, False),
    ("data.npz", _npz, False),
    ("big.npy", _chunked, False),
    ("train-images-idx3-ubyte.gz", _idx, False),  # not gzip at all: gzip's magic test quotes the bytes
    ("t10k-images-idx3-ubyte", _idx, True),
    ("data_batch_1", _cifar, False),
    ("photo.png", _image, False),
    ("metrics.csv", _csv, False),
    ("metrics.jsonl", _jsonl, False),
]


@pytest.mark.parametrize(("name", "load", "gz"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_file_is_named_but_never_quoted(tmp_path, name, load, gz):
    p = _secret_file(tmp_path, name, gz=gz)
    try:
        load(p)
    except ConvscopeError as e:
        text = str(e)
    else:
        pytest.fail(f"{name}: a file of text was accepted")
    assert name in text, text  # the file is named
    for word in ("hunter2", "SECRETWORD", "s3cr3t"):
        assert word not in text, text
    assert "\n" not in text.strip()


def test_a_text_kernel_names_the_line_it_could_not_read(tmp_path):
    from convscope.kernels import parse_kernel

    p = tmp_path / "k.txt"
    p.write_text("1 2 3\n4 5 6\nhunter2 SECRETWORD 9\n")
    with pytest.raises(ConvscopeError, match=r"k\.txt line 3 must hold numbers") as e:
        parse_kernel(p)
    assert "hunter2" not in str(e.value)
    np.testing.assert_array_equal(parse_kernel(_rows(tmp_path)), [[1, 2], [3, 4]])


def _rows(tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text("# a comment\n1, 2\n\n3 4\n")
    return p


@pytest.mark.parametrize(("name", "load", "gz"), CASES, ids=[c[0] for c in CASES])
def test_a_named_pipe_is_refused_at_once_never_read(tmp_path, name, load, gz):
    """Opening a FIFO for reading blocks until a writer comes: every loader must refuse it from stat."""
    import os
    import threading

    p = tmp_path / name
    os.mkfifo(p)
    done = []

    def run():
        try:
            load(p)
        except ConvscopeError as e:
            done.append(str(e))
        except Exception as e:  # any other failure is a failure of this test, reported below
            done.append(f"unexpected {type(e).__name__}: {e}")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader so the test run can end
        with open(p, "wb"):
            pass
        t.join(5)
        pytest.fail(f"{name}: the loader blocked on a named pipe")
    assert done and name in done[0] and not done[0].startswith("unexpected"), done


def test_a_file_where_a_folder_must_be_is_named(tmp_path, monkeypatch, capsys):
    from convscope._io import atomic_write_text
    from convscope.cli import main

    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=f"{tmp_path}/cache/sub must be a folder, but {blocker} is a file"):
        atomic_write_text(blocker / "sub" / "x.json", "{}")
    # the command line says the same in one line, exit 2 (it said "[Errno 17] File exists")
    assert main(["conv", "--kernel", "box", "--size", "16", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be a folder, but" in err and str(blocker) in err


@pytest.mark.parametrize(("members", "what"), [
    (["members/0"] * 100_000, "100000 (1 distinct)"),  # one member listed 100,000 times made eval hang
    ([f"members/{i}" for i in range(101)], "101 (101 distinct)"),
    (["members/0", "members/1", "members/0"], "3 (2 distinct)"),
])
def test_a_tampered_ensemble_is_refused_before_any_member_loads(tmp_path, members, what):
    import json

    from convscope.models import load_classifier

    (tmp_path / "ensemble.json").write_text(json.dumps({"kind": "classifier-ensemble", "members": members}))
    with pytest.raises(ConvscopeError, match=rf"must list at most 100 distinct members, got {re.escape(what)}"):
        load_classifier(tmp_path)
