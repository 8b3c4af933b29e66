"""``convscope classify train|eval|predict|filters`` on the bundled data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from convscope.cli import main


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # see tests/train/test_classify.py
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cls") / "run"
    rc = main(["classify", "train", "--data", "digits", "--epochs", "2", "--width", "0.5", "--out", str(out),
               "--quiet"])
    assert rc == 0
    return out


def test_train_writes_a_run(run, capsys):
    for name in ("checkpoints/best.pt", "metrics.jsonl", "metrics.csv", "run.json", "curves.png"):
        assert (run / name).is_file(), name
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["model"]["arch"] == "lenet" and cfg["train"]["epochs"] == 2


def test_resume_extends_the_run(run, tmp_path, capsys):
    import shutil

    r = tmp_path / "r"
    shutil.copytree(run, r)
    assert main(["classify", "train", "--resume", "--epochs", "3", "--out", str(r), "--quiet"]) == 0
    lines = (r / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]
    assert "wrote" in capsys.readouterr().out


def test_eval_prints_and_saves_confusion(run, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["classify", "eval", "--checkpoint", str(run), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "digits [test], 359 images: accuracy" in text and "per-class accuracy" in text
    assert "confusion matrix (rows: true, columns: predicted)" in text
    cm = np.load(out / "confusion.npy")
    res = json.loads((out / "eval.json").read_text())
    assert cm.shape == (10, 10) and cm.sum() == 359
    assert abs(res["accuracy"] - np.trace(cm) / 359) < 1e-9
    assert (out / "confusion.png").stat().st_size > 1000


def test_predict_top3(run, tmp_path, capsys):
    img = tmp_path / "seven.png"
    a = np.zeros((8, 8), np.uint8)
    a[1, 1:7] = 255
    a[2:7, 5] = 255
    Image.fromarray(a).save(img)
    out = tmp_path / "pred"
    assert main(["classify", "predict", str(img), "--checkpoint", str(run), "--out", str(out)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(str(img)))
    probs = [float(p.split("(")[1].rstrip(")")) for p in line.split(": ", 1)[1].split(", ")]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    rows = json.loads((out / "predictions.json").read_text())
    assert len(rows[0]["top"]) == 3
    # no IMAGE: test images of the training source, with their true labels
    assert main(["classify", "predict", "--checkpoint", str(run), "--out", str(out), "--quiet"]) == 0
    assert "(true: " in capsys.readouterr().out


def test_filters_panel(run, tmp_path):
    out = tmp_path / "f"
    assert main(["classify", "filters", "--checkpoint", str(run), "--out", str(out), "--quiet"]) == 0
    k = np.load(out / "kernels.npy")
    s = np.load(out / "kernel_spectra.npy")
    m = np.load(out / "feature_maps.npy")
    assert k.shape == (3, 1, 5, 5) and s.shape == (3, 32, 32) and m.shape[:1] == (3,)
    # the spectrum's centre is the DC gain: the sum of the kernel
    assert np.allclose(s[:, 16, 16], np.abs(k.sum((1, 2, 3))), rtol=1e-4, atol=1e-6)
    assert (out / "filters.png").stat().st_size > 5000


def test_dry_run(tmp_path, capsys):
    out = tmp_path / "dry"
    assert main(["classify", "train", "--data", "digits", "--dry-run", "--out", str(out)]) == 0
    assert "dry run: one batch" in capsys.readouterr().err
    assert not out.exists()


def test_alexnet_on_a_cifar_folder(tmp_path, capsys):
    from helpers import write_cifar_dir

    d = write_cifar_dir(tmp_path / "cifar-10-batches-py", n=8)
    run = tmp_path / "run"
    assert main(["classify", "train", "--data", str(d), "--model", "alexnet", "--width", "0.25", "--epochs", "1",
                 "--val-fraction", "0.2", "--out", str(run), "--quiet"]) == 0
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["model"]["in_channels"] == 3 and cfg["model"]["image_size"] == 32
    assert main(["classify", "eval", "--checkpoint", str(run), "--out", str(tmp_path / "e")]) == 0
    assert "[test], 8 images" in capsys.readouterr().out
    assert main(["classify", "filters", "--checkpoint", str(run), "--out", str(tmp_path / "f"), "--quiet"]) == 0
    assert np.load(tmp_path / "f" / "kernels.npy").shape == (12, 3, 5, 5)


def test_training_on_fft_convolutions(tmp_path):
    """The same run on convscope's FFT convolutions tracks the torch run to float32 rounding."""
    hist = {}
    for method in ("torch", "fft"):
        run = tmp_path / method
        assert main(["classify", "train", "--data", "digits", "--conv-method", method, "--epochs", "2",
                     "--width", "0.5", "--test-fraction", "0.6", "--out", str(run), "--quiet"]) == 0
        hist[method] = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    from convscope.models.cnn import load_classifier

    model, meta = load_classifier(tmp_path / "fft")
    assert meta["config"]["conv_method"] == "fft" and "method='fft'" in repr(model.first_conv)
    t, f = hist["torch"], hist["fft"]
    assert f[1]["train_loss"] < f[0]["train_loss"]
    assert abs(f[1]["train_loss"] - t[1]["train_loss"]) < 1e-3 * t[1]["train_loss"]
    assert abs(f[1]["val_acc"] - t[1]["val_acc"]) <= 0.02


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["classify", "train", "--model", "vgg", "--dry-run"], "arch must be one of 'lenet', 'alexnet', got 'vgg'"),
        (["classify", "train", "--data", "/no/such/dir", "--dry-run"], "source must be 'digits', 'mnist-5k'"),
        (["classify", "eval", "--checkpoint", "/no/such/run"], "checkpoint /no/such/run does not exist"),
        (["classify", "train", "--optimizer", "lbfgs", "--dry-run"], "optimizer must be one of 'adam', 'adamw', 'sgd'"),
    ],
)
def test_errors_are_one_line(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1
