"""One training engine: the classifier and the DCGAN plug their steps into it.

The engine owns everything the two trainers share, written once:

* the run folder (:class:`RunFolder`): one run of one kind per folder. A
  non-empty folder is refused unless ``resume`` (same kind, same settings) or
  ``overwrite`` (the old run is moved aside to ``RUN.old-<time>``, never
  interleaved). An advisory lock (``fcntl.flock``, held for the whole run)
  makes a second process refuse the folder; the kernel drops it when a process
  dies, so a killed run never blocks the next. ``dry_run`` writes only to a
  temporary folder, removed afterwards;
* the checkpoint schema (:mod:`convscope._checkpoint`), ``RUN/checkpoints/``
  (last N + best), ``run.json`` (kind, configs, data, final numbers),
  ``metrics.jsonl``/``.csv``, and ``failure.txt`` when training fails;
* :func:`check_resume`: the saved settings against the new ones, listing every difference;
* the interrupt flag (SIGINT and SIGTERM, agreed across DDP ranks): save, then
  return with ``stopped="interrupted"``;
* the health checks: non-finite input images are refused at load time, and a
  non-finite loss stops training at that step, naming the likely cause and
  keeping the last good checkpoint;
* progress bars and one-line messages (rank 0 only), and :class:`TrainRun`, what every trainer returns.

A trainer is a :class:`Plugin`: it builds its models from the configs (and
a checkpoint when resuming), runs one step at a time and says what to log
and save.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import _checkpoint as ckpt
from .._checks import ArgumentError, ConvscopeError, DataError
from .._io import atomic_write_text
from . import distributed as D
from .checkpoint import CheckpointManager, config_diff
from .logging import MetricLogger, read_jsonl, validate_logs
from .loop import InterruptFlag, progress_bar, resolve_device

try:  # advisory locks are POSIX; elsewhere a run folder is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = [
    "RUN_FILE",
    "LOCK_FILE",
    "TrainRun",
    "EpochEnd",
    "Plugin",
    "Context",
    "TrainingError",
    "RunFolder",
    "check_resume",
    "check_finite_images",
    "saved_settings",
    "run_training",
    "Stepper",
]

RUN_FILE = "run.json"
LOCK_FILE = ".convscope.lock"
FAILURE_FILE = "failure.txt"


class TrainingError(ConvscopeError, RuntimeError):
    """Training stopped because it failed (non-finite loss, D winning completely); the last good checkpoint is kept."""


@dataclass
class TrainRun:
    """What every trainer returns."""

    kind: str
    run_dir: Path
    step: int
    epoch: int
    stopped: str  # "done" | "max_steps" | "time_limit" | "interrupted" | "dry_run"
    checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    best_metric: float | None = None
    metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    images_per_s: float = 0.0
    rank: int = 0
    signal: int | None = None
    models: dict = field(default_factory=dict)
    moved_aside: Path | None = None

    @property
    def model(self) -> torch.nn.Module | None:
        """The trained network (the generator for a DCGAN)."""
        return self.models.get("model", self.models.get("G"))

    @property
    def interrupted(self) -> bool:
        return self.stopped == "interrupted"

    @property
    def exit_code(self) -> int:
        """0, or 128 + the signal number after an interrupt (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + int(self.signal or 2) if self.interrupted else 0


@dataclass
class EpochEnd:
    """What a plugin reports at the end of an epoch (or of a stopped part of one)."""

    record: dict | None = None  # logged at the current step
    metric: float | None = None  # lower is better; picks best.pt
    message: str | None = None


@dataclass
class Context:
    """Where and how a plugin runs."""

    device: torch.device
    rank: int
    world: int
    main: bool
    run_dir: Path
    dry_run: bool
    resume_from: Path | None = None


class Plugin:
    """The trainer-specific half. Subclasses set :attr:`kind` and implement the methods below."""

    kind: str = ""
    may_change: tuple[str, ...] = ()
    log_steps: bool = False  # log every step's record (the GAN) or only the epoch's (the classifier)
    epochs: int = 1
    max_steps: int | None = None
    time_limit_s: float | None = None

    def begin_epoch(self, epoch: int, first_batch: int) -> int:
        """Prepare ``epoch`` (from ``first_batch`` when resuming inside it); return its number of batches."""
        raise NotImplementedError

    def step(self, epoch: int, batch: int, step: int) -> tuple[dict, int]:
        """Optimisation step number ``step`` (from 1): ``(numbers, images)``; every number must be finite."""
        raise NotImplementedError

    def end_epoch(self, epoch: int, completed: bool) -> EpochEnd:
        return EpochEnd()

    def state(self) -> dict:
        """``models``, ``optimizers``, ``schedulers``, ``generators``, ``configs``, ``metrics``, ``extra``."""
        raise NotImplementedError

    def final_metrics(self) -> dict:
        return {}

    def finish(self, run_dir: Path, history: list[dict]) -> None:
        """After training, on the main process, outside a dry run: last pictures of the whole run."""

    def run_info(self) -> dict:
        """What ``run.json`` records besides kind and final numbers (configs, data)."""
        return {}

    def nonfinite_cause(self) -> str:
        return "the learning rate is likely too high"

    def models(self) -> dict:
        return {}


# ---------------------------------------------------------------- checks


def check_resume(saved: Mapping[str, Mapping], now: Mapping[str, Mapping], may_change: Iterable[str], *,
                 path: str | os.PathLike) -> None:
    """Refuse to resume when a setting outside ``may_change`` differs, listing every difference.

    ``saved`` and ``now`` map a section ("model", "train") to its settings.

    >>> check_resume({"model": {"nz": 8}}, {"model": {"nz": 16}}, (), path="run")
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: cannot resume from run: the settings differ from the checkpoint's (nz: 8 -> 16); use the saved settings, --overwrite to start over, or a new --out
    """
    skip = set(may_change)
    diffs: list[str] = []
    for section in sorted(set(saved) | set(now)):
        a = {k: v for k, v in dict(saved.get(section) or {}).items() if k not in skip}
        b = {k: v for k, v in dict(now.get(section) or {}).items() if k not in skip}
        diffs += config_diff(a, b)
    if diffs:
        raise ArgumentError(f"cannot resume from {path}: the settings differ from the checkpoint's "
                            f"({'; '.join(diffs)}); use the saved settings, --overwrite to start over, or a new --out")


def check_finite_images(x: torch.Tensor, source: str) -> None:
    """Refuse training images holding NaN or Inf (they would end in a non-finite loss), counting them."""
    if x.numel() == 0 or not x.dtype.is_floating_point:
        return
    bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(1)
    k = int(bad.sum())
    if k:
        first = int(bad.nonzero()[0])
        raise DataError(f"the training data {source} hold {k} image{'s' if k != 1 else ''} with NaN or Inf pixels "
                        f"(of {x.shape[0]}; the first is #{first}): training on them makes the loss non-finite; "
                        "fix or remove them")


def _run_file_kind(run_dir: Path) -> str | None:
    """The kind of run in ``run_dir`` from its metadata (validated), None when it records none."""
    p = run_dir / RUN_FILE
    if p.is_file():
        try:
            d = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise DataError(f"{p} must be a JSON object, got unreadable text ({type(e).__name__}); it is rewritten "
                            "from the checkpoint if you delete it and resume") from None
        if not isinstance(d, dict):
            raise DataError(f"{p} must be a JSON object, got a {type(d).__name__}; it is rewritten from the "
                            "checkpoint if you delete it and resume")
        kind = d.get("kind")
        if kind is None and "model_config" in d:  # convscope 0.1.0's GAN run
            return "dcgan"
        if kind is not None and kind not in ckpt.KINDS:
            raise DataError(f"{p} must record a kind among {list(ckpt.KINDS)}, got {kind!r}")
        return kind
    if (run_dir / "config.json").is_file():  # convscope 0.1.0's classifier run
        return "classifier"
    return None


def _check_kind(out: Path, kind: str) -> None:
    found = _run_file_kind(out) if out.is_dir() else None
    if found is not None and found != kind:
        raise ArgumentError(f"{out} holds a {found} run, not a {kind} run; choose another --out")


def saved_settings(out: str | os.PathLike, kind: str) -> dict | None:
    """The configs of the run in ``out`` (``{"model": {...}, "train": {...}}``), None when it has no checkpoint.

    Front-ends merge the options a user gave on ``--resume`` into these.
    """
    _check_kind(Path(out), kind)
    try:
        state, _ = ckpt.read_checkpoint(out, kind)
    except ArgumentError as e:
        if not Path(out).is_dir() or "holds no checkpoint" in str(e):
            return None
        raise
    return {"model": dict(state["configs"]["model"]), "train": dict(state["configs"]["train"])}


# ---------------------------------------------------------------- the run folder


class RunFolder:
    """One run of one kind per folder: the lock, the refusal, ``--overwrite``, ``--dry-run``.

    Inside the ``with`` block :attr:`path` is where to write (a temporary
    folder under ``dry_run``) and :attr:`resume_from` the checkpoint to
    continue from (None for a new run). Entries named in ``keep`` (e.g. the
    selection pass that ``classify train --final`` nests inside its run) are
    neither refused nor moved aside.
    """

    def __init__(self, out: str | os.PathLike, kind: str, *, resume: bool = False, overwrite: bool = False,
                 dry_run: bool = False, main: bool = True, say: Callable[[str], None] = lambda m: None,
                 keep: Iterable[str] = ()):
        if resume and overwrite:
            raise ArgumentError("resume and overwrite exclude each other: --resume continues the run in the folder, "
                                "--overwrite moves it aside and starts a new one")
        self.out, self.kind = Path(out), kind
        self.resume, self.overwrite, self.dry_run, self.main, self.say = resume, overwrite, dry_run, main, say
        self.keep = frozenset(keep)
        self.path = self.out
        self.resume_from: Path | None = None
        self.moved_aside: Path | None = None
        self._fd: int | None = None

    def __enter__(self) -> RunFolder:
        try:
            err = None
            if self.main:
                try:
                    self._prepare()
                except ConvscopeError as e:
                    err = e
            if D.is_distributed():  # every rank refuses together, and agrees on the checkpoint
                msg, where = D.broadcast_object((str(err) if err else None,
                                                 str(self.resume_from) if self.resume_from else None))
                if msg and err is None:
                    err = ArgumentError(msg)
                self.resume_from = Path(where) if where else None
            if err is not None:
                raise err
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing drops the flock
            self._fd = None
        if self.dry_run and self.path != self.out:
            shutil.rmtree(self.path, ignore_errors=True)

    def _existing_checkpoint(self) -> Path | None:
        try:
            return ckpt.resolve_checkpoint(self.out) if self.out.is_dir() else None
        except ArgumentError:
            return None

    def _prepare(self) -> None:
        if self.dry_run:
            self.path = Path(tempfile.mkdtemp(prefix="convscope-dry-run-"))
            if self.resume:
                self._check_resumable(self._entries())
            return
        if self.out.exists() and not self.out.is_dir():
            raise ArgumentError(f"out must be a folder, got {str(self.out)!r} (a file)")
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock()
        entries = self._entries()
        if not entries:
            if self.resume:
                self.say(f"no checkpoint in {self.out}: starting a new run")
            return
        if self.overwrite:
            self._move_aside(entries)
        elif self.resume:
            self._check_resumable(entries)
        else:
            names = ", ".join(sorted(p.name for p in entries)[:4]) + (", ..." if len(entries) > 4 else "")
            raise ArgumentError(f"{self.out} already holds a run ({names}); pass --resume to continue it, "
                                "--overwrite to move it aside and start anew, or choose another --out")

    def _entries(self) -> list[Path]:
        if not self.out.is_dir():
            return []
        return [p for p in self.out.iterdir() if p.name != LOCK_FILE and p.name not in self.keep]

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        lock = self.out / LOCK_FILE
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            with contextlib.suppress(OSError):
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise ArgumentError(f"{self.out} is in use by another convscope run (process {pid or '?'}); wait for it "
                                "to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _move_aside(self, entries: list[Path]) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.out.with_name(f"{self.out.name}.old-{stamp}")
        i = 1
        while aside.exists():
            aside = self.out.with_name(f"{self.out.name}.old-{stamp}-{i}")
            i += 1
        aside.mkdir()
        for p in entries:
            os.replace(p, aside / p.name)
        self.moved_aside = aside
        self.say(f"moved the previous run in {self.out} to {aside}")

    def _check_resumable(self, entries: list[Path]) -> None:
        if not entries:
            self.say(f"no checkpoint in {self.out}: starting a new run")
            return
        _check_kind(self.out, self.kind)
        validate_logs(self.out)
        found = self._existing_checkpoint()
        if found is None:
            names = ", ".join(sorted(p.name for p in entries)[:4])
            raise ArgumentError(f"{self.out} holds files ({names}) but no checkpoint to resume from; pass --overwrite "
                                "to move them aside and start anew, or choose another --out")
        self.resume_from = found


# ---------------------------------------------------------------- the loop


def _say_fn(log: Callable[[str], None] | None, quiet: bool) -> Callable[[str], None]:
    def say(msg: str) -> None:
        if not D.is_main_process():
            return
        if log is not None:
            log(msg)
        elif not quiet:
            print(msg, file=sys.stderr, flush=True)

    return say


class Stepper:
    """A plugin driven one optimisation step at a time, in memory: the engine's loop without its files.

    No run folder, checkpoint, log or signal handling; epochs roll over as in
    :func:`run_training` (``begin_epoch`` when one starts, ``end_epoch`` when it
    completes) and a non-finite number raises :class:`TrainingError`, as there.
    For a live session (the explorer's DCGAN); build the plugin with
    ``Context(run_dir=...)`` pointing anywhere and its file-writing options off.
    """

    def __init__(self, plugin: Plugin):
        self.plugin = plugin
        self.step = 0
        self.epoch = 0
        self._batch = 0
        self._n: int | None = None  # batches in the current epoch; None before the first

    def __call__(self) -> tuple[dict[str, float], int]:
        """One step: ``(numbers, images)``."""
        p = self.plugin
        for m in p.models().values():  # a live session may have sampled in eval mode between steps
            m.train()
        if self._n is not None and self._batch >= self._n:
            p.end_epoch(self.epoch, True)
            self.epoch, self._n = self.epoch + 1, None
        if self._n is None:
            self._n, self._batch = p.begin_epoch(self.epoch, 0), 0
        numbers, k = p.step(self.epoch, self._batch, self.step + 1)
        values = {name: float(v) for name, v in numbers.items()}
        bad = {name: v for name, v in values.items() if not math.isfinite(v)}
        if bad:
            shown = ", ".join(f"{name}={v}" for name, v in bad.items())
            raise TrainingError(f"the loss became non-finite at step {self.step + 1}: {shown}; {p.nonfinite_cause()}")
        self.step += 1
        self._batch += 1
        return values, k


def run_training(
    kind: str,
    build: Callable[[dict | None, Context], Plugin],
    out: str | os.PathLike,
    *,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
    quiet: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable | None = None,
    keep: Iterable[str] = (),
) -> TrainRun:
    """Run a trainer in the folder ``out``; the loop every trainer shares.

    ``keep`` names entries of ``out`` that belong to the run without being its own
    files (see :class:`RunFolder`).

    ``build(checkpoint, context)`` makes the :class:`Plugin`; ``checkpoint`` is
    the migrated state to resume from, or None. ``progress(iterable, total=,
    initial=, desc=)`` wraps each epoch's batches (default: a tqdm bar on rank 0
    unless ``quiet``); ``log`` gets one-line messages (default: stderr unless ``quiet``).
    """
    say = _say_fn(log, quiet)
    own_group = not D.is_distributed() and D.launched_by_torchrun()
    dev_arg = None if str(device) == "auto" else str(device)
    if dev_arg is not None:
        resolve_device(dev_arg)  # a missing device is one clear line, before anything else
    info = D.setup_distributed(device=dev_arg)
    try:
        dev = info.device if info.backend else resolve_device(device)
        main = D.is_main_process()
        with RunFolder(out, kind, resume=resume, overwrite=overwrite, dry_run=dry_run, main=main, say=say,
                       keep=keep) as folder:
            ck = None
            if folder.resume_from is not None:
                ck, file = ckpt.read_checkpoint(folder.resume_from, kind, map_location="cpu")
                say(f"resuming {folder.out} from {file.name} (step {ck['step']}, epoch {ck['epoch']}"
                    + (f", batch {ck['batch_in_epoch']}" if ck["batch_in_epoch"] else "") + ")")
            ctx = Context(dev, info.rank, info.world_size, main, folder.path, dry_run, folder.resume_from)
            plugin = build(ck, ctx)
            run = _loop(plugin, folder, ck, ctx, say, progress if progress is not None and main else None, quiet)
            run.moved_aside = folder.moved_aside
            return run
    finally:
        if own_group:
            D.cleanup()


def _write_run_file(path: Path, plugin: Plugin, final: dict | None) -> None:
    from .. import __version__

    d = {"kind": plugin.kind, "version": __version__, "schema": ckpt.SCHEMA, **plugin.run_info(), "final": final}
    atomic_write_text(path / RUN_FILE, json.dumps(d, indent=2, default=str) + "\n")


def _loop(plugin: Plugin, folder: RunFolder, ck: dict | None, ctx: Context, say, progress, quiet) -> TrainRun:
    from .. import __version__

    run_dir = ctx.run_dir
    manager = CheckpointManager(run_dir / ckpt.CHECKPOINT_DIR, keep_last=getattr(plugin, "keep_last", 3))
    step, epoch, batch = (int(ck["step"]), int(ck["epoch"]), int(ck["batch_in_epoch"])) if ck else (0, 0, 0)
    logger = MetricLogger(run_dir, enabled=ctx.main)
    if ck is not None:
        logger.truncate_after(step)
    if ctx.main:
        _write_run_file(run_dir, plugin, None)
    last_good = folder.resume_from if ck is not None and not ctx.dry_run else None
    if progress is None:
        def progress(it, **kw):
            return progress_bar(it, quiet=quiet, **kw)

    def save(metric: float | None) -> Path | None:
        st = plugin.state()  # every rank joins (the GAN gathers its noise streams)
        if not ctx.main:
            return None
        best = manager.best_metric
        if metric is not None and manager.is_better(metric, False, True):
            best = metric
        gens = st.pop("generators", {})
        full = {"format": ckpt.FORMAT, "schema": ckpt.SCHEMA, "kind": plugin.kind, "version": __version__,
                "models": st["models"], "optimizers": st["optimizers"], "schedulers": st.get("schedulers", {}),
                "rng": {"global": ckpt.rng_state(), "generators": gens},
                "step": step, "epoch": epoch, "batch_in_epoch": batch,
                "configs": st["configs"], "metrics": st.get("metrics", {}),
                "extra": {**st.get("extra", {}), "best_metric": best, "interrupted": stopped == "interrupted"}}
        return manager.save(full, step, metric=metric, higher_is_better=False, ties=True)

    def fail(msg: str) -> None:
        msg += (f"; kept the last good checkpoint {last_good}" if last_good else
                "; no checkpoint had been written yet")
        if ctx.main and not ctx.dry_run:
            atomic_write_text(run_dir / FAILURE_FILE, msg + "\n")
        logger.close()
        raise TrainingError(msg)

    stopped = "done"
    t_start = time.perf_counter()
    train_time, images = 0.0, 0
    with InterruptFlag() as flag:
        while epoch < plugin.epochs:
            n = plugin.begin_epoch(epoch, batch)
            bar = progress(range(batch, n), total=n, initial=batch, desc=f"epoch {epoch + 1}/{plugin.epochs}")
            for b in bar:
                t0 = time.perf_counter()
                try:
                    numbers, k = plugin.step(epoch, b, step + 1)
                except TrainingError as e:
                    fail(f"step {step + 1}: {e}")
                train_time += time.perf_counter() - t0
                images += k * ctx.world
                values = {name: float(v) for name, v in numbers.items()}
                bad = {name: v for name, v in values.items() if not math.isfinite(v)}
                if bad:
                    shown = ", ".join(f"{name}={v}" for name, v in bad.items())
                    fail(f"the loss became non-finite at step {step + 1} (epoch {epoch + 1}): {shown}; "
                         f"{plugin.nonfinite_cause()}")
                step += 1
                batch = b + 1
                if plugin.log_steps:
                    logger.log(step, epoch=epoch + 1, **values)
                if hasattr(bar, "set_postfix") and step % 10 == 0:
                    bar.set_postfix({name: f"{v:.3f}" for name, v in values.items()})
                if ctx.dry_run:
                    stopped = "dry_run"
                    break
                if flag.check():
                    stopped = "interrupted"
                    break
                if plugin.max_steps is not None and step >= plugin.max_steps:
                    stopped = "max_steps"
                    break
                if plugin.time_limit_s is not None and time.perf_counter() - t_start >= plugin.time_limit_s:
                    stopped = "time_limit"
                    break
            if hasattr(bar, "close"):
                bar.close()
            completed = batch >= n
            if completed:
                epoch, batch = epoch + 1, 0
            end = plugin.end_epoch(epoch - 1 if completed else epoch, completed)
            if end.record and ctx.main:
                logger.log(step, **end.record)
            last_good = save(end.metric) or last_good
            if end.message:
                say(end.message)
            if stopped != "done":
                break
            if flag.check():
                stopped = "interrupted"
                break
    ips = images / train_time if train_time > 0 else 0.0
    metrics = {**plugin.final_metrics(), "images_per_s": ips, "train_time_s": train_time}
    final = {"step": step, "epoch": epoch, "stopped": stopped, **metrics}
    history = read_jsonl(logger.jsonl) if ctx.main else []
    if ctx.main:
        _write_run_file(run_dir, plugin, final)
        if not ctx.dry_run:
            plugin.finish(run_dir, history)
    logger.close()
    D.barrier()
    if stopped == "interrupted":
        say(f"interrupted at step {step}: checkpoint saved in {folder.out}; continue with --resume")
    return TrainRun(kind=plugin.kind, run_dir=folder.out if not ctx.dry_run else run_dir, step=step, epoch=epoch,
                    stopped=stopped, checkpoint=None if ctx.dry_run else last_good,
                    best_checkpoint=None if ctx.dry_run else manager.best_path(), best_metric=manager.best_metric,
                    metrics=metrics, history=history, images_per_s=ips, rank=ctx.rank, signal=flag.signum,
                    models=plugin.models())
