"""Training machinery shared by the classifier and the DCGAN.

* :mod:`.checkpoint`: atomic, weights-only checkpoints, RNG state, last-N + best.
* :mod:`.logging`: metrics to JSONL + CSV (+ TensorBoard when installed).
* :mod:`.distributed`: torchrun / DDP helpers (gloo on CPU, nccl on CUDA).
"""

from .checkpoint import (
    CheckpointManager,
    config_diff,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    to_plain,
)
from .logging import MetricLogger, read_jsonl

__all__ = [
    "CheckpointManager",
    "MetricLogger",
    "config_diff",
    "load_checkpoint",
    "read_jsonl",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "to_plain",
]
