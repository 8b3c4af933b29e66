"""Every argument check and its message, in one place.

All errors read ``"<arg> must be <constraint>, got <value>"`` so that a user sees
the argument's name, what is allowed and what was given. Options are
normalised once (``check_option``) and only the normalised value is used
afterwards, so ``"SAME"`` can never silently run as something else.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "ConvscopeError",
    "ArgumentError",
    "ArgumentTypeError",
    "DataError",
    "ResourceError",
    "check_option",
    "check_int",
    "check_whole",
    "check_float",
    "check_pair",
    "check_ndim",
    "check_shape",
    "check_float_dtype",
    "check_finite",
    "check_alloc",
    "memory_limit",
    "parse_bytes",
    "fail",
    "unreadable",
    "check_regular_file",
]


class ConvscopeError(Exception):
    """Base of every *expected* error: bad arguments, bad files, too-large requests.

    The CLI turns this family (and only this family) into one line and exit
    code 2. Anything else that escapes is a bug: ``internal error``, exit 1.
    """


class ArgumentError(ConvscopeError, ValueError):
    """An argument has a wrong value (also a ``ValueError``, as callers expect)."""


class ArgumentTypeError(ConvscopeError, TypeError):
    """An argument has a wrong type (also a ``TypeError``)."""


class DataError(ConvscopeError, ValueError):
    """A file or dataset is corrupt, truncated or not what it claims to be."""


class ResourceError(ConvscopeError, ValueError):
    """A request would need more memory or time than allowed (see ``memory_limit``)."""


def _fmt(value: Any) -> str:
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    return repr(value)


def fail(arg: str, constraint: str, got: Any, exc: type[Exception] = ArgumentError) -> Exception:
    """Build the standard error; ``raise fail(...)`` at the call site.

    ``exc=TypeError`` and ``exc=ValueError`` map to the family's
    :class:`ArgumentTypeError` and :class:`ArgumentError`.
    """
    exc = {TypeError: ArgumentTypeError, ValueError: ArgumentError}.get(exc, exc)
    return exc(f"{arg} must be {constraint}, got {_fmt(got)}")


def unreadable(what: str, path: Any, expected: str, e: BaseException) -> DataError:
    """The error for a file that does not parse: the file, what was expected and the kind of failure.

    Never the parser's own message: numpy's header check, gzip's magic test,
    ``float()`` and PIL quote the bytes they met, and a message must not show
    what a file holds (a server file named by a visitor, say).

    >>> str(unreadable("kernel file", "k.npy", "is not a readable .npy array", ValueError("b'root:x'")))
    'kernel file k.npy is not a readable .npy array (ValueError)'
    """
    return DataError(f"{what} {path} {expected} ({type(e).__name__})")


def check_regular_file(what: str, path: Any) -> None:
    """Refuse anything but a regular file (a named pipe, a device, a folder) before it is opened.

    Opening a FIFO for reading blocks until a writer appears, so a loader handed one would hang
    for ever; ``stat`` answers at once.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise DataError(f"{what} {path} cannot be read ({type(e).__name__})") from None
    if not stat.S_ISREG(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise DataError(f"{what} {path} must be a regular file, got {kind}")


def check_option(arg: str, value: Any, allowed: Iterable[str]) -> str:
    """Normalise a string option (case-insensitive, '-' == '_') and check it.

    >>> check_option("mode", "SAME", ("full", "same", "valid"))
    'same'
    >>> check_option("mode", "sideways", ("full", "same", "valid"))
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: mode must be one of 'full', 'same', 'valid', got 'sideways'
    """
    allowed = tuple(allowed)
    if not isinstance(value, str):
        raise fail(arg, "one of " + ", ".join(repr(a) for a in allowed), value, TypeError)
    norm = value.strip().lower().replace("-", "_")
    if norm not in allowed:
        raise fail(arg, "one of " + ", ".join(repr(a) for a in allowed), value)
    return norm


def check_int(arg: str, value: Any, *, min_value: int | None = None) -> int:
    """Check an integer (bools rejected), optionally bounded below."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        bound = f" >= {min_value}" if min_value is not None else ""
        raise fail(arg, "an integer" + bound, value, TypeError)
    value = int(value)
    if min_value is not None and value < min_value:
        raise fail(arg, f"an integer >= {min_value}", value)
    return value


def check_whole(arg: str, value: Any, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """A whole number from a control that may hand over floats: an int, or a float with no fraction.

    NaN, infinities, fractions, bools, strings, lists and ``None`` are refused
    in one line, before any ``int()`` could raise a bare error.

    >>> check_whole("stride", 2.0), check_whole("seed", np.int64(7), max_value=2**32 - 1)
    (2, 7)
    >>> check_whole("stride", float("nan"))
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: stride must be a whole number, got nan
    """
    bounds = [f">= {min_value}" if min_value is not None else "", f"<= {max_value}" if max_value is not None else ""]
    what = "a whole number" + (" " + " and ".join(b for b in bounds if b) if any(bounds) else "")
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise fail(arg, what, value)
    if isinstance(value, float | np.floating):
        if not math.isfinite(value) or not float(value).is_integer():
            raise fail(arg, what, value)
    value = int(value)
    if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
        raise fail(arg, what, value)
    return value


def check_float(
    arg: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    strict_min: bool = False,
) -> float:
    """Check a finite real number within optional bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise fail(arg, "a real number", value, TypeError)
    value = float(value)
    lo = "" if min_value is None else (f"> {min_value}" if strict_min else f">= {min_value}")
    hi = "" if max_value is None else f"<= {max_value}"
    what = "a finite number" + (" " + " and ".join(s for s in (lo, hi) if s) if (lo or hi) else "")
    if not np.isfinite(value):
        raise fail(arg, what, value)
    if min_value is not None and (value <= min_value if strict_min else value < min_value):
        raise fail(arg, what, value)
    if max_value is not None and value > max_value:
        raise fail(arg, what, value)
    return value


def check_pair(arg: str, value: Any, *, min_value: int = 0) -> tuple[int, int]:
    """An int or a pair of ints -> (a, b), as torch's ``_pair``."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (int(value), int(value))
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value)
    ):
        raise fail(arg, "an int or a pair of ints", value, TypeError)
    a, b = int(value[0]), int(value[1])
    if a < min_value or b < min_value:
        raise fail(arg, f"ints >= {min_value}", value)
    return a, b


def check_ndim(arg: str, x: Any, allowed: Sequence[int], names: str | None = None) -> int:
    """Check ``x.ndim`` is among ``allowed``; ``names`` describes the shapes."""
    nd = getattr(x, "ndim", None)
    if nd not in allowed:
        what = names or " or ".join(f"{n}-D" for n in allowed)
        raise fail(arg, f"of shape {what}", x)
    return nd


def check_shape(arg: str, x: Any, dims: Sequence[str | int]) -> None:
    """Check a shape against named dims (Kornia style).

    A string names a free dimension (``"B"``), an int pins it.
    """
    shape = tuple(getattr(x, "shape", ()))
    ok = len(shape) == len(dims) and all(
        isinstance(d, str) or shape[i] == d for i, d in enumerate(dims)
    )
    if not ok:
        raise fail(arg, "of shape (" + ", ".join(str(d) for d in dims) + ")", x)


def check_float_dtype(arg: str, x: torch.Tensor) -> None:
    if not x.dtype.is_floating_point:
        raise fail(arg, "a floating-point tensor", x, TypeError)


def check_finite(arg: str, x: torch.Tensor, why: str = "") -> None:
    if not bool(torch.isfinite(x).all()):
        msg = f"{arg} must be finite" + (f" ({why})" if why else "") + ", got a tensor containing NaN or Inf"
        raise ArgumentError(msg)


# ---------------------------------------------------------------- memory guard

MEMORY_ENV = "CONVSCOPE_MAX_MEMORY"
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912; a plain number is bytes; K/M/G/T are powers of 1024.

    >>> parse_bytes("2G"), parse_bytes("1500"), parse_bytes("1.5k")
    (2147483648, 1500, 1536)
    """
    s = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = s[-1:] if s[-1:] in _UNITS and s[-1:] else ""
    try:
        value = float(s[: len(s) - len(unit)] if unit else s)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise fail(MEMORY_ENV, "a positive number of bytes, optionally with a K, M, G or T suffix", text)
    return int(value * _UNITS[unit])


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest 8 GiB machine
        return 8 * 2**30


def memory_limit() -> int:
    """Largest single allocation built from user input, in bytes.

    A quarter of physical memory, or the environment variable
    ``CONVSCOPE_MAX_MEMORY`` (bytes, or with a K/M/G/T suffix), read on every call.
    """
    env = os.environ.get(MEMORY_ENV, "").strip()
    return parse_bytes(env) if env else _physical_memory() // 4


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"  # pragma: no cover


def check_alloc(arg: str, shape_or_nbytes: Any, dtype: Any = None, *, what: str = "") -> int:
    """Refuse, before allocating, an array built from ``arg`` that exceeds :func:`memory_limit`.

    ``shape_or_nbytes`` is a shape (ints; big Python ints never overflow here)
    with the element ``dtype`` (numpy or torch; default float64), or a byte count
    when ``dtype`` is None and it is a plain number. Returns the byte count.

    >>> check_alloc("size", (4, 4), "float32")
    64
    >>> import os; os.environ["CONVSCOPE_MAX_MEMORY"] = "1M"
    >>> check_alloc("size", (100000, 100000), "float64")
    Traceback (most recent call last):
    ...
    convscope._checks.ResourceError: size would need 74.5 GiB for an array of shape (100000, 100000) float64, above the memory limit of 1.0 MiB (set CONVSCOPE_MAX_MEMORY to change it)
    >>> del os.environ["CONVSCOPE_MAX_MEMORY"]
    """
    if isinstance(shape_or_nbytes, int | float | np.integer) and dtype is None:
        nbytes = int(shape_or_nbytes)
        desc = what
    else:
        shape = tuple(int(d) for d in shape_or_nbytes)
        if isinstance(dtype, torch.dtype):
            item = torch.empty((), dtype=dtype).element_size()
            name = str(dtype).removeprefix("torch.")
        else:
            item = np.dtype("float64" if dtype is None else dtype).itemsize
            name = str(np.dtype("float64" if dtype is None else dtype))
        nbytes = math.prod(max(d, 0) for d in shape) * item
        desc = what or f"an array of shape {shape} {name}"
    limit = memory_limit()
    if nbytes > limit:
        raise ResourceError(
            f"{arg} would need {_human(nbytes)}" + (f" for {desc}" if desc else "")
            + f", above the memory limit of {_human(limit)} (set {MEMORY_ENV} to change it)"
        )
    return nbytes
