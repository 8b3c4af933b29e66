"""``classify train --ensemble N``: N members of the recipe, averaged softmax."""

from __future__ import annotations

import json

import pytest
import torch

from convscope._checks import DataError
from convscope.cli import main
from convscope.experiments import classify as E
from convscope.models.cnn import CNN, CNNConfig, Ensemble, load_classifier
from convscope.train.classify import choose_epochs

FAST = ["--data", "digits", "--width", "0.5", "--batch-size", "128", "--quiet"]


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "run"
    assert main(["classify", "train", "--epochs", "1", "--ensemble", "2", "--seed", "3", "--out", str(out), *FAST]) == 0
    return out


def test_the_ensemble_is_the_mean_of_its_members_softmax():
    torch.manual_seed(0)
    cfg = CNNConfig("lenet", num_classes=10, in_channels=1, image_size=28)
    members = [CNN(cfg).eval() for _ in range(3)]
    ens = Ensemble(members).eval()
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        want = torch.stack([m(x).softmax(1) for m in members]).mean(0)
        got = ens(x)
        torch.testing.assert_close(got.exp(), want, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(got.softmax(1), want, rtol=1e-6, atol=1e-7)  # log-probs act as logits
        f = ens.features(x)
    assert f.shape == (5, sum(m.features(x).shape[1] for m in members))
    with pytest.raises(ValueError, match="members must be at least one classifier"):
        Ensemble([])


def test_ensemble_folder_loads_and_evaluates_as_one_network(ensemble_run):
    spec = json.loads((ensemble_run / "ensemble.json").read_text())
    assert spec["members"] == ["members/0", "members/1"] and spec["seeds"] == [3, 4] and spec["final"] is False
    model, meta = load_classifier(ensemble_run)
    assert isinstance(model, Ensemble) and meta["ensemble"] == 2 and len(meta["members"]) == 2
    # the members are different networks (different seeds) and each is a complete run folder
    a, b = (load_classifier(ensemble_run / "members" / k)[0] for k in "01")
    assert any(not torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    res = E.evaluate_classifier(ensemble_run, None, "test")
    x, y = E.source_images(meta, None, "test").tensors()
    from convscope.models.cnn import prepare_images

    with torch.no_grad():
        p = (a(prepare_images(x, meta)).softmax(1) + b(prepare_images(x, meta)).softmax(1)) / 2
    assert res.accuracy == pytest.approx(float((p.argmax(1) == y).double().mean()), abs=1e-12)
    # looking inside uses the first member
    filt = E.learned_filters(ensemble_run)
    torch.testing.assert_close(torch.as_tensor(filt.kernels), a.first_conv.weight.detach())


def test_ensemble_folder_rules(ensemble_run, tmp_path, capsys):
    # an existing ensemble is refused without --resume/--overwrite; --resume keeps finished members
    ck = sorted((ensemble_run / "members" / "0" / "checkpoints").glob("ckpt-*.pt"))[-1]
    before = ck.stat().st_mtime_ns
    assert main(["classify", "train", "--epochs", "1", "--ensemble", "2", "--out", str(ensemble_run), *FAST]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["classify", "train", "--epochs", "1", "--ensemble", "2", "--resume", "--out", str(ensemble_run),
                 *FAST]) == 0
    assert ck.stat().st_mtime_ns == before
    # a damaged or escaping ensemble.json is one clear error
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ensemble.json").write_text("{not json")
    with pytest.raises(DataError, match=r"ensemble\.json is damaged"):
        load_classifier(bad)
    (bad / "ensemble.json").write_text(json.dumps({"kind": "classifier-ensemble", "members": ["../elsewhere"]}))
    with pytest.raises(DataError, match="lies outside"):
        load_classifier(bad)
    try:
        rc = main(["classify", "train", "--ensemble", "0", "--dry-run", "--out", str(tmp_path / "z"), *FAST])
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and "--ensemble" in err and len(err.strip().splitlines()) == 1


def test_final_ensemble_holds_nothing_out(tmp_path):
    out = tmp_path / "fin"
    assert main(["classify", "train", "--final", "--epochs", "2", "--ensemble", "2", "--out", str(out), *FAST]) == 0
    spec = json.loads((out / "ensemble.json").read_text())
    assert spec["final"] is True
    model, meta = load_classifier(out)
    assert isinstance(model, Ensemble) and meta["final"] is True
    # one selection pass (the first seed's) chose the epoch count for every member
    sel = [json.loads(line) for line in (out / "selection" / "metrics.jsonl").read_text().splitlines()]
    chosen = choose_epochs(sel)["epochs"]
    assert spec["selection"]["epochs"] == chosen and spec["selection"]["run"] == "selection"
    assert json.loads((out / "selection" / "run.json").read_text())["train"]["seed"] == 0
    for k in "01":
        info = json.loads((out / "members" / k / "run.json").read_text())
        assert info["held_out"] is False and not (out / "members" / k / "selection").exists()
        assert info["train"]["epochs"] == chosen and info["train"]["seed"] == int(k)
        assert info["selection"]["run"] == "../../selection"
    res = E.evaluate_classifier(out, None, "test")  # the training source: not held-out, and it says so
    assert res.held_out is False
    # --resume of a finished final ensemble trains nothing again
    ck = sorted((out / "members" / "1" / "checkpoints").glob("ckpt-*.pt"))[-1]
    before = ck.stat().st_mtime_ns
    assert main(["classify", "train", "--final", "--epochs", "2", "--ensemble", "2", "--resume", "--out", str(out),
                 *FAST]) == 0
    assert ck.stat().st_mtime_ns == before


def test_final_defaults_to_an_ensemble_and_resume_keeps_its_size(tmp_path, capsys):
    from convscope.cli import build_parser
    from convscope.train.classify import FINAL_ENSEMBLE

    out = tmp_path / "d"
    assert main(["classify", "train", "--final", "--epochs", "1", "--out", str(out), *FAST]) == 0
    spec = json.loads((out / "ensemble.json").read_text())
    assert len(spec["members"]) == FINAL_ENSEMBLE and spec["final"] is True and spec["complete"] is True
    model, meta = load_classifier(out)
    assert isinstance(model, Ensemble) and meta["ensemble"] == FINAL_ENSEMBLE
    # the help states the same default
    train_help = build_parser()._subparsers._group_actions[0].choices["classify"]._subparsers._group_actions[0]
    text = train_help.choices["train"].format_help()
    assert f"default {FINAL_ENSEMBLE} with --final" in " ".join(text.split())
    # an ensemble whose training stopped early is refused by name, and --resume (no --ensemble) finishes it
    small = tmp_path / "s"
    assert main(["classify", "train", "--epochs", "1", "--ensemble", "2", "--out", str(small), *FAST]) == 0
    spec = json.loads((small / "ensemble.json").read_text())
    (small / "ensemble.json").write_text(json.dumps({**spec, "complete": False}))
    with pytest.raises(DataError, match="is not finished"):
        load_classifier(small)
    assert main(["classify", "train", "--resume", "--out", str(small), *FAST]) == 0
    spec = json.loads((small / "ensemble.json").read_text())
    assert spec["complete"] is True and len(spec["members"]) == 2 and not (small / "members" / "2").exists()
    assert isinstance(load_classifier(small)[0], Ensemble)
