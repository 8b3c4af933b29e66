"""DCGAN ablation: baseline, +EMA, +DiffAugment (several strengths), both, and ADA.

Every variant trains with the same preset, budget and seeds through the CLI
(``convscope gan train ... [--augment SPEC] [--ema DECAY]``), then is judged by
``convscope gan evaluate`` in **two feature spaces**, so that a win cannot come
from one ruler's blind spot:

- ``lenet5``: the first reference classifier, LeNet-5 (6/16, FC 120/84) trained with its
  recipe (Adam 2e-3, step decay, no label smoothing, 10 epochs): the space the quality targets are stated in;
- ``lenet``: today's ``convscope classify train`` defaults (LeNet + BN, 32/64, FC 256);
- ``alexnet``: a wider CNN (``convscope classify train --model alexnet``).

Each metric is written next to its real-vs-real floor (evaluate_gan: the data's
``train`` split is the reference, its ``test`` split gives the floor). Results
go to ``WORK/ablation.json`` and, with ``--results``, to the ``gan-ablation``
section of RESULTS.md: one table per feature space, every seed, then the mean.

The driver is restartable: a finished training (marker file) or evaluation
(``metrics.json``) is reused, an unfinished training is continued with ``--resume``.
Variants whose flags this convscope's CLI does not have yet are skipped and listed.

Usage (the full study: 8 variants x 3 seeds x up to 15 min each, on an idle machine)::

    PYTHONPATH=src python benchmarks/gan_ablation.py --preset mnist --seeds 0 1 2 --results

A smoke run (seconds): ``--preset quick --data digits --epochs 1 --seeds 0 --variants baseline,ema
--clf-epochs 1 -n 200 --work /tmp/gan-ablation-smoke``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import load_note, machine, table, write_section

EMA = ["--ema", "0.999"]
R1 = ["--r1", "1"]
OFF = ["--ema", "none", "--augment", "none", "--r1", "none"]
VARIANTS: dict[str, list[str] | None] = {
    "preset": None,  # the preset exactly as it ships (its own --ema/--augment/--r1)
    "ema": EMA,
    "ema+r1": [*EMA, *R1],
    "ema+r1+ada-t": [*EMA, *R1, "--augment", "ada:translation=0.125"],
    "diffaug-tc1/8": ["--augment", "diffaug:translation=0.125,cutout=0.125"],
    "diffaug-tc1/4": ["--augment", "diffaug:translation=0.125,cutout=0.25"],
    "ema+diffaug-t": [*EMA, "--augment", "diffaug:translation=0.125"],
    "ema+diffaug-tc1/4": [*EMA, "--augment", "diffaug:translation=0.125,cutout=0.25"],
    "ema+ada": [*EMA, "--augment", "ada:translation=0.125,cutout=0.25"],
}
# variants read off another variant's run: its raw G (``gan evaluate --no-ema``). The EMA of G is a passive copy
# (it draws no random numbers and never feeds back into training), so the raw G of an ``--ema`` run is the G of
# the same run without ``--ema``, and one run gives both rows.
RAW_OF = {"baseline": "ema", "r1": "ema+r1", "preset-raw": "preset", "diffaug-t": "ema+diffaug-t", "ada": "ema+ada"}
FEATURE_NETS = {
    # the first reference classifier: LeNet-5 (6/16, FC 120/84) with its recipe, the feature space of the quality targets
    "lenet5": ["--conv-channels", "6,16", "--fc-units", "120,84", "--optimizer", "adam", "--lr", "2e-3",
               "--scheduler", "step", "--weight-decay", "0", "--label-smoothing", "0", "--epochs", "10"],
    "lenet": [],  # today's classify train defaults (LeNet + BN, 32/64, FC 256)
    "alexnet": ["--model", "alexnet"],  # a wider CNN: a second ruler
}
METRICS = ("frechet_distance", "kid", "precision", "recall", "density", "coverage", "classes_covered",
           "class_balance_kl")
DONE = ".ablation-trained"


def cli(args: list[str], *, log: Path) -> None:
    """``python -m convscope ARGS`` with output to ``log``; a failure raises with the log's tail."""
    cmd = [sys.executable, "-m", "convscope", *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
    if rc != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(args[:2])} failed (exit {rc}); see {log}:\n{tail}")


def supported_flags() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "convscope", "gan", "train", "--help"], capture_output=True,
                         text=True, env=os.environ.copy()).stdout
    return {f for f in ("--augment", "--ema", "--r1") if f in out}


