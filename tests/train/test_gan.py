"""DCGAN training: exact resume, failure detection, presets, outputs."""

from __future__ import annotations

import json

import pytest
import torch

from convscope.models.dcgan import DCGANConfig, generate, load_generator
from convscope.train.checkpoint import CheckpointManager, load_checkpoint
from convscope.train.gan import PRESETS, GANTrainConfig, GANTrainingError, train_gan

TINY = DCGANConfig(image_size=16, channels=1, nz=8, ngf=4, ndf=4)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(3)
    # smooth blobs in [-1, 1]: cheap stand-ins for digits
    x = torch.nn.functional.avg_pool2d(torch.randn(96, 1, 20, 20, generator=g), 5, 1)
    return (x / x.abs().amax(dim=(1, 2, 3), keepdim=True)).clamp(-1, 1)


def _train(out, images, epochs, **kw):
    return train_gan(TINY, images, out, train=GANTrainConfig(epochs=epochs, batch_size=16, n_fixed=8, plots=False, **kw),
                     seed=5)


def _state(path):
    ck = load_checkpoint(path)
    return ck


def test_resume_is_bit_identical(tmp_path, images):
    full = _train(tmp_path / "full", images, 4)
    _train(tmp_path / "half", images, 2)
    half = train_gan(None, images, tmp_path / "half", train=GANTrainConfig(epochs=4, batch_size=16, n_fixed=8, plots=False),
                     resume=True, seed=5)
    assert full.step == half.step == 4 * (96 // 16)
    a, b = _state(full.checkpoint), _state(half.checkpoint)
    for net in ("G", "D"):
        for k in a["models"][net]:
            assert torch.equal(a["models"][net][k], b["models"][net][k]), f"{net}.{k} differs after resume"
        for i, s in a["optimizers"][net]["state"].items():
            assert torch.equal(s["exp_avg"], b["optimizers"][net]["state"][i]["exp_avg"])
    assert torch.equal(a["extra"]["fixed_noise"], b["extra"]["fixed_noise"])
    assert a["extra"]["history"]["loss_d"] == b["extra"]["history"]["loss_d"]
    # the log reads like one uninterrupted run
    lines = (tmp_path / "half" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(1, 25))


def test_mid_epoch_resume_is_bit_identical(tmp_path, images):
    full = _train(tmp_path / "full", images, 2)
    _train(tmp_path / "part", images, 2, max_steps=4)  # stops inside epoch 1 (6 steps/epoch)
    part = train_gan(None, images, tmp_path / "part", train=GANTrainConfig(epochs=2, batch_size=16, n_fixed=8, plots=False),
                     resume=True, seed=5)
    a, b = _state(full.checkpoint), _state(part.checkpoint)
    assert part.step == full.step == 12
    assert all(torch.equal(a["models"]["G"][k], b["models"]["G"][k]) for k in a["models"]["G"])


def test_checkpoint_holds_everything(tmp_path, images):
    run = _train(tmp_path / "r", images, 1)
    ck = _state(run.checkpoint)
    for key in ("models", "optimizers", "schedulers", "rng", "step", "epoch", "batch_in_epoch", "configs",
                "metrics", "extra", "version", "kind", "schema"):
        assert key in ck
    assert set(ck["models"]) == set(ck["optimizers"]) == {"G", "D"} and ck["kind"] == "dcgan"
    assert set(ck["rng"]["generators"]) == {"order", "noise"} and "fixed_noise" in ck["extra"]
    assert DCGANConfig.from_dict(ck["configs"]["model"]) == TINY
    G, meta = load_generator(tmp_path / "r")
    assert meta["step"] == run.step and not G.training
    x = generate(G, 5, seed=1)
    assert x.shape == (5, 1, 16, 16) and torch.equal(x, generate(G, 5, seed=1))


def test_resume_refuses_a_different_config(tmp_path, images):
    _train(tmp_path / "r", images, 1)
    with pytest.raises(ValueError, match=r"cannot resume from .*: the settings differ from the checkpoint's \(ngf: 4 -> 8\)"):
        train_gan(TINY.replace(ngf=8), images, tmp_path / "r", train=GANTrainConfig(epochs=2, batch_size=16, n_fixed=8),
                  resume=True)


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, images, monkeypatch):
    import convscope.train.gan as tg

    good = _train(tmp_path / "r", images, 1)
    real = tg.make_train_step

    def diverging(*a, **kw):  # from here on every loss is NaN, as after a blow-up
        step = real(*a, **kw)

        def nan_step(x, z, index=None):
            ld, lg, lr_, lf = step(x, z, index)
            return ld * float("nan"), lg, lr_, lf
        return nan_step

    monkeypatch.setattr(tg, "make_train_step", diverging)
    with pytest.raises(GANTrainingError, match=r"the loss became non-finite at step 7 \(epoch 2\): loss_d=nan; the "
                                               r"likely cause is the learning rate .*kept the last good checkpoint"):
        train_gan(None, images, tmp_path / "r", train=GANTrainConfig(epochs=3, batch_size=16, n_fixed=8, plots=False),
                  resume=True)
    assert CheckpointManager(tmp_path / "r" / "checkpoints").latest_path() == good.checkpoint
    assert "non-finite" in (tmp_path / "r" / "failure.txt").read_text()
    G, _ = load_generator(tmp_path / "r")
    assert all(torch.isfinite(p).all() for p in G.parameters())


