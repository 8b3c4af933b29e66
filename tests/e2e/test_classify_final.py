"""``classify train --final`` (choose the epochs on val, then train on every non-test image), ``eval --tta``,
the recipe defaults and configs saved before them."""

from __future__ import annotations

import json

import pytest
import torch

from convscope._checks import ArgumentError
from convscope.cli import main
from convscope.metrics.classification import TTA_SHIFTS, evaluate_classifier, shift_images
from convscope.models.cnn import CNN, CNNConfig, load_classifier
from convscope.train.checkpoint import load_checkpoint
from convscope.train.classify import LEGACY_DEFAULTS, SELECTION_DIR, TrainConfig, choose_epochs

FAST = ["--data", "digits", "--width", "0.5", "--batch-size", "128", "--quiet"]


@pytest.fixture(scope="module")
def final_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("final") / "run"
    assert main(["classify", "train", "--final", "--ensemble", "1", "--epochs", "3", "--out", str(out), *FAST]) == 0
    return out


def test_final_chooses_on_val_then_holds_nothing_out(final_run):
    sel = [json.loads(line) for line in (final_run / SELECTION_DIR / "metrics.jsonl").read_text().splitlines()]
    chosen = choose_epochs(sel)
    info = json.loads((final_run / "run.json").read_text())
    assert info["held_out"] is False and info["train"]["final"] is True
    assert info["train"]["epochs"] == chosen["epochs"] == info["selection"]["epochs"]
    assert info["selection"]["of_epochs"] == 3
    ck = load_checkpoint(sorted((final_run / "checkpoints").glob("ckpt-*.pt"))[-1])
    assert ck["extra"]["held_out"] is False and ck["extra"]["data"]["final"] is True
    # every image of digits (1,797; no official test split) trained the final model; the selection saw 40%
    assert ck["extra"]["data"]["n_train"] == 1797 and not ck["extra"]["data"]["official_test"]
    assert ck["step"] == chosen["epochs"] * -(-1797 // 128)
    sel_ck = load_checkpoint(sorted((final_run / SELECTION_DIR / "checkpoints").glob("ckpt-*.pt"))[-1])
    assert sel_ck["extra"]["held_out"] is True and sel_ck["epoch"] == 3
    assert "final" not in sel_ck["extra"]["data"]
    final_log = [json.loads(line) for line in (final_run / "metrics.jsonl").read_text().splitlines()]
    assert len(final_log) == chosen["epochs"]
    assert all("val_loss" not in r and "train_loss" in r for r in final_log)  # no val split left


def _hist(accs, losses, n=500):
    return [{"epoch": i + 1, "val_acc": a, "val_loss": lo, "val_n": n} for i, (a, lo) in enumerate(zip(accs, losses))]


def test_choose_epochs_keeps_the_schedule_unless_accuracy_clearly_falls():
    # the loss bottoms out at epoch 2 but the accuracy holds: the whole schedule is kept
    h = _hist([0.97, 0.985, 0.99, 0.988], [0.20, 0.15, 0.16, 0.17])
    assert choose_epochs(h) == {"epochs": 4, "val_loss": 0.17, "val_acc": 0.988, "rule": "schedule"}
    # a fall of 4 points on 500 images is far outside 2 standard errors (~0.9 point): lowest loss
    h = _hist([0.97, 0.985, 0.99, 0.95], [0.20, 0.15, 0.16, 0.30])
    assert choose_epochs(h) == {"epochs": 2, "val_loss": 0.15, "val_acc": 0.985, "rule": "val-loss"}
    # the tolerance is z binomial standard errors of the best accuracy on val_n images, at least one image
    best, n = 0.99, 500
    se = (best * (1 - best) / n) ** 0.5
    inside, outside = best - 1.9 * se, best - 2.1 * se
    assert choose_epochs(_hist([best, inside], [0.1, 0.2], n))["rule"] == "schedule"
    assert choose_epochs(_hist([best, outside], [0.1, 0.2], n))["rule"] == "val-loss"
    assert choose_epochs(_hist([best, outside], [0.1, 0.2], n), z=3.0)["rule"] == "schedule"
    assert choose_epochs(_hist([1.0, 1 - 1 / 20], [0.1, 0.2], 20))["rule"] == "schedule"  # one image of 20
    assert choose_epochs(_hist([1.0, 1 - 2 / 20], [0.1, 0.2], 20), z=0.0)["rule"] == "val-loss"
    # records without val_n (older runs): any fall counts; order of the records does not matter
    old = [{"epoch": 2, "val_acc": 0.98, "val_loss": 0.2}, {"epoch": 1, "val_acc": 0.99, "val_loss": 0.1}]
    assert choose_epochs(old)["epochs"] == 1
    with pytest.raises(ArgumentError, match="validation split"):
        choose_epochs([{"epoch": 1, "train_loss": 0.1}])
    with pytest.raises(ArgumentError, match="z"):
        choose_epochs(h, z=-1)


def test_eval_of_a_final_model_warns(final_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["classify", "eval", "--checkpoint", str(final_run), "--out", str(tmp_path / "e")]) == 0
    cap = capsys.readouterr()
    assert "warning: this model was trained with --final" in cap.err and "not held-out" in cap.err
    assert "(NOT held-out)" in cap.out
    assert json.loads((tmp_path / "e" / "eval.json").read_text())["held_out"] is False
    # the selection pass's model is an ordinary one: no warning
    assert main(["classify", "eval", "--checkpoint", str(final_run / SELECTION_DIR), "--out", str(tmp_path / "s")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_final_refuses_a_full_folder_and_resumes(final_run, tmp_path):
    assert main(["classify", "train", "--final", "--ensemble", "1", "--epochs", "3", "--out", str(final_run),
                 *FAST]) == 2
    import shutil

    r = tmp_path / "r"
    shutil.copytree(final_run, r)
    before = load_checkpoint(sorted((r / "checkpoints").glob("ckpt-*.pt"))[-1])
    # --resume without --ensemble continues the single network it finds (not the --final default ensemble)
    assert main(["classify", "train", "--final", "--resume", "--out", str(r), "--quiet"]) == 0  # nothing left to do
    assert not (r / "members").exists() and not (r / "ensemble.json").exists()
    after = load_checkpoint(sorted((r / "checkpoints").glob("ckpt-*.pt"))[-1])
    assert after["step"] == before["step"]


def test_recipe_defaults():
    tc = TrainConfig()
    assert (tc.epochs, tc.batch_size, tc.optimizer, tc.lr, tc.weight_decay, tc.scheduler, tc.label_smoothing,
            tc.augment, tc.final) == (30, 64, "adamw", 3e-3, 5e-4, "onecycle", 0.05, True, False)
    # benchmarks/classify_recipe.py's "reference" entry is the same recipe
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from classify_recipe import REF

    assert (REF.epochs, REF.batch_size, REF.optimizer, REF.lr, REF.weight_decay, REF.scheduler,
            REF.label_smoothing, REF.affine) == (tc.epochs, tc.batch_size, tc.optimizer, tc.lr, tc.weight_decay,
                                                 tc.scheduler, tc.label_smoothing, tc.augment)
    from convscope.train.classify import recipe_model

    m = recipe_model()
    assert (m.arch, m.conv_channels, m.fc_units, m.batch_norm, m.dropout) == ("lenet", REF.conv_channels, REF.fc_units,
                                                                              True, REF.dropout)
    # a config saved before the recipe (without the keys) reads back as what it was trained with
    old = {k: v for k, v in TrainConfig().to_dict().items() if k not in (*LEGACY_DEFAULTS, "final")}
    back = TrainConfig.from_saved(old)
    assert (back.optimizer, back.scheduler, back.lr, back.epochs, back.final) == ("adam", "step", 2e-3, 10, False)


def test_cli_default_network_is_the_recipes(tmp_path):
    out = tmp_path / "d"
    assert main(["classify", "train", "--data", "digits", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    _, meta = load_classifier(out)
    assert meta["config"]["conv_channels"] == [32, 64] or tuple(meta["config"]["conv_channels"]) == (32, 64)
    assert tuple(meta["config"]["fc_units"]) == (256,) and meta["train"]["scheduler"] == "onecycle"
    lr = [json.loads(line)["lr"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert lr[-1] < 0.02 * 3e-3  # one-cycle annealed from its 3e-3 peak by the last batch


def test_tta_averages_shifted_views():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(shift_images(x, 1, 0)[0, 0, 1:], x[0, 0, :3]) and torch.equal(shift_images(x, 1, 0)[0, 0, 0],
                                                                                      x[0, 0, 0])
    assert torch.equal(shift_images(x, 0, -1)[0, 0, :, :3], x[0, 0, :, 1:])
    torch.manual_seed(0)
    net = CNN(CNNConfig("lenet", image_size=16, width=0.5)).eval()
    xb, y = torch.randn(6, 1, 16, 16), torch.arange(6) % 10
    ev = evaluate_classifier(net, xb, y, tta=True)
    with torch.no_grad():
        prob = torch.stack([torch.softmax(net(shift_images(xb, dy, dx)), 1) for dy, dx in TTA_SHIFTS]).mean(0)
    assert torch.equal(ev["predictions"], prob.argmax(1))
    assert ev["loss"] == pytest.approx(float(-prob[torch.arange(6), y].log().mean()), rel=1e-5)
    assert not torch.equal(prob, torch.softmax(net(xb), 1))


def test_cli_eval_tta(final_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["classify", "eval", "--checkpoint", str(final_run / SELECTION_DIR), "--tta",
                 "--out", str(tmp_path / "t")]) == 0
    assert "(TTA: 5 views)" in capsys.readouterr().out
    assert json.loads((tmp_path / "t" / "eval.json").read_text())["tta"] is True