def train_classifier(name: str, extra: list[str], data: str, work: Path, epochs: int | None) -> Path:
    out = work / "classifiers" / name
    if (out / DONE).exists():
        return out
    args = ["classify", "train", "--data", data, "--out", str(out), "--seed", "0", "--quiet", *extra]
    if epochs is not None and "--epochs" not in extra:
        args += ["--epochs", str(epochs)]
    if out.exists() and any(out.rglob("*.pt")):
        args.append("--resume")
    cli(args, log=work / "logs" / f"classifier-{name}.log")
    (out / DONE).write_text("ok\n")
    return out


def train_gan(variant: str, seed: int, a) -> Path:
    run = a.work / "runs" / f"{variant}-seed{seed}"
    if (run / DONE).exists():
        return run
    # both off first, so that a preset's own --ema/--augment (the quick preset keeps an EMA) never leaks into a
    # variant; the variant's flags come after and win
    flags = VARIANTS[variant]
    args = ["gan", "train", "--out", str(run), "--seed", str(seed), "--quiet", *([] if flags is None else [*OFF, *flags])]
    if a.preset:
        args += ["--preset", a.preset]
    if a.data:
        args += ["--data", a.data]
    if a.epochs is not None:
        args += ["--epochs", str(a.epochs)]
    if a.time_limit is not None:
        args += ["--time-limit", str(a.time_limit)]
    if run.exists() and any(run.rglob("*.pt")):
        args.append("--resume")
    t0 = time.perf_counter()
    cli(args, log=a.work / "logs" / f"{variant}-seed{seed}.log")
    (run / DONE).write_text(json.dumps({"wall_s": time.perf_counter() - t0}) + "\n")
    return run


def evaluate(run: Path, feat: str, clf: Path, a, *, name: str | None = None, no_ema: bool = False) -> dict:
    out = a.work / "eval" / f"{name or run.name}-{feat}"
    if not (out / "metrics.json").exists():
        args = ["gan", "evaluate", "--checkpoint", str(run), "--data", a.eval_data, "--classifier", str(clf),
                "-n", str(a.n), "--seed", "0", "--out", str(out), "--quiet", *(["--no-ema"] if no_ema else [])]
        if not a.probe:
            args.append("--no-probe")
        cli(args, log=a.work / "logs" / f"eval-{run.name}-{feat}.log")
    return json.loads((out / "metrics.json").read_text())


def _find(d, keys: tuple[str, ...]):
    """The first value under any of ``keys`` in a nested dict (run.json differs between versions)."""
    if isinstance(d, dict):
        for k in keys:
            if k in d and not isinstance(d[k], dict):
                return d[k]
        for v in d.values():
            got = _find(v, keys)
            if got is not None:
                return got
    return None


def run_info(run: Path) -> dict:
    try:
        info = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):
        info = {}
    return {"step": _find(info, ("step",)), "epoch": _find(info, ("epoch",)),
            "train_time_s": _find(info, ("train_time_s",)), "stopped": _find(info, ("stopped",))}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3f}" if abs(v) >= 0.01 else f"{v:.1e}"
    return str(int(v))


def tables(rows: list[dict]) -> str:
    parts = []
    feats = list(dict.fromkeys(f for r in rows for f in r["metrics"]))
    for feat in feats:
        header = ["variant", "seed", "steps", "train min"] + [f"{m} (floor)" for m in METRICS]
        body = []
        for variant in dict.fromkeys(r["variant"] for r in rows):
            rs = [r for r in rows if r["variant"] == variant and feat in r["metrics"]]
            for r in rs:
                ms = r["metrics"][feat]
                t = r["info"].get("train_time_s")
                body.append([variant, r["seed"], _fmt(r["info"]["step"]), "-" if t is None else f"{t / 60:.1f}"]
                            + [f"{_fmt(ms[m]['value'])} ({_fmt(ms[m]['floor'])})" if m in ms else "-" for m in METRICS])
            if len(rs) > 1:
                mean = [statistics.mean(r["metrics"][feat][m]["value"] for r in rs) if m in rs[0]["metrics"][feat]
                        else None for m in METRICS]
                body.append([f"**{variant} mean**", "", "", ""] + [_fmt(v) for v in mean])
        parts += [f"### Feature space: {feat}", "", table(header, body), ""]
    return "\n".join(parts)


