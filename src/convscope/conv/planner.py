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

import torch

from .._checks import check_int, check_option
from . import calibration, select, wisdom
from .problem import ConvProblem
from .select import CANDIDATES, MethodChoice, stored_constants

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
            cache dir (:func:`convscope.conv.wisdom.cache_path`), read back by later processes. An
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
    return PLANNER.choose(p, measure=measure, persist=persist)
