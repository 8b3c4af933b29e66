"""Checkpoints that never lose work: atomic writes, safe loading, full RNG state.

* :func:`save_checkpoint` writes through a temporary file in the same folder,
  fsyncs it and renames it over the target, so a crash (even SIGKILL) in the
  middle of a save leaves the previous checkpoint intact.
* :func:`load_checkpoint` uses ``torch.load(weights_only=True)``: tensors,
  numbers, strings, lists, tuples and dicts only; never arbitrary pickle.
  Dataclass configs are therefore stored as plain dicts.
* :func:`rng_state` / :func:`set_rng_state` capture torch, CUDA, numpy and
  Python ``random`` in that same weights-only form, which is what makes
  ``--resume`` bit-identical.
* :class:`CheckpointManager` keeps the last N checkpoints of a run plus the best.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._checks import DataError, check_int
from .._io import atomic_save, atomic_write_text

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "to_plain",
    "config_diff",
    "CheckpointManager",
]


def to_plain(obj: Any) -> Any:
    """Make ``obj`` loadable with ``weights_only=True``.

    Dataclasses become dicts, paths strings, numpy arrays tensors and numpy
    scalars Python numbers; containers are converted recursively.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class C:
    ...     a: int = 1
    ...     b: tuple = (2, 3)
    >>> to_plain({"config": C(), "p": Path("x")})
    {'config': {'a': 1, 'b': (2, 3)}, 'p': 'x'}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(to_plain(v) for v in obj)
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename).

    ``state`` is passed through :func:`to_plain` first, so a dataclass config
    can be stored directly. Returns the path.
    """
    plain = to_plain(dict(state))
    return atomic_save(path, lambda f: torch.save(plain, f))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    A missing, corrupt or truncated file, or one holding anything but tensors
    and plain containers, raises ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise DataError(
                f"checkpoint {path} holds objects that weights-only loading refuses (not a convscope "
                f"checkpoint, or tampered with): {first}"
            ) from None
        raise DataError(f"checkpoint {path} is corrupt or truncated: {type(e).__name__}: {first}") from None
    if not isinstance(obj, dict):
        raise DataError(f"checkpoint {path} must hold a dict, got {type(obj).__name__}")
    return obj


# ---------------------------------------------------------------- RNG state


def rng_state() -> dict:
    """Torch (CPU and CUDA), numpy-global and Python ``random`` states, weights-only loadable."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(np_state[0]),
            "key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": int(py_version),
            "internal": torch.tensor(py_internal, dtype=torch.int64),
            "gauss_next": py_gauss,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    n = state["numpy"]
    np.random.set_state(
        (n["bit_generator"], n["key"].cpu().numpy().astype(np.uint32), int(n["pos"]), int(n["has_gauss"]),
         float(n["cached_gaussian"]))
    )
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(v) for v in p["internal"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError, IndexError):
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def config_diff(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``["key: saved -> current", ...]`` for every key whose value differs.

    >>> config_diff({"arch": "lenet", "width": 1.0}, {"arch": "alexnet", "width": 1.0})
    ["arch: 'lenet' -> 'alexnet'"]
    """
    out = []
    for k in sorted(set(saved) | set(current)):
        a, b = saved.get(k, "<missing>"), current.get(k, "<missing>")
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            a, b = list(a), list(b)
        if a != b:
            out.append(f"{k}: {a!r} -> {b!r}")
    return out


# ---------------------------------------------------------------- a run's checkpoints


class CheckpointManager:
    """The checkpoints of one run in ``directory``: ``ckpt-<step>.pt`` files plus ``best.pt``.

    :meth:`save` writes a new step atomically, deletes all but the newest
    ``keep_last``, and refreshes ``best.pt`` when ``metric`` improves (its
    value and step are kept in ``best.json``). :meth:`load_latest` falls back
    to an older checkpoint if the newest cannot be read.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     m = CheckpointManager(d, keep_last=2)
        ...     for step, acc in [(1, 0.5), (2, 0.9), (3, 0.7)]:
        ...         _ = m.save({"w": torch.tensor([step])}, step, metric=acc)
        ...     [p.name for p in m.paths()], m.best_path().name, m.best_step, m.load_latest()["w"].item()
        (['ckpt-00000002.pt', 'ckpt-00000003.pt'], 'best.pt', 2, 3)
    """

    PATTERN = re.compile(r"^ckpt-(\d+)\.pt$")

    def __init__(self, directory: str | os.PathLike, keep_last: int = 3):
        self.directory = Path(directory)
        self.keep_last = check_int("keep_last", keep_last, min_value=1)
        self.best_metric: float | None = None
        self.best_step: int | None = None
        info = self.directory / "best.json"
        if info.is_file():
            with contextlib.suppress(ValueError, OSError, KeyError, TypeError):
                d = json.loads(info.read_text())
                self.best_metric, self.best_step = d["metric"], d["step"]

    def paths(self) -> list[Path]:
        """Step checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := self.PATTERN.match(p.name))]
        return [p for _, p in sorted(found)]

    def path_for(self, step: int) -> Path:
        return self.directory / f"ckpt-{step:08d}.pt"

    def latest_path(self) -> Path | None:
        paths = self.paths()
        return paths[-1] if paths else None

    def best_path(self) -> Path | None:
        p = self.directory / "best.pt"
        return p if p.is_file() else None

    def is_better(self, metric: float, higher_is_better: bool = True, ties: bool = False) -> bool:
        """Would ``metric`` replace the best? ``ties=True`` also replaces on equality."""
        if self.best_metric is None:
            return True
        if ties and metric == self.best_metric:
            return True
        return metric > self.best_metric if higher_is_better else metric < self.best_metric

    def save(self, state: Mapping[str, Any], step: int, metric: float | None = None,
             higher_is_better: bool = True, ties: bool = False) -> Path:
        """Write step ``step``; keep the last ``keep_last`` and the best. Returns the new path.

        ``ties=True`` lets a later checkpoint with an equal metric become the best
        (useful for accuracy on a small validation set, where ties are common).
        """
        step = check_int("step", step, min_value=0)
        path = save_checkpoint(self.path_for(step), state)
        if metric is not None and self.is_better(float(metric), higher_is_better, ties):
            self._set_best(path, step, float(metric))
        self._prune()
        return path

    def _set_best(self, path: Path, step: int, metric: float) -> None:
        best = self.directory / "best.pt"
        tmp = self.directory / f".best.pt.{os.getpid()}.tmp"
        try:  # a hard link is instant and atomic once renamed; copy where links are unsupported
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.link(path, tmp)
            os.replace(tmp, best)
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            data = path.read_bytes()
            atomic_save(best, lambda f: f.write(data))
        self.best_metric, self.best_step = metric, step
        atomic_write_text(self.directory / "best.json", json.dumps({"metric": metric, "step": step}) + "\n")

    def _prune(self) -> None:
        for p in self.paths()[: -self.keep_last]:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def load_latest(self, map_location: Any = "cpu") -> dict | None:
        """The newest readable checkpoint (None when there is none).

        An unreadable newest file (a disk fault, not an interrupted save: saves
        are atomic) is skipped with a warning and the one before is used.
        """
        for p in reversed(self.paths()):
            try:
                return load_checkpoint(p, map_location)
            except ValueError as e:
                warnings.warn(f"skipping unreadable checkpoint: {e}", stacklevel=2)
        return None
