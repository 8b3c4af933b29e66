"""Step 2 of the story: the convolution theorem, spatial against FFT, with and without zero padding."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ArgumentError
from ._common import as_image, named_kernel, out_folder, save_npy

__all__ = ["Theorem", "theorem", "save_theorem"]


@dataclass(frozen=True)
class Theorem:
    """Both routes, padded (linear) and unpadded (circular); with ``pad`` given, only one of them
    (the other's fields are ``None``).

    Attributes:
        image, kernel: the inputs (float64).
        spatial, frequency: the padded results (``full``), direct and through FFTs.
        log_abs_diff: ``log10 |spatial - frequency|`` (exact zeros drawn at 1e-18).
        max_abs_diff: largest ``|spatial - frequency|`` when padded.
        spatial_seconds, frequency_seconds: best timings of the padded routes.
        fft_shape: the grid the padded FFTs were taken on.
        circular: the unpadded FFT result (``same``, wrapped around).
        circular_spatial: the direct circular convolution (``same``, ``circular`` boundary) it equals.
        wrap: boolean map of the pixels where the circular result wraps.
        wrap_error: circular minus linear; zero outside ``wrap``.
        circular_max_abs_diff, circular_spatial_seconds, circular_frequency_seconds: the same for the circular routes.
        max_wrap_error: ``max |wrap_error|``.
    """

    image: np.ndarray
    kernel: np.ndarray
    spatial: np.ndarray | None
    frequency: np.ndarray | None
    log_abs_diff: np.ndarray | None
    max_abs_diff: float | None
    spatial_seconds: float | None
    frequency_seconds: float | None
    fft_shape: tuple[int, int] | None
    circular: np.ndarray | None
    circular_spatial: np.ndarray | None
    wrap: np.ndarray | None
    wrap_error: np.ndarray | None
    circular_max_abs_diff: float | None
    circular_spatial_seconds: float | None
    circular_frequency_seconds: float | None
    max_wrap_error: float | None


def theorem(image, kernel, *, repeat: int = 5, pad: bool | None = None) -> Theorem:
    """Convolve ``image`` with ``kernel`` directly and through FFTs, padded and unpadded.

    Args:
        image: ``(H, W)`` array (or a bundled name, read as is).
        kernel: ``(kH, kW)`` array or a kernel spec such as ``'gaussian:15'``; no larger than the image.
        repeat: timings are the best of this many runs.
        pad: ``True`` computes only the padded (linear) routes, ``False`` only the unpadded
            (circular) ones, ``None`` both. A page that shows one of them computes only that one.
    """
    from ..fourier import convolution_theorem

    img = as_image(image)
    k = named_kernel(kernel)[1]
    if k.shape[0] > img.shape[-2] or k.shape[1] > img.shape[-1]:
        raise ArgumentError(f"--kernel must be no larger than the image {img.shape[-2:]}, got {tuple(k.shape)}")
    fields: dict = {}
    if pad is not False:
        lin = convolution_theorem(img, k, pad=True, repeat=repeat)
        diff = np.abs(lin.spatial - lin.frequency)
        fields.update(spatial=lin.spatial, frequency=lin.frequency, log_abs_diff=np.log10(np.maximum(diff, 1e-18)),
                      max_abs_diff=float(lin.max_abs_diff), spatial_seconds=lin.spatial_seconds,
                      frequency_seconds=lin.frequency_seconds, fft_shape=tuple(lin.fft_shape))
    if pad is not True:
        circ = convolution_theorem(img, k, pad=False, repeat=repeat)
        fields.update(circular=circ.frequency, circular_spatial=circ.spatial, wrap=np.asarray(circ.wrap),
                      wrap_error=circ.wrap_error, circular_max_abs_diff=float(circ.max_abs_diff),
                      circular_spatial_seconds=circ.spatial_seconds,
                      circular_frequency_seconds=circ.frequency_seconds,
                      max_wrap_error=float(np.abs(np.asarray(circ.wrap_error)).max()))
    return Theorem(image=img, kernel=k, **{f: fields.get(f) for f in Theorem.__dataclass_fields__
                                           if f not in ("image", "kernel")})


def save_theorem(result: Theorem, out_dir: str | os.PathLike, *, kernel_label: str = "") -> list[Path]:
    """``spatial/frequency/circular/wrap_error.npy`` and ``theorem_panel.png``."""
    from ..viz.fourier import theorem_panel

    if result.spatial is None or result.circular is None:
        raise ArgumentError("result must hold both routes, as theorem(..., pad=None) returns, got one of them")
    out = out_folder(out_dir)
    written: list[Path] = []
    save_npy(out / "spatial.npy", result.spatial, written)
    save_npy(out / "frequency.npy", result.frequency, written)
    save_npy(out / "circular.npy", result.circular, written)
    save_npy(out / "wrap_error.npy", result.wrap_error, written)
    title = (f"convolution theorem, kernel {kernel_label}: spatial {1e3 * result.spatial_seconds:.2f} ms, "
             f"FFT {1e3 * result.frequency_seconds:.2f} ms, largest difference {result.max_abs_diff:.2e}")
    written.append(theorem_panel(result.spatial, result.frequency, result.log_abs_diff, result.circular,
                                 result.wrap_error, result.wrap, out / "theorem_panel.png", title=title))
    return written
