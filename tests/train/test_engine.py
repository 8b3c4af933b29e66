"""The one training engine, for both trainers: exact resume, SIGTERM saves, 0.1.0 checkpoints load."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from convscope._checkpoint import migrate, read_checkpoint, save_checkpoint
from convscope.models.cnn import CNNConfig, load_classifier
from convscope.models.dcgan import DCGANConfig, load_generator
from convscope.train import (
    GANTrainConfig,
    TrainConfig,
    load_checkpoint,
    train_classifier,
    train_gan,
)
from convscope.train.classify import ClassifierPlugin
from convscope.train.gan import GANPlugin


def _blobs(n=96, size=16):
    g = torch.Generator().manual_seed(3)
    x = torch.nn.functional.avg_pool2d(torch.randn(n, 1, size + 4, size + 4, generator=g), 5, 1)
    return (x / x.abs().amax(dim=(1, 2, 3), keepdim=True)).clamp(-1, 1)


class Classifier:
    kind, plugin, nets = "classifier", ClassifierPlugin, ("model",)
    MODEL = CNNConfig("lenet", width=0.25)

    @staticmethod
    def train(out, epochs, **kw):
        # the pre-issue-12 optimiser and epoch-wise schedule: resume here extends the epochs, which one-cycle refuses
        tc = TrainConfig(data="digits", epochs=epochs, batch_size=128, test_fraction=0.5, keep_last=5,
                         optimizer="adam", lr=2e-3, weight_decay=0.0, scheduler="step", label_smoothing=0.0)
        return train_classifier(Classifier.MODEL, tc, out, quiet=True, **kw)

    @staticmethod
    def to_0_1_0(st: dict, out) -> None:
        """What convscope 0.1.0's classifier trainer wrote: its keys, its layout (checkpoints in the run folder)."""
        old = {"kind": "convscope-classifier", "version": "0.1.0", "model": st["models"]["model"],
               "optimizer": st["optimizers"]["model"], "scheduler": st["schedulers"].get("model"),
               "rng": st["rng"]["global"], "step": st["step"], "epoch": st["epoch"],
               "batch_in_epoch": st["batch_in_epoch"], "epoch_sums": st["extra"]["epoch_sums"],
               "config": st["configs"]["model"], "train": st["configs"]["train"], "data": st["extra"]["data"],
               "best_metric": st["extra"]["best_metric"], "metrics": st["metrics"],
               "interrupted": st["extra"]["interrupted"]}
        save_checkpoint(out / f"ckpt-{st['step']:08d}.pt", old)
        (out / "config.json").write_text(json.dumps({"model": old["config"], "train": old["train"], "data": old["data"]}))

    @staticmethod
    def load(out):
        return load_classifier(out)[0]


class GAN:
    kind, plugin, nets = "dcgan", GANPlugin, ("G", "D")
    MODEL = DCGANConfig(image_size=16, channels=1, nz=8, ngf=4, ndf=4)
    IMAGES = _blobs()

    @staticmethod
    def train(out, epochs, **kw):
        tc = GANTrainConfig(epochs=epochs, batch_size=16, n_fixed=8, plots=False, keep_last=5)
        return train_gan(GAN.MODEL, GAN.IMAGES, out, train=tc, seed=5, quiet=True, **kw)

    @staticmethod
    def to_0_1_0(st: dict, out) -> None:
        """What convscope 0.1.0's DCGAN trainer wrote (``version`` 1, checkpoints/ and run.json)."""
        e = st["extra"]
        old = {"kind": "convscope-dcgan", "version": 1, "model_config": st["configs"]["model"],
               "train_config": st["configs"]["train"], "data": e["data"], "data_arg": e["data_arg"],
               "classes": e["classes"], "seed": e["seed"], "G": st["models"]["G"], "D": st["models"]["D"],
               "optG": st["optimizers"]["G"], "optD": st["optimizers"]["D"], "order_gen": st["rng"]["generators"]["order"],
               "noise_gen": st["rng"]["generators"]["noise"], "rng": st["rng"]["global"], "fixed_noise": e["fixed_noise"],
               "step": st["step"], "epoch": st["epoch"], "batch_in_epoch": st["batch_in_epoch"], "perm": e["perm"],
               "history": e["history"]}
        save_checkpoint(out / "checkpoints" / f"ckpt-{st['step']:08d}.pt", old)
        (out / "run.json").write_text(json.dumps({"model_config": old["model_config"], "final": None}))

    @staticmethod
    def load(out):
        return load_generator(out)[0]


