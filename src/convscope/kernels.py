"""Named convolution kernels and parsing of custom ones (the engine layer, beside :mod:`convscope.conv`).

``laplacian8`` is exactly the lecture notes' kernel, 8 in the centre and -1 around it:

>>> get_kernel("laplacian8")
tensor([[-1., -1., -1.],
        [-1.,  8., -1.],
        [-1., -1., -1.]], dtype=torch.float64)

Kernels are float64 by default (exact values); pass ``dtype=`` to cast, or let
the convolution functions cast to the image's dtype.
"""

from __future__ import annotations

import ast
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ._checks import (
    DataError,
    check_alloc,
    check_float,
    check_int,
    check_option,
    fail,
    unreadable,
)

__all__ = ["get_kernel", "list_kernels", "parse_kernel", "kernel_from_spec", "KERNELS", "MAX_KERNEL_SIZE", "MAX_SIGMA"]

# A parametric kernel is at most this many pixels on a side, and sigma at most MAX_SIGMA: beyond them
# the request is a typo (gaussian::1e308 once asked for a 6e308-pixel kernel and overflowed).
MAX_KERNEL_SIZE = 4097
MAX_SIGMA = 1e4


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def _odd_size(size, default: int) -> int:
    if size is None:
        return default
    size = check_int("size", size, min_value=1)
    if size > MAX_KERNEL_SIZE:
        raise fail("size", f"an integer in [1, {MAX_KERNEL_SIZE}]", size)
    check_alloc("size", (size, size), "float64")
    return size


def _sigma(sigma, default: float) -> float:
    if sigma is None:
        return default
    sigma = check_float("sigma", sigma, min_value=0.0, strict_min=True)
    if sigma > MAX_SIGMA:
        raise fail("sigma", f"<= {MAX_SIGMA:g}", sigma)
    return sigma


def _default_size(sigma: float) -> int:
    """``2 ceil(3 sigma) + 1``, refused (naming sigma) when it passes :data:`MAX_KERNEL_SIZE`."""
    size = 2 * math.ceil(3 * sigma) + 1
    if size > MAX_KERNEL_SIZE:
        top = (MAX_KERNEL_SIZE - 1) / 6
        raise fail("sigma", f"<= {top:g} without an explicit size (the kernel side 2*ceil(3*sigma)+1 "
                            f"must stay <= {MAX_KERNEL_SIZE})", sigma)
    return size


def _grid(size: int) -> torch.Tensor:
    return torch.arange(size, dtype=torch.float64) - (size - 1) / 2


def _gaussian(size=None, sigma=None) -> torch.Tensor:
    if size is not None:
        size = _odd_size(size, 0)
    if sigma is None and size is not None:
        # OpenCV's rule for sigma from size, so cv2.GaussianBlur(ksize, 0) matches.
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    sigma = _sigma(sigma, 1.0)
    size = size if size is not None else _default_size(sigma)
    g = torch.exp(-0.5 * (_grid(size) / sigma) ** 2)
    g = g / g.sum()
    return torch.outer(g, g)


def _unit_l1(k: torch.Tensor) -> torch.Tensor:
    """``k / sum|k|``; an all-zero kernel (a zero-mean kernel of side 1) stays zero."""
    s = k.abs().sum()
    return k / s if bool(s > 0) else k


def _box(size=None, sigma=None) -> torch.Tensor:
    size = _odd_size(size, 3)
    return torch.full((size, size), 1.0 / (size * size), dtype=torch.float64)


