"""Choosing the method: a calibrated cost model, or measurement (like ``cudnn.benchmark``).

Candidates for a stride-1 valid correlation of an implicitly padded input:

* ``direct``: ``torch.nn.functional.conv2d`` (oneDNN on CPU).
* ``opencv``: ``cv2.filter2D`` per plane; only for single-kernel image filtering
  on CPU without autograd (see :mod:`convscope.conv.spatial`).
* ``fft``: :func:`convscope.conv.spectral.fft_correlate`.
* ``overlap_add``: :func:`convscope.conv.spectral.oa_correlate_valid`.

The cost model predicts seconds from the problem's sizes with a few constants
fitted (:func:`calibrate`) on a 2-core x86 CPU like the one this project is
benchmarked on. It encodes the traps of issue 2 instead of guessing:

* scipy's ``choose_conv_method`` picks FFT even for 3x3 kernels on 512² images,
  where OpenCV is ~50x faster: here the OpenCV and direct costs scale with
  ``k²`` and the FFT cost has a fixed floor, so small kernels go spatial;
* torch's oneDNN path on one channel with a 31x31 kernel is ~200x slower than
  the best: single-channel/depthwise MACs cost more than dense ones, and float64
  falls back to an im2col path that is 5x slower again once its buffer leaves
  the cache;
* overlap-add only wins in a narrow band (large images, kernels small relative to
  them); its cost carries the block overhead, so it is chosen only there.

``measure=True`` times the candidates on random data of the same signature and
caches the winner in memory, and with ``persist=True`` in a JSON file in the
user's cache directory (``platformdirs.user_cache_dir("convscope")``), written
atomically.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .._checks import check_int
from .spatial import opencv_uses_dft
from .spectral import fast_len, oa_block

__all__ = ["choose_method", "MethodChoice", "predict_costs", "calibrate", "cache_path", "CONSTANTS"]

CANDIDATES = ("direct", "opencv", "fft", "overlap_add")

# Seconds, or seconds per unit of work, for one thread (torch.set_num_threads(1),
# cv2.setNumThreads(1)) on this project's benchmark machine: a 2-core x86 VM shared with
# other jobs, torch 2.13 CPU (oneDNN, MKL FFT), OpenCV 4.x. First fitted with calibrate()
# (log-time least squares), then checked against best-of round-robin timings of
# benchmarks/conv_bench.py and adjusted where the load on the shared machine skewed the fit.
CONSTANTS: dict[str, float] = {
    "direct_call": 2.0e-05,  # per F.conv2d call
    "direct_mac": 2.0e-11,  # per multiply-add, dense channels (cpg > 1), for many channels
    "direct_chan": 2.0,  # ... times (1 + direct_chan / channels per group): few channels vectorise worse
    "direct_mac_dw": 3.0e-10,  # per multiply-add, single-channel planes (B*C images, one kernel)
    "direct_mac_dwc": 1.0e-10,  # per multiply-add, depthwise over many channels, kernels up to 13x13
    "direct_mac_dwc_big": 6.2e-10,  # ... and from 14x14 on, where oneDNN leaves its fast depthwise path
    "direct_bwd": 2.0,  # backward / forward time (input and weight gradients), dense
    "direct_bwd_dw_mac": 8.0e-10,  # backward per multiply-add, one channel per group
    "fft_bwd": 2.0,  # backward / forward time, FFT paths
    "direct_f64": 2.3,  # float64 slowdown while im2col fits the cache
    "direct_f64_slow": 22.7,  # float64 slowdown once the im2col buffer is > 32 MB
    "opencv_call": 1.65e-05,  # per plane
    "opencv_mac": 3.73e-11,  # per multiply-add (spatial filter2D), float32
    "opencv_f64": 4.0,  # float64 slowdown (spatial)
    "opencv_dft": 6.75e-10,  # per N log2 N of its internal DFT (per plane, float32 or float64)
    "fft_call": 3.0e-05,  # per call (Python, allocation)
    "fft_plane": 2.0e-06,  # per 2-D transform
    "fft_point": 1.75e-10,  # per real point * log2(points) per transform
    "fft_mix": 5.0e-10,  # per complex multiply-add in channel mixing (batched cgemm)
    "fft_copy": 1.0e-09,  # per complex value moved into/out of the GEMM layout
    "fft_f64": 1.75,  # float64 slowdown
    "oa_block": 1.8e-04,  # per block (gather, fold)
}


@dataclass(frozen=True)
class MethodChoice:
    """The chosen method and the predicted (or measured) seconds of each candidate."""

    method: str
    costs: dict[str, float] = field(default_factory=dict)
    measured: bool = False


def _nlogn(n: int) -> float:
    return n * math.log2(max(n, 2))


def predict_costs(
    B: int,
    Cin: int,
    Cout: int,
    groups: int,
    H: int,
    W: int,
    kH: int,
    kW: int,
    *,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dtype: torch.dtype = torch.float32,
    opencv: bool = False,
    training: bool = False,
    constants: dict[str, float] | None = None,
) -> dict[str, float]:
    """Predicted seconds of each candidate for one valid correlation.

    ``(H, W)`` is the unpadded input, ``pads`` the (implicit) zero/boundary
    padding. ``opencv`` says whether OpenCV is eligible (single kernel per plane);
    ``training`` adds the backward pass (input and weight gradients).
    """
    c = CONSTANTS if constants is None else constants
    f64 = dtype == torch.float64
    pt, pb, pl, pr = pads
    Hp, Wp = H + pt + pb, W + pl + pr
    oH, oW = max(Hp - kH + 1, 1), max(Wp - kW + 1, 1)
    cpg = Cin // groups
    macs = B * Cout * cpg * oH * oW * kH * kW
    costs: dict[str, float] = {}

    # torch direct
    if cpg > 1:
        per_mac = c["direct_mac"] * (1 + c["direct_chan"] / cpg)
    elif Cin == 1:
        per_mac = c["direct_mac_dw"]
    else:
        per_mac = c["direct_mac_dwc"] if max(kH, kW) <= 13 else c["direct_mac_dwc_big"]
    f64_factor = 1.0
    if f64:
        im2col = cpg * kH * kW * oH * oW * 8
        f64_factor = c["direct_f64_slow"] if im2col > 32e6 else c["direct_f64"]
    costs["direct"] = c["direct_call"] + macs * per_mac * f64_factor
    if training:
        bwd = macs * c["direct_bwd_dw_mac"] if cpg == 1 else macs * per_mac * c["direct_bwd"]
        costs["direct"] += bwd * f64_factor

    # OpenCV filter2D, plane by plane
    if opencv:
        planes = B * Cin
        if opencv_uses_dft(kH, kW, dtype):
            n = fast_len(Hp) * fast_len(Wp)
            plane = c["opencv_dft"] * _nlogn(n)
        else:
            plane = c["opencv_mac"] * oH * oW * kH * kW * (c["opencv_f64"] if f64 else 1.0)
        costs["opencv"] = planes * (c["opencv_call"] + plane)

    # FFT: forward transforms of inputs and kernels, channel mixing, inverse transforms
    dt = c["fft_f64"] if f64 else 1.0
    elementwise = cpg == 1 and (Cin == 1 or groups == Cin)

    def fft_cost(nblocks: int, LH: int, LW: int) -> float:
        n, nfr = LH * LW, LH * (LW // 2 + 1)
        planes = nblocks * B * (Cin + Cout) + Cout * cpg
        cost = planes * (c["fft_plane"] + c["fft_point"] * _nlogn(n))
        if not elementwise:
            cost += c["fft_mix"] * nblocks * B * Cout * cpg * nfr + c["fft_copy"] * planes * nfr
        return dt * cost

    LH = fast_len(max(H + pt, oH + kH - 1 - min(pt, kH - 1), H))
    LW = fast_len(max(W + pl, oW + kW - 1 - min(pl, kW - 1), W))
    costs["fft"] = c["fft_call"] + fft_cost(1, LH, LW)

    # overlap-add: the same work on blocks, plus the per-block overhead
    blk = oa_block(kH, kW)
    tH, tW = min(blk, Hp), min(blk, Wp)
    nb = -(-Hp // tH) * -(-Wp // tW)
    costs["overlap_add"] = c["fft_call"] + c["oa_block"] * nb + fft_cost(nb, fast_len(tH + kH - 1), fast_len(tW + kW - 1))
    if training:
        costs["fft"] *= 1 + c["fft_bwd"]
        costs["overlap_add"] *= 1 + c["fft_bwd"]
    return costs


# --------------------------------------------------------------------------------------
# measured mode

_MEMORY: dict[str, str] = {}


def cache_path() -> Path:
    """The JSON file of measured choices (``$CONVSCOPE_CACHE_DIR`` overrides the user cache dir)."""
    d = os.environ.get("CONVSCOPE_CACHE_DIR")
    if d is None:
        from platformdirs import user_cache_dir

        d = user_cache_dir("convscope")
    return Path(d) / "conv_methods.json"


def _signature(B, Cin, Cout, groups, H, W, kH, kW, pads, dtype, device, opencv) -> str:
    dev = torch.device(device).type
    return f"{B},{Cin},{Cout},{groups},{H},{W},{kH},{kW},{','.join(map(str, pads))},{str(dtype).replace('torch.', '')},{dev},{int(opencv)}"


def _load_disk() -> dict[str, str]:
    p = cache_path()
    try:
        data = json.loads(p.read_text())
        return {k: v for k, v in data.get("choices", {}).items() if v in CANDIDATES}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_disk(sig: str, method: str) -> None:
    from .._io import atomic_write_text

    data = _load_disk()
    data[sig] = method
    atomic_write_text(cache_path(), json.dumps({"version": 1, "choices": data}, indent=1, sort_keys=True))


def _run_candidate(name, x, w, groups, pads):
    from .spatial import direct_correlate, opencv_correlate
    from .spectral import fft_correlate, oa_correlate_valid

    if name == "direct":
        return direct_correlate(x, w, groups, pads)
    if name == "fft":
        return fft_correlate(x, w, groups, pads)
    if name == "overlap_add":
        import torch.nn.functional as F

        pt, pb, pl, pr = pads
        return oa_correlate_valid(F.pad(x, (pl, pr, pt, pb)), w, groups)
    B, C, H, W = x.shape
    return opencv_correlate(x.reshape(B * C, H, W).numpy(), w[0, 0].numpy(), pads)


def _time(fn, budget: float = 0.05, repeat: int = 3) -> float:
    fn()  # warm up: allocations, FFT plans
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        if dt > budget:
            break
    return best


def _measure(B, Cin, Cout, groups, H, W, kH, kW, pads, dtype, device, opencv, predicted) -> dict[str, float]:
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(B, Cin, H, W, generator=g, dtype=dtype).to(device)
    w = torch.rand(Cout, Cin // groups, kH, kW, generator=g, dtype=dtype).to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    best = min(predicted.values())
    out = {}
    with torch.no_grad():
        for name in sorted(predicted, key=predicted.get):
            if name == "opencv" and (not opencv or torch.device(device).type != "cpu"):
                continue
            if predicted[name] > 50 * best and predicted[name] > 0.05:
                out[name] = math.inf  # hopeless by the model: don't spend seconds proving it
                continue

            def run(name=name):
                _run_candidate(name, x, w, groups, pads)
                sync()

            out[name] = _time(run)
    return out


def choose_method(
    B: int,
    Cin: int,
    Cout: int,
    groups: int,
    H: int,
    W: int,
    kH: int,
    kW: int,
    *,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    opencv: bool = False,
    training: bool = False,
    measure: bool = False,
    persist: bool = False,
) -> MethodChoice:
    """Pick the fastest method for a valid correlation of this signature.

    Args:
        B, Cin, Cout, groups, H, W, kH, kW: the problem: input (B, Cin, H, W),
            weight (Cout, Cin/groups, kH, kW).
        pads: implicit padding (top, bottom, left, right) of the input.
        dtype, device: of the data.
        opencv: OpenCV's filter2D is eligible (single-kernel image filtering on CPU).
        training: a backward pass will follow (the model adds it; measurement times forward only).
        measure: time the candidates on random data (once per signature, cached in
            memory) instead of trusting the model.
        persist: with ``measure``, also keep the decision in a JSON file in the user's
            cache dir (:func:`cache_path`), read back by later processes.

    Returns:
        :class:`MethodChoice` with ``method`` and ``costs`` (seconds per candidate,
        predicted or, with ``measure``, measured).

    Example:
        >>> choose_method(1, 1, 1, 1, 512, 512, 3, 3, pads=(1, 1, 1, 1), opencv=True).method
        'opencv'
        >>> choose_method(1, 1, 1, 1, 512, 512, 31, 31, pads=(15, 15, 15, 15)).method
        'fft'
    """
    for name, v in (("B", B), ("Cin", Cin), ("Cout", Cout), ("groups", groups), ("H", H), ("W", W), ("kH", kH), ("kW", kW)):
        check_int(name, v, min_value=1)
    costs = predict_costs(B, Cin, Cout, groups, H, W, kH, kW, pads=tuple(pads), dtype=dtype, opencv=opencv, training=training)
    if not measure:
        return MethodChoice(min(costs, key=costs.get), costs)
    sig = _signature(B, Cin, Cout, groups, H, W, kH, kW, pads, dtype, device, opencv)
    if sig not in _MEMORY and persist:
        _MEMORY.update(_load_disk())
    if sig in _MEMORY:
        return MethodChoice(_MEMORY[sig], costs, measured=True)
    timed = _measure(B, Cin, Cout, groups, H, W, kH, kW, tuple(pads), dtype, device, opencv, costs)
    method = min(timed, key=timed.get)
    _MEMORY[sig] = method
    if persist:
        _save_disk(sig, method)
    return MethodChoice(method, timed, measured=True)


@functools.lru_cache(maxsize=4096)
def cached_choice(B, Cin, Cout, groups, H, W, kH, kW, pads, dtype, opencv, training=False) -> MethodChoice:
    """The model's choice, memoised (the hot path of ``method='auto'``)."""
    costs = predict_costs(B, Cin, Cout, groups, H, W, kH, kW, pads=pads, dtype=dtype, opencv=opencv, training=training)
    return MethodChoice(min(costs, key=costs.get), costs)


