"""The explorer's state: the recognition tab's classifier and the DCGAN tab's live runs.

The classifier is trained once in the background (or loaded from a run folder)
and shared: visitors only read it. Each browser session gets its own live DCGAN
(:class:`GanSessions`), so one visitor's steps or reset never touch another's run.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import experiments as ex
from .._checks import ArgumentError, check_float, check_int, check_option, check_whole, fail
from ..models import load_classifier, load_generator
from ..models.dcgan import LOSSES, load_data
from . import render

__all__ = ["DIGIT_SIZE", "FIXED_SEED", "GAN_DATA", "Classifier", "GanSession", "GanSessions"]

DIGIT_SIZE = 16


@dataclass
class Classifier:
    """The recognition tab's model: loaded from ``run`` or trained once on the bundled digits and cached.

    ``start()`` begins background training when nothing is cached; ``status()``
    reports the progress; ``ready`` says when ``model`` and ``meta`` can be used.
    """

    cache_dir: Path
    run: str | None = None
    epochs: int = 6
    model: Any = None
    meta: dict | None = None
    error: str | None = None
    progress: float = 0.0
    message: str = "not started"
    # training waits for this (at most ``wait_s``): a first launch serves its page before it trains
    start_after: threading.Event | None = field(default=None, repr=False)
    wait_s: float = 20.0
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def run_dir(self) -> Path:
        return Path(self.run) if self.run else Path(self.cache_dir) / "classifier-digits"

    @property
    def ready(self) -> bool:
        return self.model is not None

    def _load(self) -> None:
        model, meta = load_classifier(self.run_dir)  # weights_only inside
        model.eval()
        self.model, self.meta = model, meta
        self.progress, self.message = 1.0, f"classifier loaded from {self.run_dir}"

    def _cached(self) -> bool:
        d = self.run_dir
        return d.is_dir() and (d / "DONE").is_file() and (d / "checkpoints" / "best.pt").is_file()

    def start(self, *, background: bool = True) -> None:
        """Load ``run`` (or the cached digits classifier), else train it, in a thread when ``background``."""
        with self._lock:
            if self.ready or (self._thread is not None and self._thread.is_alive()):
                return
            if self.run or self._cached():
                self._load()
                return
            self._thread = threading.Thread(target=self._train, name="convscope-explore-classifier", daemon=True)
            if background:
                self._thread.start()
        if not background:
            self._train()

    def _train(self) -> None:
        from .._io import atomic_write_text
        from ..models import CNNConfig
        from ..train.classify import TrainConfig, train_classifier

        out = self.run_dir
        if self.start_after is not None:
            self.message = "training a LeNet on the bundled digits starts once the page is up"
            self.start_after.wait(self.wait_s)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            cfg = CNNConfig(arch="lenet")
            for epoch in range(1, self.epochs + 1):  # one epoch per call: resume gives the progress
                self.message = f"training a LeNet on the bundled digits: epoch {epoch}/{self.epochs}"
                # an epoch-wise schedule (one epoch per call, each a resume that extends the run)
                tc = TrainConfig(data="digits", image_size=DIGIT_SIZE, epochs=epoch, batch_size=64, seed=0,
                                 device="cpu", keep_last=1, optimizer="adam", lr=2e-3, weight_decay=0.0,
                                 scheduler="step", label_smoothing=0.0)
                # epoch 1 starts anew: a launch killed mid-training leaves a partial run behind
                train_classifier(cfg, tc, out, resume=epoch > 1, overwrite=epoch == 1, quiet=True)
                self.progress = epoch / self.epochs
            atomic_write_text(out / "DONE", "trained by convscope explore\n")
            self._load()
        except Exception as e:  # reported in the page by status(); never kills the server
            self.error = f"{type(e).__name__}: {e}"
            self.message = f"training failed: {self.error}"

    def status(self) -> str:
        if self.error:
            return f"⚠ {self.message}"
        if self.ready:
            return f"✔ {self.message}"
        return f"⏳ {self.message} ({self.progress:.0%})"

    def wait(self, timeout: float | None = None) -> bool:
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.ready


GAN_DATA = "digits"
FIXED_SEED = 12345  # the fixed noise of the sample grid: one seed, so grids compare across steps


class GanSession:
    """The DCGAN tab's state: a live DCGAN (:func:`convscope.experiments.live_gan`, the training engine's GAN
    plugin stepped in memory) or a generator loaded with ``--gan``, and the history of the steps taken.

    Learning rates and the loss may change between steps; the sample grid's noise never does.
    """

    def __init__(self, *, run: str | None = None, image_size: int = 16, batch_size: int = 64, seed: int = 0):
        self.run = run
        self.image_size = image_size
        self.batch_size = batch_size
        self.seed = seed
        self.lock = threading.Lock()
        self.stepper = None
        self.G = None
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], "loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
        self.images_per_s = float("nan")
        self._real: np.ndarray | None = None

    def _build(self) -> None:
        if self.run:
            self.G, meta = load_generator(self.run)  # weights_only inside
            self.image_size = meta["model_config"].image_size
            self.step = int(meta.get("step") or 0)
        else:
            self.stepper = ex.live_gan(GAN_DATA, image_size=self.image_size, batch_size=self.batch_size,
                                       seed=self.seed)
            self.G = self.stepper.plugin.G

    @property
    def trainable(self) -> bool:
        return self.run is None

    def ensure(self) -> None:
        with self.lock:
            if self.G is None:
                self._build()

    def train(self, n: int = 1, *, lr_g: float = 2e-4, lr_d: float = 2e-4, loss: str = "bce") -> None:
        """``n`` alternating D/G updates with the given learning rates and loss
        (:func:`convscope.experiments.train_steps`)."""
        n = check_whole("updates", n, min_value=1)
        if n > 200:
            raise fail("updates", "at most 200 per call", n)
        lr_g = check_float("lr_g", lr_g, min_value=0.0, max_value=0.1, strict_min=True)
        lr_d = check_float("lr_d", lr_d, min_value=0.0, max_value=0.1, strict_min=True)
        loss = check_option("loss", loss, LOSSES)
        self.ensure()
        if not self.trainable:
            raise ArgumentError("steps need a live GAN: this explorer shows the generator loaded with --gan")
        with self.lock:
            r = ex.train_steps(self.stepper, n, lr_g=lr_g, lr_d=lr_d, loss=loss)
            self.step = r.steps[-1]
            for key, values in (("step", r.steps), ("loss_d", r.loss_d), ("loss_g", r.loss_g),
                                ("d_real", r.d_real), ("d_fake", r.d_fake)):
                self.history[key].extend(values)
            self.images_per_s = r.images_per_s

    def train_for(self, seconds: float, *, lr_g: float = 2e-4, lr_d: float = 2e-4, loss: str = "bce",
                  chunk: int = 10) -> int:
        """As many updates as fit in ``seconds`` (in chunks of ``chunk``); returns how many ran.

        Play trains by time, not by count, so that digits appear within a minute on a slow
        machine and a fast one does not stall the page.
        """
        seconds = check_float("seconds", seconds, min_value=0.0, max_value=5.0, strict_min=True)
        start, done = time.perf_counter(), 0
        while done == 0 or (time.perf_counter() - start < seconds and done < 200):
            self.train(chunk, lr_g=lr_g, lr_d=lr_d, loss=loss)
            done += chunk
        return done

    def real(self) -> np.ndarray:
        """A 4 × 4 grid of the training images (a seeded draw), beside the samples for comparison."""
        if self._real is None:
            x, *_ = load_data(GAN_DATA, image_size=self.image_size, split="train")
            pick = np.random.default_rng(FIXED_SEED).choice(len(x), 16, replace=False)
            self._real = self._tiles(x[pick].numpy(), 4)
        return self._real

    def _tiles(self, imgs: np.ndarray, cols: int) -> np.ndarray:
        tiles = [render.upscale(render.grey(im[0], -1.0, 1.0), max(1, 64 // self.image_size)) for im in imgs]
        return render.tile(tiles, cols=cols, gap=3)

    def samples(self) -> np.ndarray:
        """The 4 × 4 grid of the fixed noise (:func:`convscope.experiments.sample`)."""
        self.ensure()
        with self.lock:
            imgs = ex.sample(self.G, 16, seed=FIXED_SEED).images  # (16, C, S, S) in [-1, 1]
        return self._tiles(imgs, 4)

    def curves(self) -> dict[str, list]:
        h = self.history
        return render.rows(h["step"], {"loss D": h["loss_d"], "loss G": h["loss_g"], "D(x)": h["d_real"],
                                       "D(G(z))": h["d_fake"]}, x_name="step", y_name="value")

    def report(self) -> str:
        h = self.history
        if not h["step"]:
            src = f"generator loaded from {self.run}" if self.run else "untrained DCGAN on the bundled digits"
            return f"**step {self.step}**: {src}" + ("" if self.run else ": its samples are noise until it trains.")
        return (f"**step {self.step}**: loss D {h['loss_d'][-1]:.3f}, loss G {h['loss_g'][-1]:.3f}, "
                f"D(x) {h['d_real'][-1]:.3f}, D(G(z)) {h['d_fake'][-1]:.3f}; "
                f"{self.images_per_s:.0f} images/s in the last call.")

    def reset(self) -> None:
        with self.lock:
            self.G, self.stepper, self.step = None, None, 0
            for v in self.history.values():
                v.clear()
        self.ensure()


class GanSessions:
    """One live DCGAN per browser session, so that one visitor's steps or reset never touch another's run.

    Sessions are keyed by Gradio's session hash. At most ``max_sessions`` are
    kept (the least recently used is dropped first) and one idle for
    ``idle_s`` seconds is dropped, which bounds the memory a crowd of visitors
    can take. A generator loaded with ``run`` is read-only, so every visitor
    shares one :class:`GanSession` of it.
    """

    def __init__(self, *, run: str | None = None, max_sessions: int = 8, idle_s: float = 3600.0, **session_kw):
        self.run = run
        self.max_sessions = check_int("max_sessions", max_sessions, min_value=1)
        self.idle_s = check_float("idle_s", idle_s, min_value=0.0, strict_min=True)
        self._kw = session_kw
        self._shared = GanSession(run=run, **session_kw) if run else None
        self._live: OrderedDict[str, tuple[GanSession, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None) -> GanSession:
        """The session of browser session ``key`` (a new, untrained one on first use)."""
        if self._shared is not None:
            return self._shared
        key = str(key or "")
        now = time.monotonic()
        with self._lock:
            for k in [k for k, (_, t) in self._live.items() if now - t > self.idle_s]:
                del self._live[k]
            s = self._live.pop(key, (None, 0.0))[0] or GanSession(**self._kw)
            self._live[key] = (s, now)
            while len(self._live) > self.max_sessions:
                self._live.popitem(last=False)
        return s

    def drop(self, key: str | None) -> None:
        """Forget browser session ``key`` (its page was closed)."""
        with self._lock:
            self._live.pop(str(key or ""), None)

    def __len__(self) -> int:
        return len(self._live)
