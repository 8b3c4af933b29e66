"""convscope.train: atomic weights-only checkpoints, RNG state, the manager, metric logs, DDP helpers."""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from convscope.train import distributed as D
from convscope.train.checkpoint import (
    CheckpointManager,
    config_diff,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from convscope.train.logging import MetricLogger, read_jsonl


@dataclass(frozen=True)
class Cfg:
    arch: str = "lenet"
    width: float = 1.0
    sizes: tuple = (1, 2)


class TestSaveLoad:
    def test_round_trip_with_dataclass_config(self, tmp_path):
        lin = torch.nn.Linear(3, 2)
        opt = torch.optim.Adam(lin.parameters())
        lin(torch.randn(4, 3)).sum().backward()
        opt.step()
        p = save_checkpoint(tmp_path / "a" / "c.pt", {"model": lin.state_dict(), "optimizer": opt.state_dict(),
                                                       "config": Cfg(), "path": tmp_path, "n": np.int64(3)})
        st = load_checkpoint(p)
        assert st["config"] == {"arch": "lenet", "width": 1.0, "sizes": (1, 2)}
        assert st["n"] == 3 and isinstance(st["path"], str)
        assert torch.equal(st["model"]["weight"], lin.weight)
        opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
        opt2.load_state_dict(st["optimizer"])
        assert not list(tmp_path.glob("a/.c.pt.*"))  # no temporary left behind

    def test_missing_corrupt_truncated(self, tmp_path):
        with pytest.raises(ValueError, match=r"checkpoint .*nope\.pt does not exist"):
            load_checkpoint(tmp_path / "nope.pt")
        p = save_checkpoint(tmp_path / "c.pt", {"w": torch.randn(1000)})
        data = p.read_bytes()
        (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match=r"checkpoint .*t\.pt is corrupt or truncated"):
            load_checkpoint(tmp_path / "t.pt")
        (tmp_path / "z.pt").write_bytes(b"")
        with pytest.raises(ValueError, match=r"checkpoint .*z\.pt is corrupt or truncated"):
            load_checkpoint(tmp_path / "z.pt")

    def test_arbitrary_pickle_refused(self, tmp_path):
        class Evil:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        p = tmp_path / "evil.pt"
        torch.save({"x": Evil()}, p)
        with pytest.raises(ValueError, match=r"evil\.pt holds objects that weights-only loading refuses"):
            load_checkpoint(p)
        p2 = tmp_path / "plain.pt"
        p2.write_bytes(pickle.dumps({"x": Evil()}))
        with pytest.raises(ValueError, match=r"plain\.pt"):
            load_checkpoint(p2)


def test_rng_state_round_trip_through_a_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's legacy state
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state()})
    a = (torch.rand(5), np.random.rand(5), np.random.randn(), [random.random() for _ in range(5)], random.gauss(0, 1))
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    b = (torch.rand(5), np.random.rand(5), np.random.randn(), [random.random() for _ in range(5)], random.gauss(0, 1))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def test_config_diff():
    assert config_diff({"a": 1, "b": [1, 2]}, {"a": 1, "b": (1, 2)}) == []
    assert config_diff({"a": 1}, {"a": 2, "c": 3}) == ["a: 1 -> 2", "c: '<missing>' -> 3"]


class TestManager:
    def test_keeps_last_n_and_best(self, tmp_path):
        m = CheckpointManager(tmp_path, keep_last=2)
        for step, metric in [(10, 0.5), (20, 0.8), (30, 0.6), (40, 0.7)]:
            m.save({"step": step}, step, metric=metric)
        assert [p.name for p in m.paths()] == ["ckpt-00000030.pt", "ckpt-00000040.pt"]
        assert load_checkpoint(m.best_path())["step"] == 20 and m.best_metric == 0.8
        assert m.load_latest()["step"] == 40
        m2 = CheckpointManager(tmp_path)  # best survives a restart
        assert m2.best_step == 20 and m2.best_metric == 0.8
        m2.save({"step": 50}, 50, metric=0.1, higher_is_better=False)
        assert m2.best_step == 50

    def test_lower_is_better(self, tmp_path):
        m = CheckpointManager(tmp_path)
        for step, loss in [(1, 0.5), (2, 0.3), (3, 0.4)]:
            m.save({"step": step}, step, metric=loss, higher_is_better=False)
        assert load_checkpoint(m.best_path())["step"] == 2

    def test_unreadable_newest_falls_back(self, tmp_path):
        m = CheckpointManager(tmp_path)
        m.save({"step": 1}, 1)
        m.save({"step": 2}, 2)
        m.path_for(2).write_bytes(b"\x00" * 10)
        with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
            assert m.load_latest()["step"] == 1

    def test_empty(self, tmp_path):
        m = CheckpointManager(tmp_path / "none")
        assert m.latest_path() is None and m.best_path() is None and m.load_latest() is None
        with pytest.raises(ValueError, match="keep_last must be an integer >= 1, got 0"):
            CheckpointManager(tmp_path, keep_last=0)


