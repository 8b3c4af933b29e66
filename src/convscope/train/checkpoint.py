"""A run's checkpoints: the last N plus the best, and the settings check on resume.

The file format itself (atomic save, weights-only load, the one schema, lookup
and migration of 0.1.0 files) lives in :mod:`convscope._checkpoint`, below
``models``, so that models can load what training wrote; it is re-exported here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._checkpoint import (
    checkpoint_paths,
    load_checkpoint,
    migrate,
    read_checkpoint,
    resolve_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    to_plain,
)
from .._checks import DataError, check_int
from .._io import atomic_save, atomic_write_text

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "resolve_checkpoint",
    "migrate",
    "rng_state",
    "set_rng_state",
    "to_plain",
    "config_diff",
    "CheckpointManager",
]


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

# the temporaries of atomic writes (``_io.atomic_write``'s ".NAME.XXXX.tmp") and of best.pt's link
_STALE = re.compile(r"^\.(ckpt-\d+\.pt|best\.pt|best\.json)\..+\.tmp$")


class CheckpointManager:
    """The checkpoints of one run in ``directory``: ``ckpt-<step>.pt`` files plus ``best.pt``.

    :meth:`save` writes a new step atomically, deletes all but the newest
    ``keep_last``, and refreshes ``best.pt`` when ``metric`` improves (its
    value and step are kept in ``best.json``). :meth:`load_latest` falls back
    to an older checkpoint if the newest cannot be read.

    Example:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     m = CheckpointManager(d, keep_last=2)
        ...     for step, acc in [(1, 0.5), (2, 0.9), (3, 0.7)]:
        ...         _ = m.save({"w": torch.tensor([step])}, step, metric=acc)
        ...     [p.name for p in m.paths()], m.best_path().name, m.best_step, m.load_latest()["w"].item()
        (['ckpt-00000002.pt', 'ckpt-00000003.pt'], 'best.pt', 2, 3)
    """

    def __init__(self, directory: str | os.PathLike, keep_last: int = 3):
        self.directory = Path(directory)
        self.keep_last = check_int("keep_last", keep_last, min_value=1)
        self.remove_stale_temporaries()
        self.best_metric: float | None = None
        self.best_step: int | None = None
        info = self.directory / "best.json"
        if info.is_file():
            self.best_metric, self.best_step = _read_best(info)
        elif self.best_path() is not None:  # best.json lost or deleted: rebuild it from best.pt
            with contextlib.suppress(DataError):
                st = migrate(load_checkpoint(self.best_path()), self.best_path())
                m = st["extra"].get("best_metric")
                if isinstance(m, int | float) and not isinstance(m, bool) and math.isfinite(m):
                    self.best_metric, self.best_step = float(m), st["step"]
                    atomic_write_text(info, json.dumps({"metric": self.best_metric, "step": self.best_step}) + "\n")

    def paths(self) -> list[Path]:
        """Step checkpoints, oldest first."""
        return checkpoint_paths(self.directory)

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
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self) -> list[Path]:
        """Remove what an interrupted write of this manager's own files left behind (a ``kill -9``
        during a checkpoint write leaves its temporary file); returns what was removed.

        Only one run writes a run folder at a time (the run lock), so any temporary of a
        checkpoint, ``best.pt`` or ``best.json`` found here belongs to a write that died.
        Nothing else in the folder is touched.
        """
        removed = []
        if self.directory.is_dir():
            for p in self.directory.iterdir():
                if _STALE.match(p.name) and p.is_file():
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                        removed.append(p)
        return removed

    def load_latest(self, map_location: Any = "cpu") -> dict | None:
        """The newest readable checkpoint (None when there is none).

        An unreadable newest file (a disk fault, not an interrupted save: saves
        are atomic) is skipped with a warning and the one before is used.
        """
        for p in reversed(self.paths()):
            try:
                return load_checkpoint(p, map_location)
            except DataError as e:
                warnings.warn(f"skipping unreadable checkpoint: {e}", stacklevel=2)
        return None


def _read_best(info: Path) -> tuple[float, int]:
    """``best.json``'s metric and step, validated: a bad file is one line naming it."""
    try:
        d = json.loads(info.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        d = e
    ok = (isinstance(d, dict) and isinstance(d.get("metric"), int | float) and not isinstance(d.get("metric"), bool)
          and math.isfinite(d["metric"]) and isinstance(d.get("step"), int) and not isinstance(d.get("step"), bool)
          and d["step"] >= 0)
    if not ok:
        got = f"{type(d).__name__}: {d}" if isinstance(d, Exception) else repr(d)[:80]
        raise DataError(f"{info} must hold {{\"metric\": <finite number>, \"step\": <int >= 0>}}, got {got}; "
                        "it is rebuilt from best.pt if you delete it and resume")
    return float(d["metric"]), int(d["step"])
