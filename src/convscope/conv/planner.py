"""The planner: ``method='auto'``'s choice, and everything it remembers for the process.

One :class:`Planner` (:data:`PLANNER`, the process's) owns every cache of the
choice: the constants in force per thread count and device, the measured
choices, the decision per problem, and the numpy image-filtering fast path's
plans (filled by :mod:`convscope.conv.api`). :meth:`Planner.reset` forgets them
all, after a calibration for instance.

The choice asks the cost model (:func:`convscope.conv.select.predict_costs`)
with the constants in force, and the timing harness
(:func:`convscope.conv.calibration.measure`) when the model is unsure.

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

import os

import numpy as np
import torch

from .._arrays import result_dtype
from .._checks import check_int, check_option, fail
from . import calibration, select, wisdom
from .padding import BOUNDARIES, MODES, PADDING_MODES, mode_pads
from .problem import ConvProblem
from .select import CANDIDATES, MethodChoice, stored_constants
from .spatial import opencv_eligible

__all__ = [
    "PLANNER",
    "UNSURE_RATIO",
    "Planner",
    "choose",
    "choose_method",
    "constants_for",
    "decide",
    "measuring_enabled",
    "predict_costs",
    "reset",
]

UNSURE_RATIO = 2.0  # measure when the runner-up is predicted within this factor of the best
_FLOATS = (torch.float32, torch.float64)


def measuring_enabled() -> bool:
    """False when ``CONVSCOPE_MEASURE=0`` (the model alone decides)."""
    return os.environ.get("CONVSCOPE_MEASURE", "1").strip().lower() not in ("0", "false", "no", "off")


def _unsure(costs: dict[str, float]) -> tuple[str, str] | None:
    """The two cheapest candidates when predicted within :data:`UNSURE_RATIO`, else None."""
    if len(costs) < 2:
        return None
    a, b = sorted(costs, key=costs.get)[:2]
    return (a, b) if costs[b] <= UNSURE_RATIO * costs[a] else None


class Planner:
    """What ``method='auto'`` keeps for the process, and the choice that fills it.

    Attributes:
        constants: ``(threads, device) -> (constants, origin)``, read from disk once.
        measured: problem signature -> measured method (this process, and from disk).
        decided: :class:`ConvProblem` -> :class:`MethodChoice`, the hot path of ``auto``.
        opencv_plans: the numpy image-filtering fast path of :mod:`convscope.conv.api`,
            ``(shapes, dtypes, mode, boundary, flip, threads) -> FastPlan | None`` (filled there).

    No lock: each cache is a dict read and written under the GIL, and a race
    between two threads at worst computes one entry twice. :meth:`reset` clears
    the dicts in place.
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

        :func:`~convscope.conv.select.stored_constants`, read from disk once per process.
        """
        key = (threads, device)
        hit = self.constants.get(key)
        if hit is None:
            hit = self.constants[key] = stored_constants(threads, device)
        return hit

    def predict_costs(self, p: ConvProblem) -> dict[str, float]:
        """The model's seconds per candidate for ``p`` with the constants in force."""
        return select.predict_costs(p, self.constants_for(p.threads, p.device)[0])

    def choose(self, p: ConvProblem, *, measure: bool | str = "unsure", persist: bool = False) -> MethodChoice:
        """The choice for ``p``: the model's, or measured.

        ``measure``: ``False`` trusts the model; ``True`` times every candidate that
        the model does not call hopeless; ``"unsure"`` times the two cheapest only when
        they are predicted within 2x (plain inference problems; a backward pass or a
        strided/transposed layer is left to the model). Measured decisions are kept for
        the process, and with ``persist`` in :func:`convscope.conv.wisdom.cache_path`.
        """
        costs = self.predict_costs(p)
        model = MethodChoice(min(costs, key=costs.get), costs)
        if not measure:
            return model
        memory = self.measured
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
        path = self.constants_for(p.threads, p.device)[0]["filter_path"]
        timed = calibration.measure(p, costs, names, filter_path=path)
        method = min(timed, key=timed.get)
        memory[sig] = method
        if persist:
            wisdom.save_choice(sig, method, CANDIDATES)
        return MethodChoice(method, timed, measured=True)

    def decide(self, p: ConvProblem) -> MethodChoice:
        """``method='auto'``: :meth:`choose` with measuring when unsure (unless
        ``CONVSCOPE_MEASURE=0``), remembered per problem for the process."""
        decided = self.decided
        hit = decided.get(p)
        if hit is None:
            hit = self.choose(p, measure="unsure" if measuring_enabled() else False)
            if len(decided) > 4096:
                decided.clear()
            decided[p] = hit
        return hit


PLANNER = Planner()  # the process's planner: method='auto' and the functions below use it
reset = PLANNER.reset
constants_for = PLANNER.constants_for
choose = PLANNER.choose
decide = PLANNER.decide


