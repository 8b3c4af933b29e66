"""DCGAN benchmarks -> the "gan" section of RESULTS.md.

Throughput (``--throughput``): training images per second at 32x32, batch 64,
of our training step (:func:`convscope.train.gan.make_train_step`) against the
pytorch/examples DCGAN loop (Sigmoid + BCELoss, ``errD_real.backward()`` and
``errD_fake.backward()`` separately, D's gradients computed in the G step)
with the same Generator/Discriminator, measured side by side (interleaved
repeats, medians), plus our speed options (channels_last, fused Adam, both
("all"), torch.compile).

Quality (``--quality``): train the ``mnist`` preset on mnist-5k at 32x32 for
``--minutes`` of wall time (``--full``: the 15-minute budget), then evaluate
it with a classifier (``--classifier``, from ``convscope classify train --data
mnist-5k``): classes covered, class-balance KL, precision, recall, Fréchet
distance against its real-vs-real floor. ``--run DIR`` evaluates an existing run
instead of training one.

Both parts are cached in ``benchmarks/gan_bench.json`` so that the section shows
the latest of each.

    python benchmarks/gan_bench.py --throughput
    python benchmarks/gan_bench.py --quality --full --classifier runs/cls
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _results import load_note, machine, table, write_section
from convscope.models.dcgan import DCGANConfig, Discriminator, Generator, make_optimizers
from convscope.train.gan import make_train_step

CACHE = Path(__file__).with_name("gan_bench.json")
LABELS = {
    "peer": "pytorch/examples loop (peer)",
    "ours": "ours, plain (D frozen in the G step)",
    "channels_last": "ours + channels_last",
    "fused_adam": "ours + fused Adam",
    "all": "ours + channels_last + fused Adam (train_gan's default)",
    "compile": "ours + torch.compile",
}
TARGETS = {"classes_covered": (">=", 10), "class_balance_kl": ("<=", 0.05), "precision": (">=", 0.7),
           "recall": (">=", 0.5)}


# ---------------------------------------------------------------- throughput


def _peer_loop(G, D, optG, optD, nz):
    """pytorch/examples/dcgan/main.py's inner loop (Sigmoid + BCELoss on probabilities)."""
    netD = nn.Sequential(D, nn.Sigmoid())
    criterion = nn.BCELoss()

    def step(real, noise):
        b = real.size(0)
        netD.zero_grad()
        label = torch.full((b,), 1.0)
        output = netD(real).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = G(noise)
        label.fill_(0.0)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optD.step()
        G.zero_grad()
        label.fill_(1.0)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optG.step()
        return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2

    return step


def _ours(G, D, optG, optD, *, compile=False):
    step = make_train_step(G, D, optG, optD, "bce", compile=compile)

    def run(real, noise):
        ld, lg, lr, lf = step(real, noise)
        # what train_gan logs every step
        return (float(ld.detach()), float(lg.detach()), float(torch.sigmoid(lr.detach()).mean()),
                float(torch.sigmoid(lf.detach()).mean()))

    return run


def _make(variant: str, cfg: DCGANConfig, seed: int = 0):
    torch.manual_seed(seed)
    G, D = Generator(cfg), Discriminator(cfg)
    cl = variant in ("channels_last", "all")
    if cl:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    optG, optD = make_optimizers(G, D, fused=variant in ("fused_adam", "all"))
    if variant == "peer":
        return _peer_loop(G, D, optG, optD, cfg.nz), cl
    return _ours(G, D, optG, optD, compile=variant == "compile"), cl