def calibrate(configs=None, *, repeat: int = 3) -> dict[str, float]:
    """Fit :data:`CONSTANTS` to timings on this machine (a minute or two).

    Times every candidate over a grid of image-filtering and CNN-layer problems
    and fits the constants by least squares on log-time. Returns the fitted
    constants (assign them to ``CONSTANTS`` to use them).
    """
    import numpy as np
    from scipy.optimize import least_squares

    if configs is None:
        configs = []
        for dt in (torch.float32, torch.float64):
            for S in (128, 512):
                for k in (3, 5, 7, 11, 15, 21, 31):
                    configs.append((1, 1, 1, 1, S, S, k, k, (k // 2,) * 4, dt, True))
        for k in (3, 7, 15, 31):
            configs.append((8, 16, 16, 1, 64, 64, k, k, (k // 2,) * 4, torch.float32, False))
        for k in (3, 5):
            configs.append((32, 64, 64, 1, 32, 32, k, k, (k // 2,) * 4, torch.float32, False))
        for k in (7, 31):
            configs.append((8, 64, 64, 64, 64, 64, k, k, (k // 2,) * 4, torch.float32, False))
    samples = []
    for cfg in configs:
        *shape, pads, dt, ocv = cfg
        pred = predict_costs(*shape, pads=pads, dtype=dt, opencv=ocv)
        timed = _measure(*shape, pads, dt, "cpu", ocv, pred)
        samples += [(cfg, name, t) for name, t in timed.items() if math.isfinite(t)]
    keys = list(CONSTANTS)
    x0 = np.log([CONSTANTS[k] for k in keys])

    def resid(logc):
        c = dict(zip(keys, np.exp(logc)))
        r = []
        for (*shape, pads, dt, ocv), name, t in samples:
            p = predict_costs(*shape, pads=pads, dtype=dt, opencv=ocv, constants=c)[name]
            r.append(math.log(p) - math.log(t))
        return np.array(r + list(0.05 * (logc - x0)))  # mild pull toward the defaults

    fit = least_squares(resid, x0)
    return {k: float(v) for k, v in zip(keys, np.exp(fit.x))}