def test_nonfinite_images_are_refused_at_load_time(tmp_path, images):
    bad = images.clone()
    bad[3] = float("nan")
    bad[5, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"hold 2 images with NaN or Inf pixels \(of 96; the first is #3\)"):
        _train(tmp_path / "r", bad, 1)


def test_discriminator_winning_stops(tmp_path, images, monkeypatch):
    import convscope.train.gan as tg

    good = _train(tmp_path / "r", images, 1)
    # from here on D wins every step completely: D(x) ~ 1, D(G(z)) ~ 0
    monkeypatch.setattr(tg, "_d_outputs", lambda real, fake: (0.9999, 0.0001))
    with pytest.raises(GANTrainingError, match=r"the discriminator won completely for 4 steps .* kept the last good checkpoint"):
        train_gan(None, images, tmp_path / "r", resume=True,
                  train=GANTrainConfig(epochs=3, batch_size=16, n_fixed=8, plots=False, d_win_steps=4))
    assert CheckpointManager(tmp_path / "r" / "checkpoints").latest_path() == good.checkpoint


def test_pictures_and_logs(tmp_path, images):
    train_gan(TINY, images, tmp_path / "r", train=GANTrainConfig(epochs=2, batch_size=32, n_fixed=4))
    assert (tmp_path / "r" / "samples" / "epoch_001.png").is_file()
    assert (tmp_path / "r" / "samples" / "epoch_002.png").is_file()
    assert (tmp_path / "r" / "curves.png").is_file()
    header = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "loss_d", "loss_g", "d_real", "d_fake"} <= set(header)


def test_bad_arguments(tmp_path, images):
    with pytest.raises(ValueError, match="preset must be one of 'quick', 'mnist', got 'huge'"):
        train_gan(preset="huge", out=tmp_path)
    with pytest.raises(ValueError, match="batch_size must be <= the number of training images"):
        train_gan(TINY, images, tmp_path, train=GANTrainConfig(batch_size=1000))
    with pytest.raises(ValueError, match="data must be images"):
        train_gan(TINY, torch.zeros(4, 1, 8, 8), tmp_path)
    assert set(PRESETS) == {"quick", "mnist"}


def test_colour_image_folder(tmp_path):
    from PIL import Image

    for cls in ("red", "blue"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(10):
            a = torch.zeros(12, 12, 3, dtype=torch.uint8)
            a[..., 0 if cls == "red" else 2] = 100 + 10 * i
            Image.fromarray(a.numpy()).save(tmp_path / "imgs" / cls / f"{i}.png")
    cfg = DCGANConfig(image_size=16, channels=3, nz=4, ngf=2, ndf=2)
    run = train_gan(cfg, str(tmp_path / "imgs"), tmp_path / "run",
                    train=GANTrainConfig(epochs=1, batch_size=4, n_fixed=4))
    assert run.step >= 1
    G, meta = load_generator(run.run_dir)
    assert G.config.channels == 3 and meta["data"]


def test_ctrl_c_saves_and_resume_matches(tmp_path, images, monkeypatch):
    import signal

    import convscope.train.gan as tg

    full = _train(tmp_path / "full", images, 2)
    real_outputs = tg._d_outputs
    calls = {"n": 0}

    def outputs_then_ctrl_c(lr, lf):
        calls["n"] += 1
        if calls["n"] == 3:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C during step 3
        return real_outputs(lr, lf)

    monkeypatch.setattr(tg, "_d_outputs", outputs_then_ctrl_c)
    run = _train(tmp_path / "cut", images, 2)
    assert run.stopped == "interrupted" and run.step == 3
    assert run.checkpoint is not None and load_checkpoint(run.checkpoint)["step"] == 3
    monkeypatch.setattr(tg, "_d_outputs", real_outputs)
    done = train_gan(None, images, tmp_path / "cut", train=GANTrainConfig(epochs=2, batch_size=16, n_fixed=8, plots=False),
                     resume=True, seed=5)
    a, b = _state(full.checkpoint), _state(done.checkpoint)
    assert all(torch.equal(a["models"]["G"][k], b["models"]["G"][k]) for k in a["models"]["G"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_gan_trains_on_every_image_the_evaluation_does_not_hold_out():
    """A GAN has no validation split; train = all non-test images, test = the classifier's test split."""
    from convscope.data import load_dataset
    from convscope.models.dcgan import load_data

    x_tr, _, _, _ = load_data("digits", image_size=16, split="train")
    x_te, y_te, _, _ = load_data("digits", image_size=16, split="test")
    x_all, _, _, _ = load_data("digits", image_size=16, split="all")
    assert len(x_tr) + len(x_te) == len(x_all) == 1797
    ref = load_dataset("digits", split="test", image_size=16, normalize="gan")  # the classifier's held-out split
    assert torch.equal(ref.tensors()[1], y_te) and torch.allclose(ref.tensors()[0], x_te)
    val = load_dataset("digits", split="val", image_size=16, normalize="gan").tensors()[0]
    # the classifier's val images are GAN training images, none is a test image
    flat_tr = {tuple(r.tolist()) for r in x_tr.flatten(1)}
    assert all(tuple(r.tolist()) in flat_tr for r in val.flatten(1)[:20])
    with pytest.raises(ValueError, match="split must be one of 'train', 'test', 'all', got 'val'"):
        load_data("digits", image_size=16, split="val")
