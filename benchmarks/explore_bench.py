"""Round trips of the explorer's callbacks through its HTTP API (gradio_client), on 256² images.

Starts the app on a free port in this process (or uses ``--url`` of one already
running), calls every interactive ``api_name`` ``--repeat`` times and reports
the median and p95 round trip; the target is <= 200 ms median on 2 cores,
diffusion at 10⁶ steps included. Training steps are reported as images/s.

    python benchmarks/explore_bench.py                 # full: 20 calls each
    python benchmarks/explore_bench.py --repeat 3      # a quick check
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=None, help="a running explorer (default: start one here)")
    ap.add_argument("--repeat", type=int, default=20, help="calls per api_name (default 20)")
    ap.add_argument("--gan-steps", type=int, default=20, help="updates per timed GAN call (default 20)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    import numpy as np
    from PIL import Image

    demo = None
    tmp = Path(tempfile.mkdtemp(prefix="explore-bench-"))
    if args.url is None:
        from convscope.explore import build_app, callbacks, launch

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
