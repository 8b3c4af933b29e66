"""Training: one engine that the classifier and the DCGAN plug their steps into.

* :mod:`.engine`: the shared loop, the run folder (one run of one kind, locked;
  ``--resume``/``--overwrite``/``--dry-run``), the resume check, the
  interrupt flag (SIGINT and SIGTERM, agreed across DDP ranks), the health
  checks and :class:`TrainRun`, what every trainer returns.
* :mod:`.classify` (:func:`train_classifier`; ``--final``'s :func:`train_final_classifier`,
  :func:`train_ensemble`, the recipe's network :func:`recipe_model`) and :mod:`.gan` (:func:`train_gan`): the two trainers.
* :mod:`.checkpoint`: the checkpoints of a run (last N + best); the file format
  itself is :mod:`convscope._checkpoint`, re-exported here.
* :mod:`.logging`: metrics to JSONL + CSV (+ TensorBoard when installed).
* :mod:`.distributed`: torchrun / DDP helpers (gloo on CPU, nccl on CUDA).
"""

from .checkpoint import (
    CheckpointManager,
    config_diff,
    load_checkpoint,
    read_checkpoint,
    resolve_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    to_plain,
)
from .classify import (
    FINAL_ENSEMBLE,
    RESUMABLE_CHANGES,
    TrainConfig,
    recipe_model,
    train_classifier,
    train_ensemble,
    train_final_classifier,
)
from .engine import RunFolder, TrainingError, TrainRun, check_resume, run_training, saved_settings
from .gan import PRESETS, RESUME_MAY_CHANGE, GANTrainConfig, train_gan
from .logging import MetricLogger, read_jsonl

__all__ = [
    "FINAL_ENSEMBLE",
    "PRESETS",
    "RESUMABLE_CHANGES",
    "RESUME_MAY_CHANGE",
    "CheckpointManager",
    "GANTrainConfig",
    "MetricLogger",
    "RunFolder",
    "TrainConfig",
    "TrainRun",
    "TrainingError",
    "check_resume",
    "config_diff",
    "load_checkpoint",
    "read_checkpoint",
    "read_jsonl",
    "recipe_model",
    "resolve_checkpoint",
    "rng_state",
    "run_training",
    "save_checkpoint",
    "saved_settings",
    "set_rng_state",
    "to_plain",
    "train_classifier",
    "train_ensemble",
    "train_final_classifier",
    "train_gan",
]
