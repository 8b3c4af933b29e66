"""The classifier's training loop: bit-identical resume, Ctrl-C, refusal, DDP over gloo."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from convscope.metrics.classification import confusion_matrix
from convscope.models.cnn import CNNConfig, prepare_images
from convscope.train.checkpoint import CheckpointManager, load_checkpoint
from convscope.train.classify import TrainConfig, augment_batch, train_classifier
from convscope.train.logging import read_jsonl

# small and quick: ~720 training images of 8x8 digits, 12 steps an epoch
MODEL = CNNConfig("lenet", width=0.5)
# the pre-issue-12 optimiser and schedule (epoch-wise, so that resume may extend the epochs)
OLD = {"optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0, "scheduler": "step", "label_smoothing": 0.0}
TRAIN = TrainConfig(data="digits", epochs=4, batch_size=64, val_fraction=0.1, test_fraction=0.5, **OLD)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def four_epochs(tmp_path_factory):
    out = tmp_path_factory.mktemp("four")
    res = train_classifier(MODEL, TRAIN, out, quiet=True)
    return out, res


class TestResume:
    def test_two_plus_two_equals_four(self, four_epochs, tmp_path):
        _, ref = four_epochs
        train_classifier(MODEL, TRAIN.replace(epochs=2), tmp_path, quiet=True)
        res = train_classifier(MODEL, TRAIN, tmp_path, resume=True, quiet=True)
        assert same_weights(res.model.state_dict(), ref.model.state_dict())
        final = load_checkpoint(CheckpointManager(tmp_path / "checkpoints").latest_path())
        assert final["epoch"] == 4 and final["step"] == ref.step
        # the resumed run's log reads like the uninterrupted one
        assert [r["step"] for r in res.history] == [r["step"] for r in ref.history]
        assert [r["train_loss"] for r in res.history] == [r["train_loss"] for r in ref.history]

    def test_checkpoint_contents(self, four_epochs):
        out, ref = four_epochs
        st = load_checkpoint(ref.checkpoint)
        for key in ("models", "optimizers", "schedulers", "rng", "step", "epoch", "batch_in_epoch", "configs",
                    "metrics", "extra", "version", "kind", "schema"):
            assert key in st, key
        assert st["kind"] == "classifier" and st["format"] == "convscope-checkpoint"
        assert st["configs"]["model"]["arch"] == "lenet" and st["configs"]["train"]["data"] == "digits"
        data = st["extra"]["data"]
        assert data["classes"] == [str(i) for i in range(10)] and data["image_shape"] == [1, 8, 8]
        assert len(CheckpointManager(out / "checkpoints").paths()) == 3  # keep_last
        assert (out / "checkpoints" / "best.pt").is_file() and (out / "metrics.csv").is_file()
        assert (out / "run.json").is_file()
        hist = read_jsonl(out / "metrics.jsonl")
        assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
        assert hist[-1]["train_loss"] < hist[0]["train_loss"]
        assert hist[-1]["val_acc"] > 0.5
        best = load_checkpoint(out / "checkpoints" / "best.pt")  # chosen by the lowest validation loss
        assert best["metrics"]["val_loss"] == min(h["val_loss"] for h in hist) == best["extra"]["best_metric"]

    def test_refuses_other_architecture(self, four_epochs, tmp_path):
        out, _ = four_epochs
        run = tmp_path / "run"
        shutil.copytree(out, run)
        with pytest.raises(ValueError, match=r"cannot resume from .*: the settings differ .*arch: 'lenet' -> 'alexnet'; "
                                             r"width: 0\.5 -> 1\.0"):
            train_classifier(CNNConfig("alexnet"), TRAIN.replace(epochs=5), run, resume=True, quiet=True)
        with pytest.raises(ValueError, match=r"lr: 0\.002 -> 0\.1"):
            train_classifier(MODEL, TRAIN.replace(lr=0.1), run, resume=True, quiet=True)

    def test_refuses_to_overwrite_a_run(self, four_epochs):
        out, _ = four_epochs
        with pytest.raises(ValueError, match=r"already holds a run .*pass --resume"):
            train_classifier(MODEL, TRAIN, out, quiet=True)

    def test_dry_run_writes_nothing(self, tmp_path):
        res = train_classifier(MODEL, TRAIN, tmp_path / "dry", dry_run=True, quiet=True)
        assert res.step == 1 and not (tmp_path / "dry").exists()


def test_extending_a_cosine_run_retargets_the_schedule(tmp_path):
    tc = TRAIN.replace(epochs=2, scheduler="cosine")
    train_classifier(MODEL, tc, tmp_path / "a", quiet=True)
    ext = train_classifier(MODEL, tc.replace(epochs=4), tmp_path / "a", resume=True, quiet=True)
    planned = train_classifier(MODEL, tc.replace(epochs=4), tmp_path / "b", quiet=True)
    lr = [h["lr"] for h in ext.history]
    assert lr[1] == 0.0  # the 2-epoch plan had annealed to zero
    assert lr[2:] == pytest.approx([h["lr"] for h in planned.history][2:], abs=1e-12)


def test_augment_and_helpers():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 8, 8)
    a = augment_batch(x)
    assert a.shape == x.shape and not torch.equal(a, x)
    assert torch.equal(augment_batch(x, rotate_deg=0, scale=0, shift=0), x) or torch.allclose(
        augment_batch(x, rotate_deg=0, scale=0, shift=0), x, atol=1e-5)
    cm = confusion_matrix(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 2, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    meta = {"image_shape": [1, 32, 32], "pad": 2, "normalize": "gan"}
    p = prepare_images(torch.ones(1, 3, 28, 28), meta)
    assert p.shape == (1, 1, 32, 32) and float(p[0, 0, 0, 0]) == -1.0 and abs(float(p[0, 0, 16, 16]) - 1) < 1e-5


_SLOW_CHILD = textwrap.dedent(
    """
    import sys, time
    import convscope.train.classify as C
    real = C.augment_batch
    def slow(x, **kw):  # same numbers, just slower, so Ctrl-C lands mid-epoch
        time.sleep(0.15)
        return real(x, **kw)
    C.augment_batch = slow
    from convscope.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_ctrl_c_saves_then_resume_is_exact(four_epochs, tmp_path):
    out = tmp_path / "run"
    args = ["classify", "train", "--data", "digits", "--model", "lenet", "--width", "0.5", "--epochs", "4",
            "--batch-size", "64", "--val-fraction", "0.1", "--test-fraction", "0.5", "--out", str(out),
            "--optimizer", "adam", "--lr", "2e-3", "--weight-decay", "0", "--scheduler", "step",
            "--label-smoothing", "0"]  # TRAIN's (the pre-issue-12 defaults)
    env = {**os.environ, "CONVSCOPE_QUIET": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_CHILD, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not list(out.glob("checkpoints/ckpt-*.pt")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        time.sleep(1.0)  # a few steps (0.15 s each) into epoch 2
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupt received, saving a checkpoint" in err and "continue with --resume" in err
    st = load_checkpoint(CheckpointManager(out / "checkpoints").latest_path())
    assert st["extra"]["interrupted"] and st["epoch"] == 1 and 0 < st["batch_in_epoch"] < 12
    res = train_classifier(MODEL, TRAIN, out, resume=True, quiet=True)
    assert same_weights(res.model.state_dict(), four_epochs[1].model.state_dict())


_DDP_WORKER = textwrap.dedent(
    """
    import sys, torch
    from convscope.models.cnn import CNNConfig
    from convscope.train import distributed as D
    from convscope.train.classify import TrainConfig, train_classifier
    out = sys.argv[1]
    D.setup_distributed()
    r = D.rank()
    res = train_classifier(CNNConfig("lenet", width=0.5),
                           TrainConfig(data="digits", epochs=3, batch_size=32, test_fraction=0.5), out)
    torch.save({k: v.clone() for k, v in res.model.named_parameters()}, f"{out}/../params_rank{r}.pt")
    D.cleanup()
    """
)


def test_ddp_two_cpu_processes_over_gloo(tmp_path):
    worker = tmp_path / "worker.py"
    worker.write_text(_DDP_WORKER)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CONVSCOPE_QUIET": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(worker), str(out)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    a = torch.load(tmp_path / "params_rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "params_rank1.pt", weights_only=True)
    assert same_weights(a, b)
    hist = read_jsonl(out / "metrics.jsonl")
    assert [h["epoch"] for h in hist] == [1, 2, 3]  # one writer: rank 0
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    # each process saw half of the ~720 training images per epoch: 12 steps of 32, not 23
    assert hist[0]["step"] == 12
    assert p.stderr.count("epoch 1/3:") == 1  # only rank 0 talks


def test_cli_refuses_mismatched_resume(four_epochs, tmp_path, capsys):
    from convscope.cli import main

    run = tmp_path / "run"
    shutil.copytree(four_epochs[0], run)
    rc = main(["classify", "train", "--resume", "--out", str(run), "--model", "alexnet", "--epochs", "5", "--quiet"])
    assert rc == 2
    assert "arch: 'lenet' -> 'alexnet'" in capsys.readouterr().err
    assert Path(run / "checkpoints" / "best.pt").is_file()


def test_the_trainer_draws_its_own_curves(tmp_path):
    """Like the GAN's, the classifier's run folder gets curves.png from the trainer, not from a front-end."""
    from convscope.models.cnn import CNNConfig
    from convscope.train.classify import TrainConfig, train_classifier

    run = tmp_path / "run"
    res = train_classifier(CNNConfig(width=0.5), TrainConfig.from_dict({"data": "digits", "image_size": 16,
                                                                        "epochs": 1, "seed": 0}), run, quiet=True)
    assert res.history and (run / "curves.png").stat().st_size > 1000
