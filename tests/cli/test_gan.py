"""``convscope gan ...`` end to end on the bundled digits (tiny networks, one step)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from convscope.cli import main

TINY = ["--image-size", "16", "--nz", "8", "--ngf", "4", "--ndf", "4", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("gan") / "run"
    torch.set_num_threads(1)
    assert main(["gan", "train", "--data", "digits", "--epochs", "1", "--batch-size", "128", *TINY, "--out", str(d)]) == 0
    return d


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """An (untrained) classifier checkpoint in the format convscope classify writes."""
    from convscope.models.cnn import CNN, CNNConfig

    cfg = CNNConfig(arch="lenet", in_channels=1, num_classes=10, image_size=16, width=0.5)
    torch.manual_seed(0)
    model = CNN(cfg)
    path = tmp_path_factory.mktemp("cls") / "best.pt"
    torch.save({"model": model.state_dict(), "config": cfg.to_dict(),
                "data": {"classes": [str(i) for i in range(10)], "image_shape": [1, 16, 16], "normalize": None}}, path)
    return path


def test_train_writes_a_run(run_dir):
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert (run_dir / "samples" / "epoch_001.png").is_file()
    assert (run_dir / "metrics.jsonl").is_file() and (run_dir / "metrics.csv").is_file()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["kind"] == "dcgan"
    assert info["model"]["image_size"] == 16 and info["final"]["stopped"] == "done"


def test_dry_run_and_resume(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["gan", "train", "--dry-run", *TINY, "--out", str(out)]) == 0
    assert not out.exists()  # a dry run writes only to a temporary folder
    assert "dry run: one step" in capsys.readouterr().out
    steps = ["--data", "digits", "--batch-size", "128", *TINY, "--out", str(out)]
    assert main(["gan", "train", "--epochs", "1", *steps]) == 0
    first = json.loads((out / "run.json").read_text())["final"]["step"]
    assert first > 0
    assert main(["gan", "train", "--epochs", "2", "--resume", *steps]) == 0
    assert json.loads((out / "run.json").read_text())["final"]["step"] == 2 * first
    assert "wrote" in capsys.readouterr().out


def test_sample(run_dir, tmp_path):
    assert main(["gan", "sample", "--checkpoint", str(run_dir), "-n", "6", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "grid.png").is_file()
    assert len(list((tmp_path / "samples").glob("sample_*.png"))) == 6
    assert np.load(tmp_path / "samples.npy").shape == (6, 1, 16, 16)


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_interpolate(run_dir, tmp_path, mode):
    assert main(["gan", "interpolate", "--checkpoint", str(run_dir), "--mode", mode, "--rows", "2", "--steps", "4",
                 "--out", str(tmp_path), "--quiet"]) == 0
    walk = np.load(tmp_path / "walk.npy")
    assert walk.shape == (2, 5, 1, 16, 16)
    assert (tmp_path / "interpolation.png").is_file() and (tmp_path / "interpolation.gif").is_file()


def test_interpolate_chosen_points(run_dir, tmp_path):
    from convscope.models.latent import latent_walk

    assert main(["gan", "interpolate", "--checkpoint", str(run_dir), "--points", "1", "2", "3", "--steps", "3",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert np.load(tmp_path / "walk.npy").shape == (1, 7, 1, 16, 16)
    a, b = torch.randn(2, 8, dtype=torch.float64)
    w = latent_walk(torch.stack([a, b]), 4, "slerp")
    torch.testing.assert_close(w[0], a)
    torch.testing.assert_close(w[-1], b)
    # slerp keeps the norm between the endpoints' (linear shrinks it in the middle)
    assert float(w[2].norm()) >= min(float(a.norm()), float(b.norm())) - 1e-9
    lin = latent_walk(torch.stack([a, b]), 4, "linear")
    torch.testing.assert_close(lin[2], (a + b) / 2)


def test_spectrum(run_dir, tmp_path, capsys):
    assert main(["gan", "spectrum", "--checkpoint", str(run_dir), "-n", "200", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "spectrum.json").read_text())
    assert {"discrepancy", "peaks", "flagged", "real_profile", "fake_profile"} <= set(rep)
    assert len(rep["real_profile"]) == 9  # radii 0..8 for 16x16
    assert (tmp_path / "spectrum.png").is_file()
    assert "spectral discrepancy" in capsys.readouterr().out


def test_evaluate(run_dir, classifier, tmp_path):
    assert main(["gan", "evaluate", "--checkpoint", str(run_dir), "--data", "digits", "--classifier", str(classifier),
                 "-n", "400", "--out", str(tmp_path), "--quiet"]) == 0
    res = json.loads((tmp_path / "metrics.json").read_text())
    m = res["metrics"]
    for key in ("frechet_distance", "kid", "precision", "recall", "coverage", "classes_covered", "class_balance_kl",
                "probe_accuracy_D"):
        assert key in m and m[key]["ideal"] is not None
    assert m["frechet_distance"]["floor"] >= 0 and m["frechet_distance"]["value"] >= 0
    assert 0 <= m["precision"]["value"] <= 1 and 0 <= m["recall"]["floor"] <= 1
    assert sum(res["histogram"]) == 400
    assert "| metric |" in (tmp_path / "metrics.md").read_text()


def test_arithmetic(run_dir, classifier, tmp_path):
    from convscope.models.cnn import load_classifier
    from convscope.models.dcgan import generate, load_generator

    # pick three classes the (random) classifier actually predicts for this generator
    G, _ = load_generator(run_dir)
    clf, meta = load_classifier(classifier)
    z = torch.randn(400, 8, 1, 1, generator=torch.Generator().manual_seed(0))
    from convscope.metrics.evaluate import classifier_adapter

    with torch.no_grad():
        pred = clf(classifier_adapter(meta)(generate(G, 0, z=z))).argmax(1)
    counts = torch.bincount(pred, minlength=10)
    present = [str(int(i)) for i in torch.nonzero(counts >= 3).flatten()]
    expr = f"{present[0]}-{present[0]}+{present[0]}" if len(present) < 3 else f"{present[0]}-{present[1]}+{present[2]}"
    assert main(["gan", "arithmetic", "--checkpoint", str(run_dir), "--classifier", str(classifier), "--pool", "400",
                 "--expr", expr, "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "arithmetic.png").is_file()
    assert len(json.loads((tmp_path / "arithmetic.json").read_text())["result_predicted"]) == 4


def test_errors(run_dir, classifier, tmp_path, capsys):
    assert main(["gan", "train", "--upsample", "bilinear", *TINY, "--out", str(tmp_path / "x")]) == 2
    assert "upsample must be one of 'transposed', 'resize_conv', got 'bilinear'" in capsys.readouterr().err
    assert main(["gan", "sample", "--checkpoint", str(tmp_path / "nothing")]) == 2
    assert "nothing does not exist (give a run folder or a checkpoint file)" in capsys.readouterr().err
    assert main(["gan", "arithmetic", "--checkpoint", str(run_dir), "--classifier", str(classifier),
                 "--expr", "3-x", "--out", str(tmp_path)]) == 2
    assert "--expr terms must be class names" in capsys.readouterr().err
    assert main(["gan", "interpolate", "--checkpoint", str(run_dir), "--mode", "cubic", "--out", str(tmp_path)]) == 2
    assert "mode must be one of 'linear', 'slerp', got 'cubic'" in capsys.readouterr().err


@pytest.mark.slow
def test_ddp_torchrun_two_processes(tmp_path):
    """DDP through torchrun (gloo, 2 CPU processes), then a DDP resume."""
    import os
    import shutil
    import subprocess
    import sys

    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--nproc_per_node", "2", "--master_port", "29561", "-m", "convscope", "gan", "train",
           "--data", "digits", "--batch-size", "32", *TINY, "--out", str(tmp_path / "ddp")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*cmd, "--epochs", "1"], check=True, env=env, timeout=600, capture_output=True)
    info = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert info["final"]["epoch"] == 1 and info["final"]["step"] > 0
    r = subprocess.run([*cmd, "--epochs", "2", "--resume"], check=True, env=env, timeout=600, capture_output=True, text=True)
    assert r.stdout.count("wrote") == 1  # only rank 0 reports
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["final"]["epoch"] == 2


def test_compare(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["gan", "compare", "--data", "digits", "--epochs", "1", "--batch-size", "128", *TINY, "-n", "100",
                 "--out", str(out)]) == 0
    res = json.loads((out / "compare.json").read_text())
    assert set(res) == {"transposed", "resize_conv"}
    assert res["transposed"]["steps"] == res["resize_conv"]["steps"] > 0  # trained identically
    for v in res.values():
        assert v["spectrum"]["discrepancy"] >= 0 and "flagged" in v["spectrum"]
    assert (out / "compare.png").is_file() and (out / "compare_spectrum.png").is_file()
    assert (out / "resize_conv" / "checkpoints").is_dir()
    text = capsys.readouterr().out
    assert "transposed: spectral discrepancy" in text and "resize_conv: spectral discrepancy" in text
