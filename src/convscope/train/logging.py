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

from .._checks import DataError, check_regular_file, unreadable
from .._io import atomic_write_text

__all__ = ["MetricLogger", "read_jsonl", "validate_logs"]


def _clean(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):
        try:
            v = v.item()
        except (ValueError, RuntimeError):
            return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN/Inf
    return v


def _is_step(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_jsonl(path: str | os.PathLike, *, strict: bool = False) -> list[dict]:
    """Every complete record of a metrics JSONL file (a torn last line is ignored).

    ``strict=True`` checks every other line: it must be a JSON object with an
    integer ``step``; anything else raises :class:`DataError` naming the file and line.
    """
    p = Path(path)
    if not p.exists():
        return []
    check_regular_file("metrics file", p)
    try:
        lines = p.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p} cannot be read as text: {type(e).__name__}") from None
    out = []
    for i, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if strict and i < len(lines):
                raise DataError(f"{p} line {i} must be a JSON object, got text that does not parse") from None
            continue
        if not isinstance(rec, dict) or not _is_step(rec.get("step")):
            if strict:
                got = f"a {type(rec).__name__}" if not isinstance(rec, dict) else f"step {rec.get('step')!r}"
                raise DataError(f"{p} line {i} must be a JSON object with an integer 'step' >= 0, got {got}")
            continue
        out.append(rec)
    return out


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    """Header and rows of a metrics CSV, validated (a 'step' column of integers)."""
    check_regular_file("metrics file", path)  # a named pipe would block the read for ever
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise unreadable("metrics file", path, "cannot be read as CSV", e) from None
    if not rows:
        return [], []
    header = rows[0]
    if not header or header[0] != "step" or len(set(header)) != len(header):
        raise DataError(f"{path} must start with a header 'step,...' of distinct names")
    out = []
    for i, r in enumerate(rows[1:], 2):
        if not r:
            continue
        if len(r) > len(header) or not r[0].isdigit():
            raise DataError(f"{path} row {i} must have an integer step and at most {len(header)} columns, "
                            f"got {len(r)} columns")
        out.append(dict(zip(header, r + [""] * (len(header) - len(r)))))
    return header, out


def validate_logs(directory: str | os.PathLike) -> None:
    """Check ``metrics.jsonl`` and ``metrics.csv`` in ``directory``; a bad one is one :class:`DataError` line.

    Both logs are rebuilt by a run that starts afresh; the message says how.
    """
    d = Path(directory)
    hint = ("; move it aside and resume (the log then restarts at the checkpoint's step), "
            "or start over with --overwrite")
    for name, check in (("metrics.jsonl", lambda p: read_jsonl(p, strict=True)), ("metrics.csv", _read_csv)):
        p = d / name
        if p.is_file():
            try:
                check(p)
            except DataError as e:
                raise DataError(str(e) + hint) from None


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
            self._fields = _read_csv(self.csv)[0]
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
        return _read_csv(self.csv)[1] if self.csv.is_file() else []

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
            keep = [r for r in read_jsonl(self.jsonl) if r["step"] <= step]
            atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in keep))
        if self.csv.is_file() and self._fields:
            rows = [r for r in self._read_csv_rows() if int(r["step"]) <= step]
            self._rewrite_csv(rows)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> MetricLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
