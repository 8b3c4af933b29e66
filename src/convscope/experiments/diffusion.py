"""Step 4 of the story: convolution as diffusion. Intensity is salt; the softmaxed kernel moves it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ArgumentError
from ._common import Progress, as_image, named_kernel, out_folder, save_npy

__all__ = ["Diffusion", "diffusion", "drop", "gif_steps", "parse_steps", "save_diffusion"]


@dataclass(frozen=True)
class Diffusion:
    """A field diffusing under the softmax propagator.

    Attributes:
        kernel, temperature, propagator: ``P = softmax(kernel / temperature)``.
        moments: the propagator's :class:`convscope.diffusion.Moments` (drift, covariance, D, entropy).
        boundary: the boundary the walk used.
        method, method_reason: the method used (``spectral`` or ``iterate``) and why.
        initial: the starting field ``u0``.
        steps: the requested step counts; ``frames`` ``(len(steps), H, W)`` the field after each.
        all_steps, all_frames: the denser, geometric set of steps (for an animation) and its frames.
        row: the row the profiles are taken along; ``profiles`` one per requested step.
        heat: the heat-equation solution along ``row`` per step (``None`` unless asked).
        heat_errors: ``max |propagator - heat|`` along the row per step (empty unless asked).
        heat_drift_dropped: the propagator drifts but walls forbid drift in the heat solution.
        mass, entropy: per ``all_steps``; ``max_entropy`` is ``log(u0.size)``.
    """

    kernel: np.ndarray
    temperature: float
    propagator: np.ndarray
    moments: object
    boundary: str
    method: str
    method_reason: str
    initial: np.ndarray
    steps: tuple[int, ...]
    frames: np.ndarray
    all_steps: tuple[int, ...]
    all_frames: np.ndarray
    row: int
    profiles: tuple[np.ndarray, ...]
    heat: tuple[np.ndarray, ...] | None
    heat_errors: tuple[float, ...]
    heat_drift_dropped: bool
    mass: np.ndarray
    entropy: np.ndarray
    max_entropy: float


def parse_steps(text: str | Sequence[int]) -> list[int]:
    """``'0,10,100'`` -> ``[0, 10, 100]`` (a list of ints passes through, checked)."""
    if not isinstance(text, str):
        steps = [int(s) for s in text]
        if not steps or any(s < 0 for s in steps):
            raise ArgumentError(f"--steps must be integers >= 0 such as 0,10,100, got {steps}")
        return steps
    try:
        steps = [int(s) for s in text.replace(" ", "").split(",") if s != ""]
    except ValueError:
        steps = []
    if not steps or any(s < 0 for s in steps):
        raise ArgumentError(f"--steps must be comma-separated integers >= 0 such as 0,10,100, got {text!r}")
    return steps


def drop(size: int = 128, shape: str = "pixel") -> np.ndarray:
    """A drop of salt on an empty ``(size, size)`` field: one bright pixel or a disc of radius ``size/10``."""
    if size < 3:
        raise ArgumentError(f"--size must be >= 3 for a drop, got {size}")
    if shape not in ("pixel", "disc"):
        raise ArgumentError(f"drop must be pixel or disc, got {shape!r}")
    u = np.zeros((size, size))
    if shape == "pixel":
        u[size // 2, size // 2] = 1.0
    else:
        y, x = np.mgrid[:size, :size]
        u[(y - size // 2) ** 2 + (x - size // 2) ** 2 <= (size / 10) ** 2] = 1.0
    return u


def gif_steps(steps: Sequence[int], n: int) -> list[int]:
    """About ``n`` step counts from 0 to max(steps), spaced geometrically, plus the requested ones."""
    top = max(steps)
    geo = np.unique(np.round(np.geomspace(1, max(top, 1), max(n - 1, 1))).astype(int)) if top > 0 else []
    return sorted({0, *[int(s) for s in geo if s <= top], *steps})


def diffusion(
    initial,
    kernel="laplacian8",
    *,
    temperature: float = 4.0,
    steps: Sequence[int] | str = (0, 10, 100, 1000),
    boundary: str = "symmetric",
    method: str = "auto",
    gif_frames: int = 30,
    compare_heat: bool = False,
    progress: Progress = None,
    max_seconds: float | None = None,
) -> Diffusion:
    """Softmax ``kernel`` into a propagator and let ``initial`` diffuse for each of ``steps``.

    Args:
        initial: the starting field ``(H, W)`` (a salt concentration), e.g. :func:`drop`.
        kernel: a kernel spec (``'laplacian8'``) or ``(kH, kW)`` array.
        temperature: softmax temperature: higher spreads each step further.
        steps: step counts (or ``'0,10,100'``).
        boundary: ``circular | symmetric | zeros`` (see :func:`convscope.diffusion.diffuse`).
        method: ``auto | iterate | spectral``.
        gif_frames: about this many frames are also computed for an animation (>= 2).
        compare_heat: also solve the heat equation with the propagator's ``D``.
        progress: wraps the iteration over steps (e.g. a tqdm bar); ``None`` for none.
        max_seconds: refuse (``ResourceError``, naming the exact fast alternative) a literal
            iteration estimated to take longer; ``None`` never refuses.
    """
    from .._checks import check_alloc
    from ..diffusion import (
        diffuse,
        entropy,
        heat_solution,
        mass,
        moments,
        propagator,
        spectral_exact,
    )

    steps = parse_steps(steps)
    if gif_frames < 2:
        raise ArgumentError(f"--gif-frames must be >= 2, got {gif_frames}")
    k = named_kernel(kernel)[1]
    P = propagator(k, temperature=temperature)
    m = moments(P)
    u0 = as_image(initial)
    exact, why = spectral_exact(P, boundary)
    name = method.strip().lower()
    used = ("spectral" if exact else "iterate") if name == "auto" else name
    all_steps = gif_steps(steps, gif_frames)
    n_frames = len(all_steps) + len(steps)  # every frame kept is allocated up front: refuse before, not during
    check_alloc("--size", (n_frames, *u0.shape), "float64", what=f"{n_frames} frames of {u0.shape[0]}x{u0.shape[1]}")
    frames_all = np.asarray(diffuse(u0, P, all_steps, boundary=boundary, method=method, progress=progress,
                                    max_seconds=max_seconds))
    by_step = dict(zip(all_steps, frames_all))
    frames = np.stack([by_step[s] for s in steps])
    row = u0.shape[0] // 2
    profiles = tuple(f[row] for f in frames)
    heat, errs, dropped = None, (), False
    if compare_heat:
        drift = m.drift if boundary == "circular" else None
        dropped = drift is None and max(abs(v) for v in m.drift) > 1e-12
        heat = tuple(np.asarray(heat_solution(u0, m.D_axes, float(s), boundary=boundary, drift=drift))[row]
                     for s in steps)
        errs = tuple(float(np.abs(h - p).max()) for h, p in zip(heat, profiles))
    return Diffusion(
        kernel=k, temperature=float(temperature), propagator=np.asarray(P), moments=m, boundary=boundary,
        method=used, method_reason=why, initial=u0, steps=tuple(steps), frames=frames,
        all_steps=tuple(all_steps), all_frames=frames_all, row=row, profiles=profiles, heat=heat,
        heat_errors=errs, heat_drift_dropped=dropped, mass=np.asarray(mass(frames_all)),
        entropy=np.asarray(entropy(frames_all)), max_entropy=float(np.log(u0.size)),
    )


def save_diffusion(result: Diffusion, out_dir: str | os.PathLike, *, kernel_label: str = "laplacian8",
                   what: str = "", shared: bool = True) -> list[Path]:
    """The propagator (``.npy`` + figure), frames (``.npy``, PNGs, GIF, strip), profiles, mass/entropy (CSV + figure).

    ``shared``: one grey scale for every frame (an image fading); otherwise each frame is
    scaled to its own maximum with gamma 0.5 (a drop followed as it spreads).
    """
    from .._io import atomic_save
    from ..data.images import save_image
    from ..viz.diffusion import (
        diffusion_gif,
        diffusion_strip,
        frame_scale,
        mass_entropy_figure,
        profile_figure,
        propagator_figure,
    )

    out = out_folder(out_dir)
    written: list[Path] = []
    T = result.temperature
    save_npy(out / "propagator.npy", result.propagator, written)
    written.append(propagator_figure(result.kernel, result.propagator, str(result.moments), out / "propagator.png",
                                     title=f"{kernel_label} at temperature {T:g}"))
    save_npy(out / "frames.npy", result.frames, written)
    gamma = 1.0 if shared else 0.5
    for s, f in zip(result.steps, frame_scale(result.frames, shared=shared, gamma=gamma)):
        written.append(save_image(out / f"frame_{s:05d}.png", f))
    written.append(diffusion_gif(result.all_frames, out / "diffusion.gif", shared=shared, gamma=gamma))
    written.append(diffusion_strip(result.frames, list(result.steps), out / "strip.png", shared=shared, gamma=gamma,
                                   title=f"{what} diffusing under softmax({kernel_label} / {T:g}), "
                                         f"{result.boundary} boundary"
                                         + ("" if shared else "; each frame scaled to its own maximum")))
    heat = list(result.heat) if result.heat is not None else None
    written.append(profile_figure(list(result.profiles), list(result.steps), out / "profile.png", heat=heat,
                                  where=f"row {result.row} of {what}",
                                  D=result.moments.D if heat is not None else None))
    atomic_save(out / "mass_entropy.csv", lambda f: np.savetxt(
        f, np.column_stack([result.all_steps, result.mass, result.entropy]), delimiter=",",
        header="steps,mass,entropy_nats", comments="", fmt=["%d", "%.17g", "%.17g"]))
    written.append(out / "mass_entropy.csv")
    written.append(mass_entropy_figure(list(result.all_steps), result.mass, result.entropy, out / "mass_entropy.png",
                                       max_entropy=result.max_entropy, boundary=result.boundary))
    return written
