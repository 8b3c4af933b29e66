"""Run folders lose nothing: one run of one kind per folder, corrupt files named,
missing devices and diverging runs reported in one line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from convscope.cli import main
from convscope.train.engine import LOCK_FILE, RunFolder

CLS = ["classify", "train", "--data", "digits", "--epochs", "1", "--width", "0.25", "--batch-size", "256",
       "--test-fraction", "0.5", "--quiet"]
GAN = ["gan", "train", "--data", "digits", "--epochs", "1", "--batch-size", "256", "--image-size", "16", "--nz", "8",
       "--ngf", "4", "--ndf", "4", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    torch.set_num_threads(1)
    assert main([*CLS, "--out", str(d / "cls")]) == 0
    assert main([*GAN, "--out", str(d / "gan")]) == 0
    return d


def _copy(runs, name, tmp_path):
    dst = tmp_path / name
    shutil.copytree(runs / name, dst)
    return dst


def _snapshot(d):
    return {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file() and p.name != LOCK_FILE}


def _err(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------- 1. one run of one kind per folder


@pytest.mark.parametrize("kind", ["cls", "gan"])
def test_a_second_run_into_a_folder_is_refused_and_changes_nothing(runs, tmp_path, capsys, kind):
    run = _copy(runs, kind, tmp_path)
    before = _snapshot(run)
    argv = CLS if kind == "cls" else GAN
    assert main([*argv, "--out", str(run)]) == 2
    assert "already holds a run" in _err(capsys) and _snapshot(run) == before
    # a dry run on a finished run writes nowhere near it
    assert main([*argv, "--dry-run", "--out", str(run)]) == 0
    assert _snapshot(run) == before


def test_overwrite_moves_the_old_run_aside(runs, tmp_path):
    run = _copy(runs, "gan", tmp_path)
    before = _snapshot(run)
    assert main([*GAN, "--overwrite", "--out", str(run)]) == 0
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("gan.old-")]
    assert len(aside) == 1 and _snapshot(aside[0]) == before  # the old run, whole
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[0] == 1  # one run's log, not two interleaved


@pytest.mark.parametrize("kind, other", [("cls", "gan"), ("gan", "cls")])
def test_resume_into_a_folder_of_the_other_kind_is_refused(runs, tmp_path, capsys, kind, other):
    run = _copy(runs, other, tmp_path)
    before = _snapshot(run)
    argv = CLS if kind == "cls" else GAN
    assert main([*argv, "--resume", "--out", str(run)]) == 2
    want = "holds a dcgan run, not a classifier run" if kind == "cls" else "holds a classifier run, not a dcgan run"
    assert want in _err(capsys) and _snapshot(run) == before


def test_gan_resume_refuses_changed_settings_listing_them(runs, tmp_path, capsys):
    run = _copy(runs, "gan", tmp_path)
    argv = [a for a in GAN if a not in ("--nz", "8")]
    assert main([*argv, "--resume", "--nz", "16", "--loss", "hinge", "--batch-size", "64", "--out", str(run)]) == 2
    err = _err(capsys)
    assert "cannot resume" in err and "nz: 8 -> 16" in err and "loss: 'bce' -> 'hinge'" in err
    assert "batch_size: 256 -> 64" in err
    assert main([*GAN, "--resume", "--epochs", "2", "--out", str(run)]) == 0  # epochs may change


def test_a_locked_folder_is_refused_and_a_dead_lock_does_not_block(tmp_path):
    out = tmp_path / "run"
    with RunFolder(out, "dcgan"), pytest.raises(ValueError, match=r"is in use by another convscope run \(process \d+\)"):
        RunFolder(out, "dcgan").__enter__()
    child = textwrap.dedent(f"""
        import os, time
        from convscope.train.engine import RunFolder
        f = RunFolder({str(tmp_path / 'killed')!r}, "dcgan").__enter__()
        print("LOCKED", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "LOCKED"
        with pytest.raises(ValueError, match=f"process {proc.pid}"):
            RunFolder(tmp_path / "killed", "dcgan").__enter__()
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with RunFolder(tmp_path / "killed", "dcgan") as f:  # the kernel dropped the dead process's lock
        assert f.path == tmp_path / "killed"


# ---------------------------------------------------------------- 2. corrupt run metadata: one line naming the file


@pytest.mark.parametrize("kind", ["cls", "gan"])
@pytest.mark.parametrize("file, text, says", [
    ("metrics.jsonl", '[1, 2]\n{"step": 1}\n', r"metrics.jsonl line 1 must be a JSON object"),
    ("metrics.csv", "step,loss\nabc,1\n", r"metrics.csv row 2 must have an integer step"),
    ("run.json", '"hello"', r"run.json must be a JSON object, got a str"),
])
def test_corrupt_logs_are_named(runs, tmp_path, capsys, kind, file, text, says):
    run = _copy(runs, kind, tmp_path)
    (run / file).write_text(text)
    before = _snapshot(run)
    assert main([*(CLS if kind == "cls" else GAN), "--resume", "--epochs", "2", "--out", str(run)]) == 2
    err = _err(capsys)
    assert len(err.strip().splitlines()) == 1 and file in err
    assert re.search(says, err) and _snapshot(run) == before


def test_corrupt_best_json_is_named_and_rebuilt_from_best_pt(runs, tmp_path, capsys):
    run = _copy(runs, "cls", tmp_path)
    (run / "checkpoints" / "best.json").write_text("garbage")
    assert main([*CLS, "--resume", "--epochs", "2", "--out", str(run)]) == 2
    err = _err(capsys)
    assert "best.json must hold" in err and "rebuilt from best.pt" in err
    (run / "checkpoints" / "best.json").unlink()
    assert main([*CLS, "--resume", "--epochs", "2", "--out", str(run)]) == 0
    assert json.loads((run / "checkpoints" / "best.json").read_text())["step"] > 0


def test_a_tampered_checkpoint_is_not_a_convscope_checkpoint(runs, tmp_path, capsys):
    run = _copy(runs, "gan", tmp_path)
    ck = sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1]
    ck.write_bytes(np.random.default_rng(0).bytes(4096))
    assert main(["gan", "sample", "--checkpoint", str(ck), "--out", str(tmp_path / "s")]) == 2
    err = _err(capsys)
    assert "not a convscope checkpoint, or it is damaged" in err and "weights_only" not in err


