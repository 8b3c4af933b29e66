"""Data-parallel training with ``torchrun``: gloo on the CPU, nccl on CUDA.

Launched by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``), :func:`setup_distributed` joins the process
group; run plainly it does nothing and every helper answers as for one process.
Only the main process (rank 0) should write files or show progress.

Multi-node: start the same command on every node with
``torchrun --nnodes N --nproc_per_node P --rdzv-backend c10d --rdzv-endpoint HOST:PORT --rdzv-id JOB ...``.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "setup_distributed",
    "is_distributed",
    "is_main_process",
    "rank",
    "world_size",
    "local_rank",
    "barrier",
    "cleanup",
    "wrap_ddp",
    "unwrap",
    "make_sampler",
    "all_reduce_sum",
    "broadcast_object",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None  # None when not distributed


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup_distributed(backend: str | None = None, *, device: str | None = None, timeout_s: float = 600) -> DistInfo:
    """Join the torchrun process group (no-op outside torchrun).

    ``backend`` defaults to ``nccl`` when CUDA is available and ``gloo``
    otherwise; each process then uses ``cuda:LOCAL_RANK`` (nccl) or the CPU.
    ``device`` ("cpu", "cuda") overrides the choice of device.
    """
    want_cuda = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
    lr = int(os.environ.get("LOCAL_RANK", 0))
    if not launched_by_torchrun():
        dev = torch.device(device) if device else torch.device("cuda" if want_cuda else "cpu")
        return DistInfo(0, 1, 0, dev, None)
    backend = backend or ("nccl" if want_cuda else "gloo")
    dev = torch.device(f"cuda:{lr}") if want_cuda else torch.device("cpu")
    if want_cuda:
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://",
                                timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(dist.get_rank(), dist.get_world_size(), lr, dev, backend)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0)) if is_distributed() else 0


def is_main_process() -> bool:
    """True on rank 0 (and always outside torchrun): the process that writes and talks."""
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if is_distributed():
        dist.destroy_process_group()


def wrap_ddp(model: torch.nn.Module, device: torch.device | None = None) -> torch.nn.Module:
    """``DistributedDataParallel`` around ``model`` when distributed, ``model`` otherwise."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    if device is not None and device.type == "cuda":
        return DDP(model, device_ids=[device.index])
    return DDP(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (for saving ``state_dict`` without ``module.``)."""
    return model.module if hasattr(model, "module") and isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def make_sampler(dataset, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
    """A ``DistributedSampler`` when distributed, else None (the caller shuffles itself)."""
    if not is_distributed():
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=shuffle, seed=seed,
                              drop_last=drop_last)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over all processes in place (identity when not distributed)."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_object(obj, src: int = 0):
    """Send a picklable object from ``src`` to every process (identity when not distributed).

    Only for objects this program made itself (it pickles between its own processes).
    """
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
