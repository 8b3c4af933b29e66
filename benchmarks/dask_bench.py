"""Images larger than memory: ``convolve2d`` on a dask array vs ``dask_image.ndfilters.convolve``.

Both filter the same chunked float32 image (an uncompressed zarr on disk, read
chunk by chunk) with the same k x k kernel and the same chunks, ``same`` size
with the mirror boundary (ours ``symmetric`` = scipy.ndimage ``reflect``), and
write the result to an uncompressed zarr with ``dask.array.store``. Each case
runs in its own process, so its peak RSS (``ru_maxrss``) is its own; the time
covers the filtering and writing, not the imports. The outputs are compared.

Targets: ours <= 0.5x dask-image's time at k >= 31; peak memory
within 1.2x of dask-image's.

    python benchmarks/dask_bench.py            # 8192² (+ 16384² when RAM and disk allow), k 7/31/63, chunks 2048
    python benchmarks/dask_bench.py --quick    # 1024², chunks 256: proves the script in ~1 min

Needs ``pip install -e '.[scale]'``. Writes the ``dask`` section of RESULTS.md
(``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ENGINES = ("convscope", "dask-image")


def _zarr_create(path, shape, chunks, dtype="float32"):
    """An uncompressed zarr array (zarr 3 or 2): reading and writing cost the same for both engines."""
    import zarr

    if hasattr(zarr, "create_array"):
        return zarr.create_array(str(path), shape=shape, chunks=chunks, dtype=dtype, compressors=None, overwrite=True)
    return zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=dtype, compressor=None)


def _kernel(k: int) -> np.ndarray:
    return np.random.default_rng(k).standard_normal((k, k)).astype(np.float32) / k


def make_input(path: Path, n: int, chunks: int) -> None:
    import dask.array as da

    x = da.random.default_rng(0).standard_normal((n, n), chunks=chunks, dtype=np.float32)
    da.store(x, _zarr_create(path, (n, n), (chunks, chunks)), lock=False)


def worker(a) -> None:
    """One case in this process: filter ``a.input`` into ``a.output``; print time and peak RSS as JSON."""
    import resource
    import time

    import dask.array as da

    if a.worker == "convscope":
        from convscope.conv import convolve2d

        def run(x, w):
            return convolve2d(x, w, mode="same", boundary="symmetric")
    else:
        from dask_image.ndfilters import convolve

        def run(x, w):
            return convolve(x, w, mode="reflect")

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    x = da.from_zarr(a.input)
    w = _kernel(a.k)
    y = run(x, w)
    out = _zarr_create(a.output, y.shape, (a.chunks, a.chunks))
    t0 = time.perf_counter()
    da.store(y, out, lock=False, scheduler="threads", num_workers=a.threads)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "base_mb": base}))


def run_case(engine: str, inp: Path, out: Path, k: int, chunks: int, threads: int | None) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, "--input", str(inp), "--output", str(out),
           "--k", str(k), "--chunks", str(chunks)]
    if threads:
        cmd += ["--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(f"{engine} k={k} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def max_rel_diff(a_path: Path, b_path: Path, n: int, window: int = 1024) -> float:
    """Max |a-b| / max|b| over the corners and the centre (the whole array when small)."""
    import zarr

    a, b = zarr.open_array(str(a_path), mode="r"), zarr.open_array(str(b_path), mode="r")
    w = min(window, n)
    starts = sorted({0, (n - w) // 2, n - w})
    worst = 0.0
    for r in starts:
        for c in starts:
            ra, rb = a[r : r + w, c : c + w], b[r : r + w, c : c + w]
            worst = max(worst, float(np.abs(ra - rb).max() / max(np.abs(rb).max(), 1e-30)))
    return worst


def _mem_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1024² with 256 chunks: proves the script")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="image sides (default 8192 16384)")
    p.add_argument("--kernels", type=int, nargs="+", default=[7, 31, 63])
    p.add_argument("--chunks", type=int, default=None, help="chunk side (default 2048; 256 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="dask worker threads (default: dask's, one per core)")
    p.add_argument("--repeat", type=int, default=None, help="runs per case, fastest time and highest peak kept (default 2; 1 with --quick)")
    p.add_argument("--workdir", default=None, help="folder for the zarr images (default: a temporary one)")
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    # internal: one case in a subprocess
    p.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--output", help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(a)
        return 0

    from _results import load_note, machine, table, write_section

    sizes = a.sizes or ([1024] if a.quick else [8192, 16384])
    chunks = a.chunks or (256 if a.quick else 2048)
    a.repeat = a.repeat or (1 if a.quick else 2)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="dask_bench."))
    work.mkdir(parents=True, exist_ok=True)
    rows, skipped = [], []
    try:
        for n in sizes:
            nbytes = n * n * 4
            free_disk = shutil.disk_usage(work).free
            if n > 8192 and (_mem_available() < 4 * nbytes or free_disk < 4 * nbytes):
                skipped.append(f"{n}² skipped: needs {4 * nbytes / 2**30:.0f} GiB of free RAM and disk")
                continue
            inp = work / f"input_{n}.zarr"
            make_input(inp, n, chunks)
            for k in a.kernels:
                res = {}
                for engine in ENGINES:
                    runs = [run_case(engine, inp, work / f"out_{engine}.zarr", k, chunks, a.threads) for _ in range(a.repeat)]
                    res[engine] = {
                        "seconds": min(r["seconds"] for r in runs),
                        "peak_mb": max(r["peak_mb"] for r in runs),
                        "base_mb": min(r["base_mb"] for r in runs),
                    }
                diff = max_rel_diff(work / "out_convscope.zarr", work / "out_dask-image.zarr", n)
                ours, peer = res["convscope"], res["dask-image"]
                t_ratio = ours["seconds"] / peer["seconds"]
                m_ratio = ours["peak_mb"] / peer["peak_mb"]
                work_ratio = (ours["peak_mb"] - ours["base_mb"]) / max(peer["peak_mb"] - peer["base_mb"], 1.0)
                row = [
                    f"{n}²", k, f"{chunks}²",
                    f"**{t_ratio:.2f}**" + (" ✓" if k < 31 or t_ratio <= 0.5 else " ✗"),
                    f"{ours['seconds']:.2f} / {peer['seconds']:.2f}",
                    f"**{m_ratio:.2f}**" + (" ✓" if m_ratio <= 1.2 else " ✗"),
                    f"{work_ratio:.2f}",
                    f"{ours['peak_mb']:.0f} / {peer['peak_mb']:.0f}",
                    f"{diff:.1e}",
                ]
                rows.append(row)
                print(" | ".join(str(c) for c in row), flush=True)
            shutil.rmtree(inp, ignore_errors=True)
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    header = ["image", "k", "chunks", "time ours/dask-image", "s ours / dask-image", "peak RSS ours/dask-image",
              "peak above imports, ours/dask-image", "peak MB ours / dask-image", "max rel diff"]
    threads = a.threads or os.cpu_count()
    text = (
        "## Images larger than memory (benchmarks/dask_bench.py)\n\n"
        f"Machine: {machine()}.\n\n"
        f"{load_note().capitalize()}. `convolve2d(x, w, mode='same', boundary='symmetric')` on a dask array "
        "against `dask_image.ndfilters.convolve(x, w, mode='reflect')` (the same filter), float32, the same "
        f"chunks, {threads} dask threads; input and output are uncompressed zarr on disk, each case runs in its own "
        f"process (best time and highest peak RSS of {a.repeat} runs). Ratios are ours / dask-image: below 1 "
        "means convscope is faster or smaller. Targets: time ≤ 0.5× at k ≥ 31, peak RSS ≤ 1.2×. "
        "\"Peak above imports\" leaves out what importing each library costs (torch for convscope).\n"
        + (f"\nRun with `--quick` ({sizes[0]}²): proves the script; the full run is "
           "`python benchmarks/dask_bench.py` on an idle machine.\n" if a.quick else "")
        + "".join(f"\n{s}.\n" for s in skipped)
        + "\n" + table(header, rows) + "\n"
    )
    print(text)
    if not a.no_write:
        print(f"wrote {write_section('dask', text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
