"""Timing the candidates on this machine, and fitting the cost model's constants to the timings.

Two users share one timing harness (:func:`measure`):

* the planner (:mod:`convscope.conv.planner`), which times the two cheapest
  candidates once when the model is unsure, and every candidate for
  ``choose_method(..., measure=True)``;
* ``convscope calibrate`` (:func:`calibrate`), which times every candidate over
  :func:`calibration_grid` and fits the constants of :mod:`convscope.conv.select`
  by least squares on log-time; :mod:`convscope.conv.wisdom` stores the result.

Nothing here keeps state: what is measured is remembered by the planner, what is
fitted by wisdom.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .problem import ConvProblem
from .select import CONSTANTS, predict_costs, stored_constants
from .spatial import direct_correlate, opencv_correlate
from .spectral import fft_correlate, oa_correlate_valid

__all__ = ["calibrate", "calibration_grid", "measure"]


# --------------------------------------------------------------------------------------
# the timing harness


def _run_candidate(name: str, x, w, p: ConvProblem):
    if name == "opencv":  # x, w: numpy planes (N, H, W) and kernel (kH, kW)
        return opencv_correlate(x, w, p.pads)
    if name == "direct":
        return direct_correlate(x, w, p.groups, p.pads)
    if name == "fft":
        return fft_correlate(x, w, p.groups, p.pads)
    if name == "overlap_add":
        pt, pb, pl, pr = p.pads
        return oa_correlate_valid(F.pad(x, (pl, pr, pt, pb)), w, p.groups)
    raise AssertionError(name)


def _time(fn, budget: float = 0.05, repeat: int = 3, min_total: float = 2e-3, max_repeat: int = 50) -> float:
    """Best seconds of ``fn`` after a warm-up: at least ``repeat`` runs and ``min_total``
    seconds in all (so microsecond calls are timed many times), fewer for calls over ``budget``."""
    fn()  # warm up: allocations, FFT plans, oneDNN primitives
    best, total, n = math.inf, 0.0, 0
    while True:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, total, n = min(best, dt), total + dt, n + 1
        if dt > budget or n >= max_repeat or (n >= repeat and total >= min_total):
            return best


def measure(
    p: ConvProblem, predicted: dict[str, float], names=None, *, filter_path: float, repeat: int = 3
) -> dict[str, float]:
    """Seconds of each candidate in ``names`` (default: all not hopeless by the model) on random data.

    ``predicted``: the model's seconds per candidate (the order of timing, and
    what is hopeless). Image filtering (``p.opencv``) runs OpenCV on the numpy
    planes and the others through torch, so those carry ``filter_path`` seconds
    as well: the model's round trip of the constants in force.
    """
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(p.B, p.Cin, p.H, p.W, generator=g, dtype=p.dtype).to(p.device)
    w = torch.rand(p.Cout, p.Cin // p.groups, p.kH, p.kW, generator=g, dtype=p.dtype).to(p.device)
    sync = torch.cuda.synchronize if p.device == "cuda" else (lambda: None)
    best = min(predicted.values())
    if p.opencv and p.device == "cpu":
        planes, kernel = x.reshape(p.B * p.Cin, p.H, p.W).numpy(), w[0, 0].contiguous().numpy()
    out = {}
    with torch.no_grad():
        for name in sorted(predicted, key=predicted.get):
            if names is not None and name not in names:
                continue
            if name == "opencv" and (not p.opencv or p.device != "cpu"):
                continue
            if names is None and predicted[name] > 50 * best and predicted[name] > 0.05:
                out[name] = math.inf  # hopeless by the model: don't spend seconds proving it
                continue

            a, b = (planes, kernel) if name == "opencv" else (x, w)

            def run(name=name, a=a, b=b):
                _run_candidate(name, a, b, p)
                sync()

            out[name] = _time(run, repeat=repeat)
            if p.opencv and name != "opencv":
                out[name] += filter_path
    return out


# --------------------------------------------------------------------------------------
# the least-squares fit


def calibration_grid(quick: bool = False) -> list[ConvProblem]:
    """Problems timed by :func:`calibrate`: image filtering (both dtypes) and CNN layers."""
    threads = torch.get_num_threads()
    grid = []
    sizes, ks = ((128, 256), (3, 7, 15, 31)) if quick else ((128, 512), (3, 5, 7, 11, 15, 21, 31))
    for dt in (torch.float32, torch.float64):
        for S in sizes:
            for k in ks:
                grid.append(ConvProblem(1, 1, 1, 1, S, S, k, k, pads=(k // 2,) * 4, dtype=dt, threads=threads, opencv=True))
    layers = [(8, 16, 16, 1, 64, (3, 7, 15) if quick else (3, 7, 15, 31))]
    if not quick:
        layers += [(32, 64, 64, 1, 32, (3, 5)), (8, 64, 64, 64, 64, (7, 31))]
    for B, Cin, Cout, g, S, kk in layers:
        for k in kk:
            grid.append(ConvProblem(B, Cin, Cout, g, S, S, k, k, pads=(k // 2,) * 4, threads=threads))
    return grid


def _as_problem(cfg) -> ConvProblem:
    if isinstance(cfg, ConvProblem):
        return cfg
    *shape, pads, dt, ocv = cfg  # the old tuple form (B, Cin, Cout, groups, H, W, kH, kW, pads, dtype, opencv)
    return ConvProblem(*shape, pads=tuple(pads), dtype=dt, threads=torch.get_num_threads(), opencv=bool(ocv))


def calibrate(configs=None, *, quick: bool = False, budget: float | None = None, progress=None) -> dict[str, float]:
    """Fit the cost constants to timings on this machine, at torch's current thread count.

    Times every candidate over :func:`calibration_grid` (or ``configs``: a list of
    :class:`ConvProblem`) until ``budget`` seconds are spent (default 45, quick 10),
    then fits the constants by least squares on log-time, pulled mildly toward the
    built-in ones (constants the grid does not exercise stay near them). Returns
    the fitted constants; :mod:`convscope.conv.wisdom` stores them.
    """
    # scipy.optimize takes ~0.4 s to import: only a calibration pays it, not `import convscope`
    from scipy.optimize import least_squares

    problems = [_as_problem(c) for c in (calibration_grid(quick) if configs is None else configs)]
    budget = (10.0 if quick else 45.0) if budget is None else budget
    t_start = time.perf_counter()
    samples = []
    for i, p in enumerate(problems):
        if samples and time.perf_counter() - t_start > 0.85 * budget:
            break
        pred = predict_costs(p, CONSTANTS)
        path = stored_constants(p.threads, p.device)[0]["filter_path"]  # the round trip in force, as auto adds it
        timed = measure(p, pred, filter_path=path, repeat=2 if quick else 3)
        samples += [(p, name, t) for name, t in timed.items() if math.isfinite(t)]
        if progress is not None:
            progress(i + 1, len(problems))
    keys = list(CONSTANTS)
    x0 = np.log([CONSTANTS[k] for k in keys])

    def resid(logc):
        c = dict(zip(keys, np.exp(logc), strict=True))
        r = [math.log(predict_costs(p, c)[name]) - math.log(t) for p, name, t in samples]
        return np.array(r + list(0.05 * (logc - x0)))

    fit = least_squares(resid, x0, max_nfev=40 if quick else 100)
    return {k: float(v) for k, v in zip(keys, np.exp(fit.x), strict=True)}
