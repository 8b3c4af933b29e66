"""The generator's latent space: linear and spherical interpolation, walks, vector arithmetic.

A DCGAN's noise ``z`` lives in ``R^nz``; the paper walks between points of it to
show the generator has not memorised its data, and adds and subtracts the mean
``z`` of concepts (``A - B + C``).

>>> import torch
>>> a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
>>> [round(v, 4) for v in slerp(a, b, torch.tensor(0.5)).tolist()]
[0.7071, 0.7071]
>>> latent_walk(torch.stack([a, b]), 4, "linear").shape
torch.Size([5, 2])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from .._checks import ArgumentError, check_option

__all__ = ["INTERPOLATIONS", "lerp", "slerp", "latent_walk", "latent_arithmetic", "parse_expression"]

INTERPOLATIONS = ("linear", "slerp")


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation ``(1 - t) a + t b``."""
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation between latent vectors (falls back to linear when parallel)."""
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.acos((a_n * b_n).sum().clamp(-1, 1))
    if float(omega) < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def latent_walk(points: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """``(P, nz)`` points -> ``(F, nz)`` frames visiting each in turn, ``steps`` frames per leg.

    The last leg also includes its end point, so ``F = steps * (P - 1) + 1``.
    """
    mode = check_option("mode", mode, INTERPOLATIONS)
    frames = []
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        for j in range(steps if i < len(points) - 2 else steps + 1):
            t = torch.tensor(j / steps, dtype=a.dtype)
            frames.append(lerp(a, b, t) if mode == "linear" else slerp(a, b, t))
    return torch.stack(frames)


def latent_arithmetic(terms: Sequence[tuple[int, torch.Tensor]]) -> torch.Tensor:
    """``sum(sign * z)`` over ``(sign, z)`` terms: e.g. ``[(+1, a), (-1, b), (+1, c)]`` is ``a - b + c``."""
    if not terms:
        raise ArgumentError("terms must hold at least one (sign, z) pair, got none")
    total = torch.zeros_like(terms[0][1])
    for sign, z in terms:
        total = total + sign * z
    return total


def parse_expression(expr: str, classes: Sequence[str]) -> list[tuple[int, int]]:
    """``'7-1+4'`` -> ``[(+1, index of '7'), (-1, index of '1'), (+1, index of '4')]``.

    >>> parse_expression("a-b+c", ["a", "b", "c"])
    [(1, 0), (-1, 1), (1, 2)]
    """
    classes = [str(c) for c in classes]
    toks = re.findall(r"([+-]?)\s*([^+\-\s]+)", expr.strip())
    if not toks:
        raise ArgumentError(f"--expr must look like 'A-B+C' with class names, got {expr!r}")
    terms = []
    for sign, name in toks:
        if name not in classes:
            raise ArgumentError(f"--expr terms must be class names ({', '.join(classes)}), got {name!r}")
        terms.append((-1 if sign == "-" else 1, classes.index(name)))
    return terms