def _describe(v: str) -> str:
    if v in RAW_OF:
        return f"{v} = the raw G of {RAW_OF[v]}'s run (`--no-ema`)"
    flags = VARIANTS[v]
    return f"{v} = `{'(the preset as it ships)' if flags is None else ' '.join(flags) or '(none)'}`"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="all", help="comma-separated from: " + ", ".join([*VARIANTS, *RAW_OF]) + " (or all)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--preset", default="mnist", help="gan train --preset (default mnist; '' for none)")
    ap.add_argument("--data", default=None, help="gan train --data (default: the preset's)")
    ap.add_argument("--eval-data", default=None, help="gan evaluate --data and the classifiers' data "
                    "(default --data, else mnist-5k)")
    ap.add_argument("--epochs", type=int, default=None, help="gan train --epochs (default: the preset's)")
    ap.add_argument("--time-limit", type=float, default=None, metavar="MIN", help="gan train --time-limit")
    ap.add_argument("--clf-epochs", type=int, default=None, help="classify train --epochs (default: its own)")
    ap.add_argument("-n", type=int, default=10_000, help="generated images per evaluation (default 10000)")
    ap.add_argument("--probe", action="store_true", help="also the linear probes (slower)")
    ap.add_argument("--work", type=Path, default=Path("convscope-out/gan-ablation"))
    ap.add_argument("--results", action="store_true", help="write the --section section of RESULTS.md")
    ap.add_argument("--section", default="gan-ablation", help="RESULTS.md section name (default gan-ablation)")
    ap.add_argument("--title", default="DCGAN ablation: EMA, DiffAugment, ADA, R1",
                    help="the section's heading")
    a = ap.parse_args(argv)
    a.eval_data = a.eval_data or a.data or "mnist-5k"
    known = [*VARIANTS, *(v for v in RAW_OF if v not in VARIANTS)]
    names = known if a.variants == "all" else [v.strip() for v in a.variants.split(",")]
    unknown = [v for v in names if v not in known]
    if unknown:
        ap.error(f"--variants must be among {', '.join(known)}, got {', '.join(unknown)}")
    have = supported_flags()
    skipped = {v: sorted({f for f in (VARIANTS[RAW_OF.get(v, v)] or []) if f.startswith("--")} - have) for v in names}
    skipped = {v: f for v, f in skipped.items() if f}
    for v, f in skipped.items():
        print(f"skipping {v}: this CLI has no {', '.join(f)} yet", flush=True)
    names = [v for v in names if v not in skipped]

    clfs = {k: train_classifier(k, extra, a.eval_data, a.work, a.clf_epochs) for k, extra in FEATURE_NETS.items()}
    rows = []
    for variant in names:
        for seed in a.seeds:
            raw = variant in RAW_OF
            run = train_gan(RAW_OF.get(variant, variant), seed, a)
            metrics = {}
            for feat, clf in clfs.items():
                res = evaluate(run, feat, clf, a, name=f"{variant}-seed{seed}", no_ema=raw)
                metrics[feat] = {m: res["metrics"][m] for m in METRICS if m in res["metrics"]}
            rows.append({"variant": variant, "seed": seed, "flags": VARIANTS[RAW_OF.get(variant, variant)],
                         "raw_of": RAW_OF.get(variant), "info": run_info(run),
                         "metrics": metrics})
            m = metrics[next(iter(clfs))]
            print(f"{variant} seed {seed}: lenet FD {m['frechet_distance']['value']:.2f} "
                  f"(floor {m['frechet_distance']['floor']:.2f}), precision {m['precision']['value']:.3f}, "
                  f"recall {m['recall']['value']:.3f}, KL {m['class_balance_kl']['value']:.4f}", flush=True)
    text = tables(rows)
    print(text)
    budget = (f"preset {a.preset or 'none'}" + (f", data {a.data}" if a.data else "")
              + (f", {a.epochs} epochs" if a.epochs else "") + (f", time limit {a.time_limit} min" if a.time_limit else ""))
    (a.work / "ablation.json").write_text(json.dumps({"rows": rows, "skipped": skipped, "budget": budget,
                                                      "machine": machine(), "load": load_note()}, indent=1) + "\n")
    if a.results:
        write_section(a.section, "\n".join([
            f"## {a.title} (benchmarks/gan_ablation.py)", "",
            f"{machine()}; {load_note()}.", "",
            f"Same budget for every variant ({budget}), seeds {', '.join(map(str, a.seeds))}. Each cell is "
            f"value (real-vs-real floor); the reference is {a.eval_data}'s GAN `train` split (every non-test image, what G trains on) and the floor compares "
            f"its `test` split with it; {a.n} generated images. Variants: "
            + "; ".join(_describe(v) for v in names)
            + (("; skipped (flags missing): " + ", ".join(skipped)) if skipped else "") + ".", "",
            text]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