TRAINERS = [pytest.param(Classifier, id="classifier"), pytest.param(GAN, id="dcgan")]


def same_models(a: dict, b: dict, nets) -> bool:
    return all(a["models"][n].keys() == b["models"][n].keys()
               and all(torch.equal(a["models"][n][k], b["models"][n][k]) for k in a["models"][n]) for n in nets)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Both trainers, 2 epochs straight through (the reference)."""
    out = {}
    for t in (Classifier, GAN):
        d = tmp_path_factory.mktemp(t.kind)
        run = t.train(d / "run", 2)
        out[t.kind] = (run, load_checkpoint(run.checkpoint))
    return out


@pytest.mark.parametrize("T", TRAINERS)
def test_one_schema_resume_sigterm_and_0_1_0(T, straight, tmp_path, monkeypatch):
    ref_run, ref = straight[T.kind]
    # -- one schema: the same keys for both trainers
    assert ref["format"] == "convscope-checkpoint" and ref["schema"] == 2 and ref["kind"] == T.kind
    assert set(ref["models"]) == set(T.nets) and ref_run.checkpoint.parent.name == "checkpoints"
    assert json.loads((ref_run.run_dir / "run.json").read_text())["kind"] == T.kind

    # -- resume is bit-identical: 1 epoch, then resume to 2
    T.train(tmp_path / "half", 1)
    res = T.train(tmp_path / "half", 2, resume=True)
    assert res.step == ref_run.step and same_models(load_checkpoint(res.checkpoint), ref, T.nets)

    # -- SIGTERM (a cluster pre-empting the job) in the middle of epoch 1: save, then stop
    real_step = T.plugin.step

    def step_then_sigterm(self, epoch, batch, step):
        out = real_step(self, epoch, batch, step)
        if step == 3:
            signal.raise_signal(signal.SIGTERM)
        return out

    monkeypatch.setattr(T.plugin, "step", step_then_sigterm)
    cut = T.train(tmp_path / "cut", 2)
    assert cut.stopped == "interrupted" and cut.signal == signal.SIGTERM and cut.exit_code == 143
    st = load_checkpoint(cut.checkpoint)
    assert st["step"] == 3 and st["batch_in_epoch"] == 3 and st["extra"]["interrupted"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    monkeypatch.setattr(T.plugin, "step", real_step)
    done = T.train(tmp_path / "cut", 2, resume=True)
    assert done.stopped == "done" and same_models(load_checkpoint(done.checkpoint), ref, T.nets)

    # -- a checkpoint written by convscope 0.1.0 loads, and resumes exactly
    one = load_checkpoint(sorted((tmp_path / "half" / "checkpoints").glob("ckpt-*.pt"))[0])
    assert one["epoch"] == 1
    old_dir = tmp_path / "old"
    old_dir.mkdir()
    T.to_0_1_0(one, old_dir)
    migrated, _ = read_checkpoint(old_dir, T.kind)
    assert migrated["version"] == "0.1.0" and same_models(migrated, one, T.nets)
    net = T.load(old_dir)
    assert all(torch.equal(v, one["models"][T.nets[0]][k]) for k, v in net.state_dict().items())
    again = T.train(old_dir, 2, resume=True)
    assert same_models(load_checkpoint(again.checkpoint), ref, T.nets)

    # -- one from a newer convscope is refused, naming the version that wrote it
    newer = {**one, "schema": 3, "version": "9.0"}
    with pytest.raises(ValueError, match=r"written by convscope 9\.0 with checkpoint schema 3.*upgrade convscope"):
        migrate(newer, "new.pt")