def predict_costs(p: ConvProblem, constants: dict[str, float] | None = None) -> dict[str, float]:
    """Predicted seconds of each candidate for ``p`` (:func:`convscope.conv.select.predict_costs`),
    with ``constants`` or, by default, the constants in force (:meth:`Planner.constants_for`)."""
    return select.predict_costs(p, PLANNER.constants_for(p.threads, p.device)[0] if constants is None else constants)


def _described(arg: str, v) -> tuple[tuple[int, ...], torch.dtype | None, str | None, bool]:
    """``(shape, dtype, device type, requires_grad)`` of an array, a tensor or a shape tuple.

    A shape gives no dtype or device (None); numpy and torch dtypes are mapped as
    the engine maps them (float32/float64 kept, the rest computed in float32).
    """
    if isinstance(v, torch.Tensor):
        if v.dtype.is_complex:
            raise fail(arg, "real-valued", v, TypeError)
        shape, dtype, device, grad = tuple(v.shape), result_dtype(v.dtype), v.device.type, v.requires_grad
    elif isinstance(v, np.ndarray):
        if v.dtype.kind not in "biuf":
            raise fail(arg, "a real numeric array", v, TypeError)
        shape, dtype, device, grad = v.shape, torch.float64 if v.dtype == np.float64 else torch.float32, "cpu", False
    elif isinstance(v, tuple | list) and all(isinstance(d, int | np.integer) and not isinstance(d, bool) for d in v):
        shape, dtype, device, grad = tuple(int(d) for d in v), None, None, False
    else:
        raise fail(arg, "an array, a tensor or a shape (a tuple of ints)", v, TypeError)
    if not shape or min(shape) < 1:
        raise fail(arg, "non-empty (every size >= 1)", v)
    return shape, dtype, device, grad


def _as_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype in _FLOATS:
            return dtype
    else:
        try:
            np_dtype = np.dtype(dtype)
        except TypeError:
            np_dtype = None
        if np_dtype == np.float32 or np_dtype == np.float64:
            return torch.float32 if np_dtype == np.float32 else torch.float64
    raise fail("dtype", "float32 or float64 (a torch or numpy dtype)", dtype)


def _as_device(device) -> str:
    try:
        return torch.device(device).type
    except (RuntimeError, TypeError) as e:
        raise fail("device", "a torch device such as 'cpu' or 'cuda'", device) from e


