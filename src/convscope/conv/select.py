"""Choosing the method: predict with a cost model, measure only when the prediction is unsure.

Candidates for a stride-1 valid correlation of an implicitly padded input:

* ``direct``: ``torch.nn.functional.conv2d`` (oneDNN on CPU).
* ``opencv``: ``cv2.filter2D`` per plane; only for single-kernel image filtering
  on CPU without autograd (see :mod:`convscope.conv.spatial`).
* ``fft``: :func:`convscope.conv.spectral.fft_correlate`.
* ``overlap_add``: :func:`convscope.conv.spectral.oa_correlate_valid`.

The shape follows SciPy's ``choose_conv_method`` -> ``_fftconv_faster`` ->
``_conv_ops``: :func:`choose` (the choice) asks :func:`predict_costs` (the
model: seconds from constants) which reads :func:`conv_ops` (operation counts),
each passing one :class:`~convscope.conv.problem.ConvProblem`.

The model encodes the traps of issue 2 instead of guessing:

* scipy's ``choose_conv_method`` picks FFT even for 3x3 kernels on 512² images,
  where OpenCV is ~50x faster: here the OpenCV and direct costs scale with
  ``k²`` and the FFT cost has a fixed floor, so small kernels go spatial;
* torch's oneDNN path on one channel with a 31x31 kernel is ~200x slower than
  the best: single-channel/depthwise MACs cost more than dense ones, and float64
  falls back to an im2col path that is 5x slower again once its buffer leaves
  the cache;
* overlap-add only wins in a narrow band (large images, kernels small relative to
  them); its cost carries the block overhead, so it is chosen only there.

**Constants.** The built-in :data:`CONSTANTS` were fitted on one 2-core VM.
``convscope calibrate`` (:func:`calibrate`) fits them on this machine and stores
them under a fingerprint (CPU model, threads, library versions, device; see
:mod:`convscope.conv.wisdom`); ``auto`` uses stored constants when the
fingerprint matches the running process, the built-in ones otherwise.

**Measuring when unsure.** When the two cheapest candidates are predicted within
2x of each other, ``auto`` times both once on random data of the call's shapes
and keeps the winner for the process (like FFTW's planner or
``cudnn.benchmark``, but only where the model cannot tell). The first call of
such a shape is therefore slower. ``CONVSCOPE_MEASURE=0`` turns it off (the
model decides alone); ``choose_method(..., measure=...)`` controls it per call,
and ``persist=True`` keeps measured decisions in a JSON file in the user's
cache directory (written atomically; an unwritable directory is warned about
once and the choice kept in memory).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import torch

from .._checks import check_int, check_option
from . import wisdom
from .problem import ConvProblem
from .spatial import opencv_uses_dft
from .spectral import fast_len, oa_block

__all__ = [
    "CONSTANTS",
    "PLANNER",
    "MethodChoice",
    "Planner",
    "calibrate",
    "cache_path",
    "choose",
    "choose_method",
    "constants_for",
    "conv_ops",
    "measuring_enabled",
    "predict_costs",
    "reset",
]

CANDIDATES = ("direct", "opencv", "fft", "overlap_add")
UNSURE_RATIO = 2.0  # measure when the runner-up is predicted within this factor of the best
cache_path = wisdom.cache_path

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
    "filter_path": 3.0e-05,  # image filtering through torch (tensor round trip) instead of numpy -> OpenCV
}


@dataclass(frozen=True)
class MethodChoice:
    """The chosen method and the predicted (or measured) seconds of each candidate."""

    method: str
    costs: dict[str, float] = field(default_factory=dict)
    measured: bool = False


# --------------------------------------------------------------------------------------
# the planner: every cache of method='auto', in one object


class Planner:
    """What ``method='auto'`` keeps for the process: one object, one :meth:`reset`.

    Attributes:
        constants: ``(threads, device) -> (constants, origin)``, read from disk once.
        measured: problem signature -> measured method (this process, and from disk).
        decided: :class:`ConvProblem` -> :class:`MethodChoice`, the hot path of ``auto``.
        opencv_plans: the numpy image-filtering fast path of :mod:`convscope.conv.api`,
            ``(shapes, dtypes, mode, boundary, flip, threads) -> plan`` (filled there).

    No lock, as before this object existed: each cache is a dict read and written
    under the GIL, and a race between two threads at worst computes one entry twice.
    :meth:`reset` clears the dicts in place.
    """

    def __init__(self) -> None:
        self.constants: dict[tuple[int, str], tuple[dict[str, float], str]] = {}
        self.measured: dict[str, str] = {}
        self.decided: dict[ConvProblem, MethodChoice] = {}
        self.opencv_plans: dict[tuple, object] = {}

    def reset(self) -> None:
        """Forget constants read from disk and every decision (after a calibration)."""
        self.constants.clear()
        self.measured.clear()
        self.decided.clear()
        self.opencv_plans.clear()

    def constants_for(self, threads: int, device: str = "cpu") -> tuple[dict[str, float], str]:
        """The constants ``auto`` uses for this thread count and device, and where they came from.

        Stored (calibrated) constants when their fingerprint matches this process,
        else the built-in :data:`CONSTANTS`. Read from disk once per process.
        """
        key = (threads, device)
        hit = self.constants.get(key)
        if hit is None:
            stored = wisdom.load_constants(threads, device)
            if stored is None:
                hit = (CONSTANTS, "built-in (no calibration stored for this machine's fingerprint)")
            else:
                hit = ({**CONSTANTS, **{k: v for k, v in stored[0].items() if k in CONSTANTS}}, stored[1])
            self.constants[key] = hit
        return hit


PLANNER = Planner()  # the process's planner; ``auto`` and the functions below use it
constants_for = PLANNER.constants_for
reset = PLANNER.reset


# --------------------------------------------------------------------------------------
# op counts -> model -> choice


def _nlogn(n: int) -> float:
    return n * math.log2(max(n, 2))


def inner_problem(p: ConvProblem) -> ConvProblem:
    """The stride-1 undilated correlation that the spectral paths actually run for ``p``.

    Dilation becomes a bigger, sparse kernel; stride becomes polyphase channels
    (``conv2d``); a transposed problem becomes its sub-pixel form, one correlation
    with ``Cout*s*s`` phase outputs (``conv_transpose2d``).
    """
    if p.plain:
        return p
    kdH, kdW = p.dilation[0] * (p.kH - 1) + 1, p.dilation[1] * (p.kW - 1) + 1
    sH, sW = p.stride
    common = dict(dtype=p.dtype, device=p.device, threads=p.threads, training=p.training)
    if p.transposed:
        MH, MW = -(-kdH // sH), -(-kdW // sW)
        return ConvProblem(p.B, p.Cin, p.Cout * sH * sW, p.groups, p.H, p.W, MH, MW, pads=(MH - 1, MH - 1, MW - 1, MW - 1), **common)
    if p.stride == (1, 1):
        return ConvProblem(p.B, p.Cin, p.Cout, p.groups, p.H, p.W, kdH, kdW, pads=p.pads, **common)
    Hp, Wp = p.H + p.pads[0] + p.pads[1], p.W + p.pads[2] + p.pads[3]
    return ConvProblem(
        p.B, p.Cin * sH * sW, p.Cout, p.groups, -(-Hp // sH), -(-Wp // sW), -(-kdH // sH), -(-kdW // sW), **common
    )  # fmt: skip


def conv_ops(p: ConvProblem) -> dict[str, float]:
    """Operation counts of each candidate for a plain (stride-1, undilated) problem.

    ``macs`` multiply-adds of a direct correlation; ``ocv_*`` OpenCV's work per plane;
    ``fft_*`` / ``oa_*``: transforms (count and ``N log2 N`` points), complex
    multiply-adds of the channel mixing and values moved into its GEMM layout.
    """
    pt, pb, pl, pr = p.pads
    Hp, Wp = p.H + pt + pb, p.W + pl + pr
    oH, oW = max(Hp - p.kH + 1, 1), max(Wp - p.kW + 1, 1)
    cpg = p.Cin // p.groups
    ops = {
        "macs": p.B * p.Cout * cpg * oH * oW * p.kH * p.kW,
        "im2col_bytes": cpg * p.kH * p.kW * oH * oW * 8,
        "ocv_planes": p.B * p.Cin,
        "ocv_macs": oH * oW * p.kH * p.kW,
        "ocv_dft": _nlogn(fast_len(Hp) * fast_len(Wp)),
    }

    def spectral(prefix: str, nblocks: int, LH: int, LW: int) -> None:
        planes = nblocks * p.B * (p.Cin + p.Cout) + p.Cout * cpg
        nfr = LH * (LW // 2 + 1)
        ops[prefix + "planes"] = planes
        ops[prefix + "points"] = planes * _nlogn(LH * LW)
        ops[prefix + "mix"] = nblocks * p.B * p.Cout * cpg * nfr
        ops[prefix + "copy"] = planes * nfr

    LH = fast_len(max(p.H + pt, oH + p.kH - 1 - min(pt, p.kH - 1), p.H))
    LW = fast_len(max(p.W + pl, oW + p.kW - 1 - min(pl, p.kW - 1), p.W))
    spectral("fft_", 1, LH, LW)
    blk = oa_block(p.kH, p.kW)
    tH, tW = min(blk, Hp), min(blk, Wp)
    nb = -(-Hp // tH) * -(-Wp // tW)
    ops["oa_blocks"] = nb
    spectral("oa_", nb, fast_len(tH + p.kH - 1), fast_len(tW + p.kW - 1))
    return ops


def _plain_costs(p: ConvProblem, c: dict[str, float]) -> dict[str, float]:
    ops = conv_ops(p)
    f64 = p.dtype == torch.float64
    cpg = p.Cin // p.groups
    costs: dict[str, float] = {}

    # torch direct
    if cpg > 1:
        per_mac = c["direct_mac"] * (1 + c["direct_chan"] / cpg)
    elif p.Cin == 1:
        per_mac = c["direct_mac_dw"]
    else:
        per_mac = c["direct_mac_dwc"] if max(p.kH, p.kW) <= 13 else c["direct_mac_dwc_big"]
    f64_factor = 1.0
    if f64:
        f64_factor = c["direct_f64_slow"] if ops["im2col_bytes"] > 32e6 else c["direct_f64"]
    costs["direct"] = c["direct_call"] + ops["macs"] * per_mac * f64_factor
    if p.training:
        bwd = ops["macs"] * c["direct_bwd_dw_mac"] if cpg == 1 else ops["macs"] * per_mac * c["direct_bwd"]
        costs["direct"] += bwd * f64_factor

    # OpenCV filter2D, plane by plane
    if p.opencv:
        if opencv_uses_dft(p.kH, p.kW, p.dtype):
            plane = c["opencv_dft"] * ops["ocv_dft"]
        else:
            plane = c["opencv_mac"] * ops["ocv_macs"] * (c["opencv_f64"] if f64 else 1.0)
        costs["opencv"] = ops["ocv_planes"] * (c["opencv_call"] + plane)

    # FFT and overlap-add: transforms, channel mixing (none when elementwise), block overhead
    dt = c["fft_f64"] if f64 else 1.0
    elementwise = cpg == 1 and (p.Cin == 1 or p.groups == p.Cin)
    for name, pre in (("fft", "fft_"), ("overlap_add", "oa_")):
        cost = ops[pre + "planes"] * c["fft_plane"] + ops[pre + "points"] * c["fft_point"]
        if not elementwise:
            cost += c["fft_mix"] * ops[pre + "mix"] + c["fft_copy"] * ops[pre + "copy"]
        costs[name] = c["fft_call"] + dt * cost
    costs["overlap_add"] += c["oa_block"] * ops["oa_blocks"]
    if p.training:
        costs["fft"] *= 1 + c["fft_bwd"]
        costs["overlap_add"] *= 1 + c["fft_bwd"]
    if p.opencv:  # image filtering: OpenCV runs on the numpy array, the others round-trip through torch
        for name in ("direct", "fft", "overlap_add"):
            costs[name] += c["filter_path"]
    return costs


def predict_costs(p: ConvProblem, constants: dict[str, float] | None = None) -> dict[str, float]:
    """Predicted seconds of each candidate for ``p`` (the model).

    Strided, dilated and transposed problems are costed as what runs: the spectral
    paths on :func:`inner_problem`, torch's own kernel as a direct correlation with
    the true taps (torch skips the dilation holes and, transposed, the inserted zeros).
    """
    c = constants_for(p.threads, p.device)[0] if constants is None else constants
    if p.plain:
        return _plain_costs(p, c)
    costs = _plain_costs(inner_problem(p), c)
    costs.pop("opencv", None)
    kdH, kdW = p.dilation[0] * (p.kH - 1) + 1, p.dilation[1] * (p.kW - 1) + 1
    if p.transposed:  # torch's kernel does the multiply-adds of a 'same' conv of the input
        same = ((kdH - 1) // 2, kdH // 2, (kdW - 1) // 2, kdW // 2)
        dense = ConvProblem(p.B, p.Cin, p.Cout, p.groups, p.H, p.W, kdH, kdW, pads=same, dtype=p.dtype, training=p.training)
        costs["direct"] = _plain_costs(dense, c)["direct"]
    else:
        costs["direct"] *= (p.kH * p.kW) / (kdH * kdW)
    return costs


# --------------------------------------------------------------------------------------
# measurement

def measuring_enabled() -> bool:
    """False when ``CONVSCOPE_MEASURE=0`` (the model alone decides)."""
    return os.environ.get("CONVSCOPE_MEASURE", "1").strip().lower() not in ("0", "false", "no", "off")


def _run_candidate(name: str, x: torch.Tensor, w: torch.Tensor, p: ConvProblem):
    from .spatial import direct_correlate, opencv_correlate
    from .spectral import fft_correlate, oa_correlate_valid

    if name == "opencv":  # x, w: numpy planes (N, H, W) and kernel (kH, kW)
        return opencv_correlate(x, w, p.pads)
    if name == "direct":
        return direct_correlate(x, w, p.groups, p.pads)
    if name == "fft":
        return fft_correlate(x, w, p.groups, p.pads)
    if name == "overlap_add":
        import torch.nn.functional as F

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


def _measure(p: ConvProblem, predicted: dict[str, float], names=None, *, repeat: int = 3) -> dict[str, float]:
    """Seconds of each candidate in ``names`` (default: all not hopeless by the model) on random data.

    Image filtering (``p.opencv``) runs OpenCV on the numpy planes and the others
    through torch, so those carry the model's ``filter_path`` round trip as well.
    """
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(p.B, p.Cin, p.H, p.W, generator=g, dtype=p.dtype).to(p.device)
    w = torch.rand(p.Cout, p.Cin // p.groups, p.kH, p.kW, generator=g, dtype=p.dtype).to(p.device)
    sync = torch.cuda.synchronize if p.device == "cuda" else (lambda: None)
    best = min(predicted.values())
    if p.opencv and p.device == "cpu":
        planes, kernel = x.reshape(p.B * p.Cin, p.H, p.W).numpy(), w[0, 0].contiguous().numpy()
        path = constants_for(p.threads, p.device)[0]["filter_path"]
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
                out[name] += path
    return out


def _unsure(costs: dict[str, float]) -> tuple[str, str] | None:
    """The two cheapest candidates when predicted within :data:`UNSURE_RATIO`, else None."""
    if len(costs) < 2:
        return None
    a, b = sorted(costs, key=costs.get)[:2]
    return (a, b) if costs[b] <= UNSURE_RATIO * costs[a] else None


def choose(p: ConvProblem, *, measure: bool | str = "unsure", persist: bool = False) -> MethodChoice:
    """The choice for ``p``: the model's, or measured.

    ``measure``: ``False`` trusts the model; ``True`` times every candidate that
    the model does not call hopeless; ``"unsure"`` times the two cheapest only when
    they are predicted within 2x (plain inference problems; a backward pass or a
    strided/transposed layer is left to the model). Measured decisions are kept for
    the process, and with ``persist`` in :func:`cache_path`.
    """
    costs = predict_costs(p)
    model = MethodChoice(min(costs, key=costs.get), costs)
    if not measure:
        return model
    memory = PLANNER.measured
    sig = p.signature()
    if sig not in memory and persist:
        memory.update(wisdom.load_choices(CANDIDATES))
    if sig in memory:
        return MethodChoice(memory[sig], costs, measured=True)
    names = None
    if measure == "unsure":
        pair = _unsure(costs) if p.plain and not p.training else None
        if pair is None:
            return model
        names = pair
    timed = _measure(p, costs, names)
    method = min(timed, key=timed.get)
    memory[sig] = method
    if persist:
        wisdom.save_choice(sig, method, CANDIDATES)
    return MethodChoice(method, timed, measured=True)


def decide(p: ConvProblem) -> MethodChoice:
    """``method='auto'``: :func:`choose` with measuring when unsure (unless
    ``CONVSCOPE_MEASURE=0``), remembered per problem for the process."""
    decided = PLANNER.decided
    hit = decided.get(p)
    if hit is None:
        hit = choose(p, measure="unsure" if measuring_enabled() else False)
        if len(decided) > 4096:
            decided.clear()
        decided[p] = hit
    return hit


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
    threads: int | None = None,
    measure: bool | str = False,
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
        threads: torch's thread count the call will run with (default: the current one);
            part of the signature, since the timings depend on it.
        measure: ``False`` (default) trusts the cost model; ``True`` times the
            candidates on random data (once per signature, cached in memory);
            ``"unsure"`` times the two cheapest only when they are predicted within
            2x, which is what ``method='auto'`` does.
        persist: with ``measure``, also keep the decision in a JSON file in the user's
            cache dir (:func:`cache_path`), read back by later processes. An
            unwritable cache directory gives one warning; the choice is kept in memory.

    Returns:
        :class:`MethodChoice` with ``method`` and ``costs`` (seconds per candidate,
        predicted or, when measured, timed).

    See Also:
        convolve2d: image filtering with ``method='auto'``, which asks this choice.
        conv2d: the CNN layer, same choice (strides as polyphase channels).
        filter_image: :func:`convscope.fourier.filter_image`, filtering by a mask in frequency.
        convolution_theorem: :func:`convscope.fourier.convolution_theorem`, why the FFT path is exact.

    Example:
        >>> choose_method(1, 1, 1, 1, 512, 512, 3, 3, pads=(1, 1, 1, 1), opencv=True).method
        'opencv'
        >>> choose_method(1, 1, 1, 1, 512, 512, 31, 31, pads=(15, 15, 15, 15)).method
        'fft'
    """
    for name, v in (("B", B), ("Cin", Cin), ("Cout", Cout), ("groups", groups), ("H", H), ("W", W), ("kH", kH), ("kW", kW)):
        check_int(name, v, min_value=1)
    if threads is None:
        threads = torch.get_num_threads()
    check_int("threads", threads, min_value=1)
    if not isinstance(measure, bool):
        measure = check_option("measure", measure, ("unsure",))
    p = ConvProblem(
        B, Cin, Cout, groups, H, W, kH, kW, pads=tuple(int(v) for v in pads), dtype=dtype,
        device=torch.device(device).type, threads=int(threads), opencv=bool(opencv), training=bool(training),
    )  # fmt: skip
    return choose(p, measure=measure, persist=persist)


# --------------------------------------------------------------------------------------
# calibration


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
    import numpy as np
    from scipy.optimize import least_squares

    problems = [_as_problem(c) for c in (calibration_grid(quick) if configs is None else configs)]
    budget = (10.0 if quick else 45.0) if budget is None else budget
    t_start = time.perf_counter()
    samples = []
    for i, p in enumerate(problems):
        if samples and time.perf_counter() - t_start > 0.85 * budget:
            break
        pred = predict_costs(p, CONSTANTS)
        timed = _measure(p, pred, repeat=2 if quick else 3)
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
