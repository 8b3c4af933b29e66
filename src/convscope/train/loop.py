"""Pieces of a training loop that the classifier and the DCGAN share.

* :func:`progress_bar`: tqdm, silent when stderr is not a TTY, with ``quiet``
  or on any process but rank 0.
* :func:`epoch_batches`: index batches over an in-memory dataset, shuffled by a
  generator seeded from ``(seed, epoch)`` alone, so an epoch's order never
  depends on what ran before (the basis of bit-identical resume, also
  mid-epoch), or taken from a ``DistributedSampler`` under DDP.
* :class:`InterruptFlag`: turns the first Ctrl-C (SIGINT) or SIGTERM into a flag
  the loop checks after each complete step, so the checkpoint written on the
  way out is consistent; a second signal interrupts at once.
* :func:`resolve_device` (refuses a device that is not here, listing those
  that are), :func:`set_seed`.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading

import numpy as np
import torch

from .._checks import ArgumentError, check_int
from . import distributed as D

__all__ = ["progress_bar", "epoch_batches", "epoch_generator", "InterruptFlag", "available_devices",
           "resolve_device", "set_seed"]


def progress_bar(iterable=None, *, quiet: bool = False, **kw):
    """A tqdm bar shown only on rank 0, on a terminal, and when not ``quiet``."""
    from tqdm.auto import tqdm

    disable = (quiet or os.environ.get("CONVSCOPE_QUIET") == "1" or not sys.stderr.isatty()
               or not D.is_main_process())
    return tqdm(iterable, disable=disable, dynamic_ncols=True, leave=False, **kw)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator that depends only on ``seed`` and ``epoch``."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1))


def epoch_batches(n: int, batch_size: int, *, epoch: int, seed: int, shuffle: bool = True,
                  sampler=None, drop_last: bool = False) -> list[torch.Tensor]:
    """Index tensors, one per batch, for ``epoch``.

    >>> [b.tolist() for b in epoch_batches(5, 2, epoch=0, seed=0, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    n = check_int("n", n, min_value=0)
    batch_size = check_int("batch_size", batch_size, min_value=1)
    if sampler is not None:
        sampler.set_epoch(epoch)
        order = torch.as_tensor(list(iter(sampler)), dtype=torch.int64)
    elif shuffle:
        order = torch.randperm(n, generator=epoch_generator(seed, epoch))
    else:
        order = torch.arange(n)
    out = list(order.split(batch_size))
    if drop_last and out and out[-1].numel() < batch_size:
        out.pop()
    return out


class InterruptFlag:
    """Context manager: SIGINT (Ctrl-C) or SIGTERM (a cluster pre-empting the job) sets :attr:`requested`.

    The loop checks the flag after each complete step, saves a consistent
    checkpoint and stops; a second signal raises ``KeyboardInterrupt`` at once.
    :attr:`signum` is the signal received (for the exit code, 128 + signum).
    Under DDP, :meth:`check` agrees across ranks (any rank interrupted -> all
    stop at the same step).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = False
        self.signum: int | None = None
        self._old: dict = {}

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signum = signum
        if D.is_main_process():
            name = signal.Signals(signum).name
            print(f"\nconvscope: interrupt received, saving a checkpoint ({name}; send it again to abort at once)",
                  file=sys.stderr, flush=True)

    def __enter__(self) -> InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handler) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old = {}

    def check(self) -> bool:
        """True when some process was interrupted (one tiny all-reduce under DDP)."""
        if D.is_distributed():
            t = torch.tensor([float(self.signum or 0) if self.requested else 0.0])
            D.all_reduce_sum(t)
            if t.item() > 0 and not self.requested:
                self.requested, self.signum = True, signal.SIGTERM
        return self.requested


def available_devices() -> list[str]:
    """The devices torch can use here: ``cpu``, then ``cuda:0``... and ``mps`` when present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` is CUDA when available, else the CPU; a device that is not here is refused.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ArgumentError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    avail = available_devices()
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ArgumentError(f"device must be an available device, got {str(device)!r}: no CUDA device is "
                                f"available; available devices: {', '.join(avail)}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ArgumentError(f"device must be an available device, got {str(device)!r}: there are "
                                f"{torch.cuda.device_count()} CUDA devices; available devices: {', '.join(avail)}")
    elif dev.type != "cpu" and str(dev.type) not in avail:
        raise ArgumentError(f"device must be an available device, got {str(device)!r}; "
                            f"available devices: {', '.join(avail)}")
    return dev


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    with contextlib.suppress(RuntimeError):
        torch.cuda.manual_seed_all(seed)