def choose_method(
    input,
    weight,
    *,
    mode: str = "same",
    boundary: str = "zeros",
    groups: int = 1,
    dtype=None,
    device=None,
    training: bool | None = None,
    threads: int | None = None,
    measure: bool | str = False,
    persist: bool = False,
) -> MethodChoice:
    """Pick the fastest method for a convolution, like ``scipy.signal.choose_conv_method``.

    The problem is the one ``method='auto'`` would be asked about by the call
    that ``weight``'s shape names:

    * ``(kH, kW)``: :func:`~convscope.conv.convolve2d` with one kernel for every plane of ``input``
      ((H, W), (C, H, W) or (B, C, H, W)); OpenCV's filter2D is a candidate;
    * ``(C, kH, kW)``: :func:`~convscope.conv.convolve2d` with one kernel per channel (depthwise);
    * ``(C_out, C_in/groups, kH, kW)``: :func:`~convscope.conv.conv2d`, ``input`` (B, C_in, H, W) or
      (C_in, H, W), stride 1; ``mode='valid'`` is its ``padding=0``, ``'same'`` its
      ``padding='same'``, ``'full'`` its ``padding=k-1``, and ``boundary`` its
      ``padding_mode``.

    Args:
        input, weight: numpy arrays or torch tensors (only their shape, dtype, device
            and ``requires_grad`` are read), or shapes as tuples of ints.
        mode: ``full``, ``same`` (centred as convolve2d for a 2-D or 3-D weight, as
            conv2d's ``padding='same'`` for a 4-D one; they differ only for even
            kernel sizes) or ``valid``.
        boundary: ``zeros``, ``reflect``, ``symmetric``, ``replicate`` or ``circular``
            (not ``symmetric`` for a 4-D weight: conv2d has no such padding_mode).
        groups: conv2d's groups (a 4-D weight only).
        dtype, device: of the data; default: ``input``'s when it is an array, else
            float32 on ``"cpu"``.
        training: a backward pass will follow (the model adds it, OpenCV is out;
            measurement times forward only). Default: grad mode is on and
            ``input`` or ``weight`` is a tensor that requires grad.
        threads: torch's thread count the call will run with (default: the current one);
            part of the signature, since the timings depend on it.
        measure: ``False`` (default) trusts the cost model; ``True`` times the
            candidates on random data (once per signature, cached in memory);
            ``"unsure"`` times the two cheapest only when they are predicted within
            2x, which is what ``method='auto'`` does.
        persist: with ``measure``, also keep the decision in a JSON file in the user's
            cache dir (:func:`convscope.conv.wisdom.cache_path`), read back by later
            processes. An unwritable cache directory gives one warning; the choice is
            kept in memory.

    Returns:
        :class:`MethodChoice` with ``method`` and ``costs`` (seconds per candidate,
        predicted or, when measured, timed).

    See Also:
        convolve2d: image filtering with ``method='auto'``, which asks this choice.
        conv2d: the CNN layer, same choice (strides as polyphase channels).
        filter_image: :func:`convscope.fourier.filter_image`, filtering by a mask in frequency.
        convolution_theorem: :func:`convscope.fourier.convolution_theorem`, why the FFT path is exact.

    Example:
        >>> import numpy as np
        >>> choose_method(np.zeros((512, 512), np.float32), np.ones((3, 3))).method
        'opencv'
        >>> choose_method((512, 512), (31, 31)).method
        'fft'
        >>> choose_method((8, 16, 64, 64), (16, 16, 3, 3), mode="same").method
        'direct'
    """
    in_shape, in_dtype, in_device, in_grad = _described("input", input)
    w_shape, _, _, w_grad = _described("weight", weight)
    mode = check_option("mode", mode, MODES)
    boundary = check_option("boundary", boundary, BOUNDARIES)
    groups = check_int("groups", groups, min_value=1)
    dtype = (in_dtype or torch.float32) if dtype is None else _as_dtype(dtype)
    device = (in_device or "cpu") if device is None else _as_device(device)
    training = (torch.is_grad_enabled() and (in_grad or w_grad)) if training is None else bool(training)
    threads = check_int("threads", torch.get_num_threads() if threads is None else threads, min_value=1)
    if not isinstance(measure, bool):
        measure = check_option("measure", measure, ("unsure",))
    common = dict(dtype=dtype, device=device, threads=threads, training=training)

    if len(w_shape) not in (2, 3, 4):
        raise fail("weight", "of shape (kH, kW), (C, kH, kW) or (C_out, C_in/groups, kH, kW)", weight)
    kH, kW = w_shape[-2:]
    if len(w_shape) == 4:  # conv2d
        if len(in_shape) not in (3, 4):
            raise fail("input", "of shape (B, C_in, H, W) or (C_in, H, W) for a 4-D weight", input)
        B, (C, H, W) = (in_shape[0] if len(in_shape) == 4 else 1), in_shape[-3:]
        Cout, cpg = w_shape[:2]
        if C % groups or Cout % groups or cpg * groups != C:
            raise fail("weight", f"of shape (C_out, {C}/groups, kH, kW) with C_out divisible by groups={groups}", weight)
        if boundary not in PADDING_MODES:
            raise fail("boundary", "one of " + ", ".join(map(repr, PADDING_MODES)) + " for a 4-D weight (conv2d's padding_mode)", boundary)
        pads = mode_pads(mode, kH, kW, flip=False)  # conv2d correlates: padding='same' puts the odd row last
        if boundary != "zeros" and any(pads):  # conv2d pads explicitly, then runs a valid problem
            H, W, pads = H + pads[0] + pads[1], W + pads[2] + pads[3], (0, 0, 0, 0)
        if H + pads[0] + pads[1] < kH or W + pads[2] + pads[3] < kW:
            raise fail("input", f"at least the kernel size ({kH}, {kW}) after padding", input)
        p = ConvProblem(B, C, Cout, groups, H, W, kH, kW, pads=pads, **common)
        return PLANNER.choose(p, measure=measure, persist=persist)

    # convolve2d: the image as (B, C, H, W), one kernel for every plane or one per channel
    if len(in_shape) not in (2, 3, 4):
        raise fail("input", "of shape (H, W), (C, H, W) or (B, C, H, W)", input)
    B, C, H, W = (1,) * (4 - len(in_shape)) + in_shape
    if groups != 1:
        raise fail("groups", "1 for a 2-D or 3-D weight (image filtering sets its own)", groups)
    if len(w_shape) == 3 and w_shape[0] != C:
        raise fail("weight", f"(kH, kW) or ({C}, kH, kW) to match the input's {C} channels", weight)
    if mode == "valid" and (kH > H or kW > W):
        if len(w_shape) == 2 and kH >= H and kW >= W and B * C == 1:  # scipy swaps the inputs
            return PLANNER.choose(ConvProblem(1, 1, 1, 1, kH, kW, H, W, **common), measure=measure, persist=persist)
        raise fail("weight", f"no larger than the input ({H}, {W}) in 'valid' mode", weight)
    pads = mode_pads(mode, kH, kW, flip=True)
    if len(w_shape) == 3:
        p = ConvProblem(B, C, C, C, H, W, kH, kW, pads=pads, **common)
    else:
        ocv = not training and opencv_eligible(device, dtype, H, W, pads, boundary)
        p = ConvProblem(B * C, 1, 1, 1, H, W, kH, kW, pads=pads, opencv=ocv, **common)
    return PLANNER.choose(p, measure=measure, persist=persist)
