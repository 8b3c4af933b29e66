"""The one check every signal passes: a finite real ``(N,)`` (or ``(N, C)``) float64 array."""

from __future__ import annotations

import numpy as np

from .._checks import fail

__all__ = ["as_signal"]


def as_signal(arg: str, x, *, channels: bool = True) -> np.ndarray:
    """``x`` (numpy, torch or a list) as float64, checked: non-empty, finite, ``(N,)`` or, when
    ``channels``, ``(N, C)``; the message names ``arg``.

    >>> as_signal("x", [1, 2]).dtype
    dtype('float64')
    """
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    shapes = "(N,) or (N, C) signal" if channels else "1-D signal (mix stereo to mono first)"
    if a.dtype.kind not in "biuf":
        raise fail(arg, f"a real {shapes}", a, TypeError)
    a = a.astype(np.float64)
    if a.ndim not in ((1, 2) if channels else (1,)) or a.shape[0] == 0:
        raise fail(arg, f"a non-empty {shapes}", a)
    if not np.isfinite(a).all():
        raise fail(arg, "finite", a)
    return a
