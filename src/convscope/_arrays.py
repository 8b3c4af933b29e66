"""NumPy <-> torch at the public boundary: the same kind comes out as went in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._checks import ArgumentTypeError, fail

__all__ = ["Origin", "as_tensor", "restore", "result_dtype"]


@dataclass(frozen=True)
class Origin:
    """Where an input came from, so the output can be handed back the same way."""

    numpy: bool
    device: torch.device


def result_dtype(dtype: torch.dtype) -> torch.dtype:
    """Floating dtypes are kept; integers/bools/halves are promoted to float32.

    float64 is never downcast.
    """
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype.is_complex:
        raise ArgumentTypeError(f"complex dtypes are not supported, got {dtype}")
    return torch.float32


def as_tensor(x: Any, arg: str = "input", *, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, Origin]:
    """Turn a numpy array, tensor or nested list into a float tensor.

    uint8 and other integer inputs are promoted to float32; float32/float64 keep
    their dtype unless ``dtype`` is given.
    """
    if isinstance(x, torch.Tensor):
        t, origin = x, Origin(False, x.device)
    elif isinstance(x, np.ndarray | list | tuple | np.generic | int | float):
        try:
            arr = np.asarray(x)
        except ValueError as e:  # ragged nested lists
            raise fail(arg, "a rectangular array", type(x).__name__, TypeError) from e
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise fail(arg, "a real numeric array", arr, TypeError)
        if arr.dtype.kind == "b" or arr.dtype.byteorder not in ("=", "|", "<" if np.little_endian else ">"):
            arr = arr.astype(np.float32 if arr.dtype.kind != "f" else arr.dtype.newbyteorder("="))
        if arr.dtype == np.uint16 or arr.dtype == np.uint32 or arr.dtype == np.uint64:
            arr = arr.astype(np.float32)
        t, origin = torch.from_numpy(np.ascontiguousarray(arr)), Origin(True, torch.device("cpu"))
    else:
        raise fail(arg, "a numpy array or torch tensor", type(x).__name__, TypeError)
    if t.dtype.is_complex:
        raise fail(arg, "real-valued", t, TypeError)
    target = dtype if dtype is not None else result_dtype(t.dtype)
    if t.dtype != target:
        t = t.to(target)
    return t, origin


def restore(t: torch.Tensor, origin: Origin) -> Any:
    """Hand a result back as numpy if the input was numpy."""
    if origin.numpy:
        return t.detach().cpu().numpy()
    return t
