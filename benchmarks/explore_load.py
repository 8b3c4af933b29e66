"""The explorer's heaviest requests: the server's peak RSS and each request's time.

Starts ``convscope explore`` as a process of its own (the digits classifier trained
first into a temporary cache), then sends, one case at a time, what a hostile or
careless client could:

* ``drawing``: an 8000×8000 PNG (a few hundred KB on disk) as the sketchpad drawing;
* ``theorem``: the convolution theorem with the largest kernel the tab allows, both variants;
* ``upload x5``: one 64-Mpx upload sent to five image endpoints at once;
* ``30 heavy``: 30 concurrent calls of the heaviest image endpoints.

For each case it reports the rise of the server's resident memory over its idle
level (sampled every 20 ms, from /proc) and the slowest answer. Targets: a single
request raises RSS by at most 1 GiB, 30 concurrent heavy calls peak under 2.5 GiB,
every call answers within 10 s. A refused request counts as answered.

    python benchmarks/explore_load.py              # every case
    python benchmarks/explore_load.py --case theorem
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CASES = ("drawing", "theorem", "upload x5", "30 heavy")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sampler:
    """The largest RSS of ``pid`` (and its children) while the ``with`` block runs."""

    def __init__(self, pid: int):
        self.proc, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()

    def _rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running())

    def __enter__(self):
        self.base = self._rss()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.rise = max(0, self.peak - self.base)


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    try:
        fn(*args, **kw)
        ok = "answered"
    except Exception as e:  # a refusal is an answer: the point is that it comes quickly
        ok = f"refused: {str(e).splitlines()[0][:60]}"
    return time.perf_counter() - t, ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=CASES, action="append", help="run only this case (repeatable)")
    args = ap.parse_args(argv)
    from gradio_client import Client, handle_file

    from convscope.explore import session
    from convscope.explore.tabs.theorem import MAX_KERNEL

    tmp = Path(tempfile.mkdtemp(prefix="convscope-load-"))
    cache = tmp / "xdg" / "convscope" / "explore"
    session.Classifier(cache_dir=cache, epochs=1).start(background=False)
    flat = tmp / "flat.png"
    Image.new("RGBA", (8000, 8000), (255, 255, 255, 0)).save(flat)  # small on disk, 64 Mpx decoded
    port = _free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "xdg"), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "convscope", "explore", "--no-browser", "--quiet", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):
            try:
                c = Client(url, verbose=False, download_files=False)
                break
            except Exception:
                time.sleep(0.1)
        c.predict("camera", None, "gaussian:9", True, api_name="/theorem")  # warm
        time.sleep(1.0)
        rows = []
        for case in args.case or CASES:
            with Sampler(proc.pid) as s:
                if case == "drawing":
                    d = {"background": handle_file(str(flat)), "layers": [], "composite": handle_file(str(flat))}
                    times = [_timed(c.predict, d, None, api_name="/predict")]
                elif case == "theorem":
                    times = [_timed(c.predict, "camera", None, f"box:{MAX_KERNEL}", pad, api_name="/theorem")
                             for pad in (True, False)]
                elif case == "upload x5":
                    f = handle_file(str(flat))  # 64 Mpx, small enough on disk to pass the upload limit
                    calls = [("/feature_maps", ("camera", f, {"headers": ["1", "2", "3"], "data": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]}, "max", 2)),
                             ("/theorem", ("camera", f, "gaussian:9", True)),
                             ("/spectrum", ("camera", f)),
                             ("/filter", ("camera", f, "lowpass", 0.1, "ideal", 0.05, 2.0)),
                             ("/predict", (None, f))]
                    with ThreadPoolExecutor(5) as pool:
                        times = list(pool.map(lambda a: _timed(Client(url, verbose=False).predict, *a[1],
                                                               api_name=a[0]), calls))
                else:
                    calls = [("/theorem", ("camera", None, "gaussian:31", i % 2 == 0)) if i % 3 == 0 else
                             ("/diffuse", (4.0, 6.0, "circular", "image", "camera")) if i % 3 == 1 else
                             ("/filter", ("camera", None, "lowpass", 0.1, "butterworth", 0.05, 2.0))
                             for i in range(30)]
                    clients = [Client(url, verbose=False) for _ in range(6)]
                    with ThreadPoolExecutor(30) as pool:
                        times = list(pool.map(lambda ia, cl=clients: _timed(cl[ia[0] % 6].predict, *ia[1][1],
                                                                            api_name=ia[1][0]), enumerate(calls)))
            worst = max(t for t, _ in times)
            kinds = sorted({k for _, k in times})
            rows.append((case, s.rise / 2**20, worst, kinds))
            print(f"{case:10s}  RSS rise {s.rise / 2**20:7.0f} MiB  slowest {worst:6.2f} s  {'; '.join(kinds)}",
                  flush=True)
            time.sleep(1.0)
    finally:
        proc.terminate()
        proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