def _identity(size=None, sigma=None) -> torch.Tensor:
    size = _odd_size(size, 3)
    k = torch.zeros(size, size, dtype=torch.float64)
    k[(size - 1) // 2, (size - 1) // 2] = 1.0
    return k


def _log(size=None, sigma=None) -> torch.Tensor:
    """Laplacian of Gaussian, zero-sum, negative centre (like -Δ of a blur: edges light up)."""
    sigma = _sigma(sigma, 1.4)
    size = _odd_size(size, 0) if size is not None else _default_size(sigma)
    x = _grid(size)
    r2 = x[:, None] ** 2 + x[None, :] ** 2
    k = (r2 - 2 * sigma**2) / sigma**4 * torch.exp(-r2 / (2 * sigma**2))
    k = k - k.mean()  # exact zero sum: flat regions give exactly 0
    return _unit_l1(k) * 2


def _gabor(size=None, sigma=None, theta: float = 0.0, wavelength: float | None = None) -> torch.Tensor:
    """Real (cosine) Gabor kernel, oriented along x, zero-mean."""
    sigma = _sigma(sigma, 3.0)
    size = _odd_size(size, 0) if size is not None else _default_size(sigma)
    lam = wavelength if wavelength is not None else 2.0 * sigma
    x = _grid(size)
    xx, yy = x[None, :].expand(size, size), x[:, None].expand(size, size)
    xr = xx * math.cos(theta) + yy * math.sin(theta)
    yr = -xx * math.sin(theta) + yy * math.cos(theta)
    k = torch.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * torch.cos(2 * math.pi * xr / lam)
    k = k - k.mean()
    return _unit_l1(k)


def _fixed(rows) -> Callable[..., torch.Tensor]:
    def make(size=None, sigma=None) -> torch.Tensor:
        k = _t(rows)
        if size is not None and size != k.shape[0]:
            raise fail("size", f"{k.shape[0]} (or None) for this fixed kernel", size)
        return k

    return make


KERNELS: dict[str, tuple[Callable[..., torch.Tensor], str]] = {
    "identity": (_identity, "delta: the output equals the input"),
    "box": (_box, "the 'input average': every weight 1/size^2"),
    "gaussian": (_gaussian, "normalised Gaussian blur (size, sigma)"),
    "laplacian4": (_fixed([[0, -1, 0], [-1, 4, -1], [0, -1, 0]]), "negative 5-point Laplacian"),
    "laplacian8": (
        _fixed([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
        "the lecture notes' kernel: 8 in the centre, -1 around (edge detector)",
    ),
    "sobel_x": (_fixed([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]), "Sobel, responds to vertical edges"),
    "sobel_y": (_fixed([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]), "Sobel, responds to horizontal edges"),
    "scharr_x": (_fixed([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]), "Scharr, rotation-accurate d/dx"),
    "scharr_y": (_fixed([[-3, -10, -3], [0, 0, 0], [3, 10, 3]]), "Scharr, rotation-accurate d/dy"),
    "prewitt_x": (_fixed([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]), "Prewitt d/dx"),
    "prewitt_y": (_fixed([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]), "Prewitt d/dy"),
    "sharpen": (_fixed([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]), "identity + laplacian4"),
    "emboss": (_fixed([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]), "relief along the diagonal"),
    "log": (_log, "Laplacian of Gaussian (size, sigma)"),
    "gabor": (_gabor, "cosine Gabor, oriented along x (size, sigma)"),
}


def list_kernels() -> list[str]:
    """Names accepted by :func:`get_kernel`.

    >>> "laplacian8" in list_kernels()
    True
    """
    return list(KERNELS)


def get_kernel(name: str, size: int | None = None, sigma: float | None = None, *, dtype=None) -> torch.Tensor:
    """Build a named kernel as a ``(kH, kW)`` tensor.

    Args:
        name: one of :func:`list_kernels`.
        size: side length for the parametric kernels (box, gaussian, log, gabor, identity).
        sigma: width for gaussian, log and gabor.
        dtype: torch dtype (default float64).

    Example:
        >>> get_kernel("box", 3).sum().item()
        1.0
    """
    key = check_option("name", name, KERNELS)
    k = KERNELS[key][0](size, sigma)
    if not bool(torch.isfinite(k).all()):  # e.g. log with a sigma so small that sigma**4 underflows
        raise fail("sigma", f"large enough for a finite {key} kernel", sigma)
    return k.to(dtype) if dtype is not None else k


def _from_array(arr, src: str) -> torch.Tensor:
    arr = np.asarray(arr)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise fail("kernel", "a numeric array", src)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.size == 0:
        raise fail("kernel", "a non-empty 2-D array", f"{src} with shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise fail("kernel", "finite", src)
    return torch.from_numpy(arr.astype(np.float64))


def parse_kernel(text_or_path: str | os.PathLike) -> torch.Tensor:
    """Parse a custom kernel of any size (even sizes too).

    Accepts an inline literal ``"[[0,1,0],[1,-4,1],[0,1,0]]"``, a ``.npy`` file
    (loaded with ``allow_pickle=False``), or a text file with whitespace- or
    comma-separated rows.

    >>> parse_kernel("[[1, 2], [3, 4]]").shape
    torch.Size([2, 2])
    """
    s = os.fspath(text_or_path)
    st = s.strip()
    if st.startswith("["):
        try:
            val = ast.literal_eval(st)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
            raise fail("kernel", "a valid nested list like [[1,0],[0,1]]", s) from e
        try:
            return _from_array(np.array(val, dtype=np.float64), repr(s))
        except ValueError as e:
            if "must be" in str(e):
                raise
            raise fail("kernel", "a rectangular nested list of numbers", s) from e
    p = Path(s)
    if not p.is_file():
        raise fail("kernel", "a kernel name, an inline [[...]] literal, or an existing .npy/.txt/.csv file", s)
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise unreadable("kernel file", p, "is not a readable .npy array", e) from None
        return _from_array(arr, str(p))
    return _from_array(_read_rows(p), str(p))


def _read_rows(p: Path) -> np.ndarray:
    """A text kernel file's rows of numbers; an error names the line and what it expected, never its text."""
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise unreadable("kernel file", p, "is not a readable text file", e) from None
    rows: list[list[float]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = [float(v) for v in line.replace(",", " ").split()]
        except ValueError:
            raise DataError(f"kernel file {p} line {n} must hold numbers separated by spaces or commas") from None
        if rows and len(row) != len(rows[0]):
            raise DataError(f"kernel file {p} line {n} must hold {len(rows[0])} numbers, as the first row does, "
                            f"got {len(row)}")
        rows.append(row)
    return np.array(rows, dtype=np.float64)


def kernel_from_spec(spec: str, *, dtype=None, files: bool = True) -> torch.Tensor:
    """A kernel from a spec: ``name``, ``name:size``, ``name:size:sigma``, an inline literal or a file.

    Args:
        spec: the spec. A name is one of :func:`list_kernels`; a literal is a nested list such
            as ``"[[0,1,0],[1,-4,1],[0,1,0]]"``; a file is a ``.npy`` array or a text file of rows.
        dtype: the dtype of the result (float64 by default).
        files: whether ``spec`` may name a file. ``False`` for text from someone who must not
            read this machine's files (the explorer's browser): then only names and literals are
            parsed, the file system is never touched, and a path is refused with the same message
            whether or not it exists.

    >>> kernel_from_spec("gaussian:5").shape
    torch.Size([5, 5])
    >>> kernel_from_spec("/etc/passwd", files=False)
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: kernel must be a kernel name, NAME:SIZE[:SIGMA] or an inline [[...]] literal (files are not read here), got '/etc/passwd'
    """
    s = str(spec).strip()
    if s.startswith("["):
        k = parse_kernel(s)
    elif files and (os.path.sep in s or Path(s).suffix.lower() in (".npy", ".txt", ".csv")):
        k = parse_kernel(s)
    else:
        parts = s.split(":")
        name = parts[0]
        if not files and name.lower() not in KERNELS:
            raise fail("kernel", "a kernel name, NAME:SIZE[:SIGMA] or an inline [[...]] literal "
                       "(files are not read here)", spec)
        try:
            size = int(parts[1]) if len(parts) > 1 and parts[1] else None
            sigma = float(parts[2]) if len(parts) > 2 and parts[2] else None
        except ValueError as e:
            raise fail("kernel", "NAME[:SIZE[:SIGMA]] with numeric SIZE/SIGMA", spec) from e
        if files and name.lower() not in KERNELS and Path(s).is_file():
            k = parse_kernel(s)
        else:
            k = get_kernel(name, size, sigma)
    return k.to(dtype) if dtype is not None else k
