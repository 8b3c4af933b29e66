"""Round trips of the explorer's callbacks through its HTTP API (gradio_client), on 256² images.

Starts the app on a free port in this process (or uses ``--url`` of one already
running), calls every interactive ``api_name`` ``--repeat`` times and reports
the median and p95 round trip; the target is <= 200 ms median on 2 cores,
diffusion at 10⁶ steps included. Training steps are reported as images/s.

Also ``--startup``: ``convscope explore --no-browser`` started as a process of its own,
timed from that start until headless Chromium shows the first tab's feature maps (target:
<= 10 s on 2 cores), with the digits classifier already cached and on a first launch
(which also trains it in the background).

    python benchmarks/explore_bench.py                 # full: 20 calls each
    python benchmarks/explore_bench.py --repeat 3      # a quick check
    python benchmarks/explore_bench.py --startup 3     # page-ready time, best and median of 3 starts
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 200.0
TARGET_STARTUP_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chrome():
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-background-networking", "--window-size=1400,1000"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def page_ready_s(drv, cache_home: Path) -> float:
    """Seconds from starting ``convscope explore --no-browser`` to the first tab's feature maps in ``drv``."""
    import os
    import subprocess
    import urllib.request

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "convscope", "explore", "--no-browser", "--quiet", "--port",
                             str(port)], env={**os.environ, "XDG_CACHE_HOME": str(cache_home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise RuntimeError(f"convscope explore did not come up (exit code {proc.poll()})")
            try:
                urllib.request.urlopen(url + "config", timeout=2).read()
                break
            except OSError:
                time.sleep(0.05)
        drv.get(url)
        while not drv.execute_script("return !!document.querySelector('#feature-maps img')"):
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("the first tab did not fill within 120 s")
            time.sleep(0.05)
        return time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)


def startup(n: int) -> dict:
    from convscope.explore import session as callbacks

    cached_home = Path(tempfile.mkdtemp(prefix="explore-start-"))
    callbacks.Classifier(cache_dir=cached_home / "convscope" / "explore", epochs=1).start(background=False)
    drv = _chrome()
    try:
        cached = sorted(page_ready_s(drv, cached_home) for _ in range(n))
        first = sorted(page_ready_s(drv, Path(tempfile.mkdtemp(prefix="explore-first-"))) for _ in range(n))
    finally:
        drv.quit()
    out = {"cached_s": cached, "first_launch_s": first}
    for name, ts in out.items():
        print(f"page ready ({name[:-2].replace('_', ' ')}): best {ts[0]:.2f} s, median {statistics.median(ts):.2f} s "
              f"over {n} starts; target <= {TARGET_STARTUP_S:.0f} s: {'ok' if ts[0] <= TARGET_STARTUP_S else 'SLOW'}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=None, help="a running explorer (default: start one here)")
    ap.add_argument("--repeat", type=int, default=20, help="calls per api_name (default 20)")
    ap.add_argument("--gan-steps", type=int, default=20, help="updates per timed GAN call (default 20)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--startup", type=int, default=0, metavar="N",
                    help="instead, time N starts of `convscope explore` to a ready page (needs chromium)")
    args = ap.parse_args(argv)
    if args.startup:
        res = startup(args.startup)
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
        return 0 if res["cached_s"][0] <= TARGET_STARTUP_S else 1

    import numpy as np
    from PIL import Image

    demo = None
    tmp = Path(tempfile.mkdtemp(prefix="explore-bench-"))
    if args.url is None:
        from convscope.explore import build_app, launch
        from convscope.explore import session as callbacks

        callbacks.Classifier(cache_dir=tmp, epochs=1).start(background=False)  # predict needs a model
        t0 = time.perf_counter()
        demo = build_app(cache=tmp)
        url = launch(demo, port=_free_port(), browser=False, block=False, quiet=True)
        print(f"server up in {time.perf_counter() - t0:.2f} s at {url}")
    else:
        url = args.url
    from gradio_client import Client, handle_file

    c = Client(url, verbose=False, download_files=False)
    digit = tmp / "digit.png"
    a = np.zeros((64, 64), np.uint8)
    a[12:52, 28:36] = 255
    Image.fromarray(a).save(digit)
    grid = {"headers": ["1", "2", "3"], "data": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]}
    # the 256² bundled photographs (every image tab works on a 256×256 crop)
    calls = {
        "kernel_grid": ("gaussian", 5, 1.2),
        "feature_maps": ("astronaut", None, grid, "max", 2),
        "pixel": ("astronaut", None, grid, 0, 100, 100),
        "theorem": ("camera", None, "gaussian:9", False),
        "spectrum": ("camera", None),
        "filter": ("camera", None, "lowpass", 0.08, "ideal", 0.05, 2.0),
        "diffuse": (4.0, 6.0, "symmetric", "image", "camera"),  # 10⁶ steps of a 128² image
        "fractional": (3, 2, 1, 3),
        "classifier_status": (),
        "predict": (None, handle_file(str(digit))),
        "filters": (),
        "gan_samples": (),
        "gan_walk": (1, 2, 8, "slerp"),
        "gan_spectrum": (),
    }
    rows = []
    for name, inputs in calls.items():
        c.predict(*inputs, api_name="/" + name)  # warm: caches, first imports
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            c.predict(*inputs, api_name="/" + name)
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        med = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        rows.append({"api_name": name, "median_ms": med, "p95_ms": p95, "ok": med <= TARGET_MS})
    # training: images/s, not a round trip
    batch = 64
    c.predict(1, 2e-4, 2e-4, "bce", api_name="/gan_step")
    t = time.perf_counter()
    reps = max(1, min(args.repeat, 5))
    for _ in range(reps):
        c.predict(args.gan_steps, 2e-4, 2e-4, "bce", api_name="/gan_step")
    dt = time.perf_counter() - t
    gan_ips = reps * args.gan_steps * batch / dt
    print(f"{'api_name':<18}{'median ms':>10}{'p95 ms':>10}  target <= {TARGET_MS:.0f} ms")
    for r in rows:
        print(f"{r['api_name']:<18}{r['median_ms']:>10.1f}{r['p95_ms']:>10.1f}  {'ok' if r['ok'] else 'SLOW'}")
    print(f"{'gan_step':<18} {gan_ips:.0f} images/s (batch {batch}, {args.gan_steps} updates per call, "
          "round trip included; training, not timed against the target)")
    if args.json:
        Path(args.json).write_text(json.dumps({"calls": rows, "gan_images_per_s": gan_ips}, indent=2) + "\n")
    if demo is not None:
        demo.close()
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
