"""The cost model: predicted seconds of each method for one problem, from operation counts and constants.

Candidates for a stride-1 valid correlation of an implicitly padded input:

* ``direct``: ``torch.nn.functional.conv2d`` (oneDNN on CPU).
* ``opencv``: ``cv2.filter2D`` per plane; only for single-kernel image filtering
  on CPU without autograd (see :mod:`convscope.conv.spatial`).
* ``fft``: :func:`convscope.conv.spectral.fft_correlate`.
* ``overlap_add``: :func:`convscope.conv.spectral.oa_correlate_valid`.

The shape follows SciPy's ``choose_conv_method`` -> ``_fftconv_faster`` ->
``_conv_ops``: the planner's choice (:mod:`convscope.conv.planner`) asks
:func:`predict_costs` (the model: seconds from constants) which reads
:func:`conv_ops` (operation counts), each passing one
:class:`~convscope.conv.problem.ConvProblem`. This module keeps no state.

The model encodes three traps of the method choice instead of guessing (the
figures: benchmarks/RESULTS.md, "Convolution engine (benchmarks/conv_bench.py)"):

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
``convscope calibrate`` (:func:`convscope.conv.calibration.calibrate`) fits them
on this machine and stores them under a fingerprint (CPU model, threads, library
versions, device; see :mod:`convscope.conv.wisdom`); :func:`stored_constants`
reads them back, and ``auto`` uses them when the fingerprint matches the running
process, the built-in ones otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from . import wisdom
from .problem import ConvProblem
from .spatial import opencv_uses_dft
from .spectral import fast_len, oa_block

__all__ = [
    "CANDIDATES",
    "CONSTANTS",
    "MethodChoice",
    "conv_ops",
    "inner_problem",
    "predict_costs",
    "stored_constants",
]

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
    "filter_path": 3.0e-05,  # image filtering through torch (tensor round trip) instead of numpy -> OpenCV
}


@dataclass(frozen=True)
class MethodChoice:
    """The chosen method and the predicted (or measured) seconds of each candidate."""

    method: str
    costs: dict[str, float] = field(default_factory=dict)
    measured: bool = False


def stored_constants(threads: int, device: str = "cpu") -> tuple[dict[str, float], str]:
    """The constants for this thread count and device, and where they came from.

    Stored (calibrated) constants, over the built-in ones, when their fingerprint
    matches this process, else the built-in :data:`CONSTANTS` themselves. Reads
    the disk on every call; the planner keeps the answer for the process
    (:meth:`convscope.conv.planner.Planner.constants_for`).
    """
    stored = wisdom.load_constants(threads, device)
    if stored is None:
        return CONSTANTS, "built-in (no calibration stored for this machine's fingerprint)"
    return {**CONSTANTS, **{k: v for k, v in stored[0].items() if k in CONSTANTS}}, stored[1]


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


def predict_costs(p: ConvProblem, constants: dict[str, float]) -> dict[str, float]:
    """Predicted seconds of each candidate for ``p`` (the model) with these ``constants``.

    Strided, dilated and transposed problems are costed as what runs: the spectral
    paths on :func:`inner_problem`, torch's own kernel as a direct correlation with
    the true taps (torch skips the dilation holes and, transposed, the inserted zeros).
    :func:`convscope.conv.predict_costs` is this with the constants in force.
    """
    c = constants
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
