"""Metric logs: JSON lines and CSV side by side, and TensorBoard when it is installed.

``metrics.jsonl`` gets one object per :meth:`MetricLogger.log` call;
``metrics.csv`` gets one row, and is rewritten with a wider header when a
new metric name appears. Both can be truncated back to a checkpoint's step on
resume so that a resumed run's log reads like an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from .._io import atomic_write_text

__all__ = ["MetricLogger", "read_jsonl"]


def _clean(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):
        try:
            v = v.item()
        except (ValueError, RuntimeError):
            return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN/Inf
    return v


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Every complete record of a JSONL file (a torn last line is ignored)."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class MetricLogger:
    """Append metrics to ``directory/metrics.jsonl`` and ``metrics.csv`` (and TensorBoard).

    ``enabled=False`` makes every method a no-op (non-zero DDP ranks).
    ``tensorboard=None`` uses TensorBoard only when its package is installed.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     log = MetricLogger(d, tensorboard=False)
        ...     log.log(1, loss=0.5)
        ...     log.log(2, loss=0.25, acc=0.9)
        ...     log.close()
        ...     print(Path(d, "metrics.csv").read_text().strip())
        step,loss,acc
        1,0.5,
        2,0.25,0.9
    """

    def __init__(self, directory: str | os.PathLike, *, enabled: bool = True, tensorboard: bool | None = None):
        self.enabled = enabled
        self.directory = Path(directory)
        self.jsonl = self.directory / "metrics.jsonl"
        self.csv = self.directory / "metrics.csv"
        self._fields: list[str] = []
        self._tb = None
        if not enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.csv.is_file():
            with self.csv.open(newline="") as f:
                self._fields = next(csv.reader(f), [])
        if tensorboard is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.directory / "tensorboard"))
            except ImportError:
                if tensorboard:
                    raise
                self._tb = None

    @property
    def tensorboard(self) -> bool:
        return self._tb is not None

    def log(self, step: int, **metrics: Any) -> None:
        """Record ``metrics`` at ``step``."""
        if not self.enabled:
            return
        rec = {"step": int(step), **{k: _clean(v) for k, v in metrics.items()}}
        with self.jsonl.open("a") as f:
            f.write(json.dumps({**rec, "time": round(time.time(), 3)}) + "\n")
            f.flush()
        new = [k for k in rec if k not in self._fields]
        if new:
            self._fields = self._fields + new if self._fields else list(rec)
            self._rewrite_csv([*self._read_csv_rows(), rec])
        else:
            with self.csv.open("a", newline="") as f:
                csv.DictWriter(f, self._fields).writerow(rec)
        if self._tb is not None:
            for k, v in rec.items():
                if k != "step" and isinstance(v, int | float):
                    self._tb.add_scalar(k, v, int(step))

    def _read_csv_rows(self) -> list[dict]:
        if not self.csv.is_file():
            return []
        with self.csv.open(newline="") as f:
            return list(csv.DictReader(f))

    def _rewrite_csv(self, rows: list[dict]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, self._fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(self.csv, buf.getvalue())

    def truncate_after(self, step: int) -> None:
        """Drop records with a step beyond ``step`` (on resume from that checkpoint)."""
        if not self.enabled:
            return
        if self.jsonl.is_file():
            keep = [r for r in read_jsonl(self.jsonl) if int(r.get("step", 0)) <= step]
            atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in keep))
        if self.csv.is_file() and self._fields:
            rows = [r for r in self._read_csv_rows() if r.get("step") and int(r["step"]) <= step]
            self._rewrite_csv(rows)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> MetricLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
