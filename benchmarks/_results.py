"""Shared benchmark plumbing: timing, the machine description, and RESULTS.md sections.

Each benchmark script owns one section of ``benchmarks/RESULTS.md`` between
``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers and rewrites only that.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """One line describing where the numbers were measured."""
    import numpy as np
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    dev = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}{dev}; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}"
    )


def load_note() -> str:
    """How busy the machine was while measuring (the 1-minute load average)."""
    try:
        la = os.getloadavg()[0]
    except OSError:
        return "load average unknown"
    busy = "quiet" if la < 0.5 * (os.cpu_count() or 1) + 1.0 else "shared with other jobs, so timings are noisy"
    return f"1-minute load average {la:.1f} on {os.cpu_count()} cores when measured ({busy})"


def timeit(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.05, sync: Callable[[], None] | None = None) -> float:
    """Median seconds per call; each sample runs enough calls to last ``min_time``."""
    fn()  # warm up (allocations, autotune caches)
    if sync:
        sync()
    t0 = time.perf_counter()
    fn()
    if sync:
        sync()
    one = max(time.perf_counter() - t0, 1e-7)
    n = max(1, int(min_time / one))
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if sync:
            sync()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the ``name`` section of RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is written by the script it names; ratios are ours / peer's time (below 1 means we are faster).\n"
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
    return RESULTS