def throughput(steps: int = 8, repeats: int = 5, batch: int = 64, variants=("ours", "channels_last", "fused_adam", "compile")):
    cfg = DCGANConfig(image_size=32, channels=1, nz=100, ngf=64, ndf=64)  # pytorch/examples widths, 32x32 grey
    g = torch.Generator().manual_seed(0)
    real = torch.rand(batch, 1, 32, 32, generator=g) * 2 - 1
    noise = torch.randn(batch, cfg.nz, 1, 1, generator=g)
    runs, notes = {}, {}
    for v in ("peer", *variants):
        try:
            t0 = time.perf_counter()
            fn, cl = _make(v, cfg)
            x = real.contiguous(memory_format=torch.channels_last) if cl else real
            fn(x, noise)  # warm-up (and compilation)
            fn(x, noise)
            runs[v] = (fn, x)
            notes[v] = f"warm-up {time.perf_counter() - t0:.1f}s"
        except Exception as e:  # e.g. no C++ compiler for inductor
            notes[v] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
    times: dict[str, list[float]] = {v: [] for v in runs}
    for _ in range(repeats):  # interleaved, so that load changes hit every variant alike
        for v, (fn, x) in runs.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                fn(x, noise)
            times[v].append((time.perf_counter() - t0) / steps)
    ips = {v: batch / statistics.median(t) for v, t in times.items()}
    return {"images_per_s": ips, "notes": notes, "steps": steps, "repeats": repeats, "batch": batch,
            "threads": torch.get_num_threads(), "machine": machine(), "load": load_note(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


# ---------------------------------------------------------------- quality


def quality(minutes: float, classifier: str, out: str, run: str | None = None, n_samples: int = 10_000):
    from convscope.metrics.evaluate import evaluate_gan
    from convscope.train.gan import PRESETS, GANTrainConfig, train_gan

    info = {}
    if run is None:
        p = PRESETS["mnist"]
        tcfg = GANTrainConfig(**{**p["train"], "time_limit_s": minutes * 60, "epochs": 1000})
        t0, c0 = time.perf_counter(), time.process_time()
        r = train_gan(DCGANConfig(**p["model"]), p["data"], out, train=tcfg, log=print)
        info = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "steps": r.step,
                "epochs": r.epoch, "stopped": r.stopped, "run": str(out)}
        run = out
    else:
        meta = json.loads((Path(run) / "run.json").read_text())
        fin = meta.get("final") or {}
        info = {"steps": fin.get("step"), "epochs": fin.get("epoch"), "stopped": fin.get("stopped"),
                "wall_s": fin.get("train_time_s"), "run": str(run)}
    res = evaluate_gan(run, "mnist-5k", classifier, n_samples=n_samples, probe=True)
    info.update(metrics=res["metrics"], histogram=res["histogram"], probe=res.get("probe"),
                classifier_accuracy_real=res["classifier_accuracy_real"], minutes_asked=minutes,
                machine=machine(), load=load_note(), when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    return info


# ---------------------------------------------------------------- the section


def _section(cache: dict) -> str:
    parts = ["## DCGAN (benchmarks/gan_bench.py)"]
    t = cache.get("throughput")
    if t:
        ips = t["images_per_s"]
        peer = ips.get("peer")
        rows = []
        for v, val in ips.items():
            rows.append([LABELS.get(v, v), f"{val:.1f}",
                         f"{val / peer:.2f}x" if peer else "-", t["notes"].get(v, "")])
        for v, note in t["notes"].items():
            if v not in ips:
                rows.append([LABELS.get(v, v), "-", "-", note])
        parts += [f"\n### Training throughput, 32x32 grey, batch {t['batch']}, nz 100, ngf = ndf = 64 "
                  f"(target: ours / peer >= 1.0x)\n",
                  table(["loop", "images/s", "ratio vs peer", "note"], rows),
                  f"\nMedian of {t['repeats']} interleaved repeats of {t['steps']} steps, {t['threads']} torch threads, "
                  f"{t['when']}. Machine: {t['machine']}; {t.get('load', 'shared with other jobs while measuring')}. "
                  "Absolute numbers vary with load; the ratio is what matters (both loops run interleaved)."]
    for label, q in cache.get("quality", {}).items():
        m = q["metrics"]
        rows = []
        for name, r in m.items():
            tgt = TARGETS.get(name)
            ok = ""
            if tgt:
                ok = "yes" if (r["value"] >= tgt[1] if tgt[0] == ">=" else r["value"] <= tgt[1]) else "NO"
            rows.append([name, f"{r['value']:.4g}", "-" if r["floor"] is None else f"{r['floor']:.4g}", f"{r['ideal']}",
                         f"{tgt[0]} {tgt[1]}" if tgt else "-", ok])
        wall = q.get("wall_s")
        parts += [f"\n### Quality on mnist-5k at 32x32: {label}; {q.get('steps')} steps / {q.get('epochs')} epochs "
                  f"in {wall / 60 if wall else float('nan'):.1f} min of training ({q.get('stopped')})\n",
                  table(["metric", "value", "real-vs-real floor", "ideal", "target", "met"], rows),
                  f"\nClass histogram of 10k samples: {q['histogram']}. Feature network: a LeNet trained with "
                  f"`convscope classify train --data mnist-5k` (accuracy on the real test split through the same "
                  f"adapter: {q['classifier_accuracy_real']:.3f}). The floor is the metric between the train and the test "
                  "split of the real images (sample sizes matched). The probe row's floor column is the same probe on raw "
                  f"pixels. {q.get('when')}. Machine: {q['machine']}; "
                  f"{q.get('load', 'shared with ~6 other agents, so the run got a fraction of the 2 cores')}."]
    if cache.get("note"):
        parts.append("\n" + cache["note"])
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--throughput", action="store_true")
    ap.add_argument("--quality", action="store_true")
    ap.add_argument("--full", action="store_true", help="the 15-minute quality run")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--classifier", default="runs/cls")
    ap.add_argument("--run", default=None, help="evaluate this existing GAN run instead of training")
    ap.add_argument("--out", default="runs/gan-quality")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile (minutes of warm-up on 2 cores)")
    ap.add_argument("--note", default=None, help="a note printed under the tables")
    ap.add_argument("--label", default="preset mnist (transposed)", help="name of this quality run in the section")
    args = ap.parse_args(argv)
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    if args.throughput:
        variants = ("ours", "channels_last", "fused_adam", "all") + (() if args.no_compile else ("compile",))
        t = throughput(args.steps, args.repeats, variants=variants)
        old = cache.get("throughput") or {}
        if args.no_compile and "compile" in old.get("images_per_s", {}):  # keep the last compile measurement
            t["notes"]["compile"] = (f"{old['images_per_s']['compile'] / old['images_per_s']['peer']:.2f}x the peer "
                                     f"in an earlier run ({old['when']}); {old['notes'].get('compile', '')}")
        cache["throughput"] = t
        print(json.dumps(cache["throughput"]["images_per_s"], indent=1))
    if args.quality:
        q = quality(15.0 if args.full else args.minutes, args.classifier, args.out, args.run)
        qs = cache.get("quality", {})
        cache["quality"] = {**(qs if "metrics" not in qs else {}), args.label: q}
        print(json.dumps({k: v["value"] for k, v in q["metrics"].items()}, indent=1))
    if args.note is not None:
        cache["note"] = args.note
    CACHE.write_text(json.dumps(cache, indent=1, default=str) + "\n")
    write_section("gan", _section(cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