_KILL_SCRIPT = textwrap.dedent(
    """
    import io, sys, time, torch
    from convscope.train.checkpoint import save_checkpoint
    path = sys.argv[1]
    real = torch.save
    def slow(obj, f):  # write half of the real bytes, then hang inside the save
        buf = io.BytesIO(); real(obj, buf); b = buf.getvalue()
        f.write(b[: len(b) // 2]); f.flush()
        print("HALF", flush=True)
        time.sleep(60)
        f.write(b[len(b) // 2 :])
    torch.save = slow
    save_checkpoint(path, {"step": 2, "w": torch.full((200_000,), 2.0)})
    """
)


def test_sigkill_during_save_leaves_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"step": 1, "w": torch.full((200_000,), 1.0)})
    before = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "HALF"
        assert list(tmp_path.glob(".ckpt.pt.*.tmp")), "the save should be under way in a temporary file"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    st = load_checkpoint(path)
    assert st["step"] == 1 and float(st["w"][0]) == 1.0
    # the manager never mistakes the orphaned temporary for a checkpoint
    assert CheckpointManager(tmp_path).paths() == []


class TestMetricLogger:
    def test_jsonl_and_csv_with_new_keys(self, tmp_path):
        with MetricLogger(tmp_path, tensorboard=False) as log:
            log.log(1, loss=1.0)
            log.log(2, loss=0.5, acc=torch.tensor(0.75))
            log.log(3, loss=float("nan"), acc=0.8)
        rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
        assert list(rows[0]) == ["step", "loss", "acc"]
        assert [r["acc"] for r in rows] == ["", "0.75", "0.8"]
        recs = read_jsonl(tmp_path / "metrics.jsonl")
        assert [r["step"] for r in recs] == [1, 2, 3] and recs[1]["acc"] == 0.75 and recs[2]["loss"] == "nan"
        json.dumps(recs)  # plain JSON

    def test_appends_across_instances_and_truncates(self, tmp_path):
        MetricLogger(tmp_path, tensorboard=False).log(1, a=1)
        log = MetricLogger(tmp_path, tensorboard=False)
        log.log(2, a=2)
        log.log(3, a=3, b=1)
        log.truncate_after(2)
        assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]
        assert [r["step"] for r in csv.DictReader((tmp_path / "metrics.csv").open())] == ["1", "2"]

    def test_disabled_writes_nothing(self, tmp_path):
        log = MetricLogger(tmp_path / "x", enabled=False)
        log.log(1, a=1)
        assert not (tmp_path / "x").exists()

    def test_tensorboard_optional(self, tmp_path):
        try:
            import tensorboard  # noqa: F401

            has = True
        except ImportError:
            has = False
        log = MetricLogger(tmp_path)
        assert log.tensorboard == has
        log.log(1, a=1.0)
        log.close()


def test_distributed_helpers_outside_torchrun(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    info = D.setup_distributed(device="cpu")
    assert (info.rank, info.world_size, info.backend) == (0, 1, None)
    assert D.is_main_process() and D.world_size() == 1 and D.rank() == 0
    m = torch.nn.Linear(2, 2)
    assert D.wrap_ddp(m) is m and D.unwrap(m) is m
    assert D.make_sampler(list(range(4))) is None
    t = torch.ones(2)
    assert torch.equal(D.all_reduce_sum(t), torch.ones(2))
    D.barrier()
    D.cleanup()


def test_atomic_writes_get_the_permissions_a_plain_open_gives(tmp_path):
    """mkstemp makes 0o600 files; outputs (PNGs, checkpoints, JSON) must be readable as a plain open makes them."""
    import os
    import stat

    from convscope._io import atomic_write_text

    um = os.umask(0o022)
    os.umask(um)
    new = atomic_write_text(tmp_path / "a.json", "{}")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~um
    plain = tmp_path / "b.json"
    plain.write_text("{}")
    assert stat.S_IMODE(new.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    os.chmod(new, 0o640)  # an existing file keeps its mode when rewritten
    atomic_write_text(new, "[]")
    assert stat.S_IMODE(new.stat().st_mode) == 0o640 and new.read_text() == "[]"


def test_a_killed_writes_temporaries_are_removed_by_the_next_run(tmp_path):
    """kill -9 during a checkpoint write leaves ".ckpt-....pt.XXXX.tmp"; the next manager of the folder removes it."""
    import torch

    from convscope.train.checkpoint import CheckpointManager

    stale = [tmp_path / ".ckpt-00000007.pt.k3j2h1.tmp", tmp_path / ".best.pt.4242.tmp",
             tmp_path / ".best.json.abcd.tmp"]
    keep = [tmp_path / "notes.txt", tmp_path / ".other.tmp", tmp_path / "ckpt-00000001.pt.tmp"]
    for p in stale + keep:
        p.write_bytes(b"half a checkpoint")
    m = CheckpointManager(tmp_path, keep_last=2)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
    (tmp_path / ".ckpt-00000009.pt.zz.tmp").write_bytes(b"x")  # one more dies mid-run
    m.save({"w": torch.tensor([1])}, 10)
    assert not (tmp_path / ".ckpt-00000009.pt.zz.tmp").exists() and m.latest_path().name == "ckpt-00000010.pt"