def test_a_shortened_class_list_is_an_error_not_an_index_error(runs, tmp_path, capsys):
    from convscope._checkpoint import load_checkpoint, save_checkpoint

    run = _copy(runs, "cls", tmp_path)
    for p in (run / "checkpoints").glob("*.pt"):
        st = load_checkpoint(p)
        st["extra"]["data"]["classes"] = ["0", "1", "2"]
        save_checkpoint(p, st)
    assert main(["classify", "predict", "--checkpoint", str(run), "--out", str(tmp_path / "p")]) == 2
    assert "lists 3 class names but the model has 10 outputs" in _err(capsys)


def test_resume_without_a_checkpoint_keeps_the_logs(runs, tmp_path, capsys):
    run = _copy(runs, "cls", tmp_path)
    shutil.rmtree(run / "checkpoints")
    before = _snapshot(run)
    assert main([*CLS, "--resume", "--out", str(run)]) == 2
    assert "no checkpoint to resume from" in _err(capsys) and _snapshot(run) == before


# ---------------------------------------------------------------- 6. devices and training health


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("argv", [CLS, GAN])
def test_missing_cuda_is_one_clear_line(tmp_path, capsys, argv):
    assert main([*argv, "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA device is available; available devices: cpu" in _err(capsys)


def test_a_diverging_run_names_the_step_and_the_cause(tmp_path, capsys):
    assert main([*CLS, "--lr", "1e10", "--optimizer", "sgd", "--out", str(tmp_path / "r")]) == 2
    err = _err(capsys)
    assert "the loss became non-finite at step" in err and "learning rate (lr=1e+10" in err
    assert (tmp_path / "r" / "failure.txt").is_file()


def test_nan_images_are_counted_at_load_time(tmp_path, capsys):
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    x[[3, 7, 9]] = np.nan
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(40) % 4)
    argv = ["--data", str(tmp_path / "d.npz"), "--quiet"]
    assert main(["classify", "train", *argv, "--epochs", "1", "--batch-size", "8", "--out", str(tmp_path / "c")]) == 2
    err = _err(capsys)
    found = re.search(r"hold (\d) images? with NaN or Inf pixels \(of (\d+);", err)  # the train split's share of 3
    assert found and 1 <= int(found[1]) <= 3 and int(found[2]) < 40 and "non-finite" in err
    assert main(["gan", "train", *argv, "--image-size", "16", "--batch-size", "8", "--out", str(tmp_path / "g")]) == 2
    assert re.search(r"hold \d images? with NaN or Inf pixels", _err(capsys))
