"""Checkpoint files: one schema for every trainer, atomic saves, safe loads, lookup, migration.

This module sits at the bottom of the house (next to :mod:`._io`) so that
``models`` can load what ``train`` wrote without importing ``train``.

* :func:`save_checkpoint` writes through a temporary file, fsyncs and renames:
  a crash (even SIGKILL) mid-save leaves the previous checkpoint intact.
* :func:`load_checkpoint` uses ``torch.load(weights_only=True)`` (tensors,
  numbers, strings and plain containers only, never arbitrary pickle). A file
  that is not one says so in one line; it never suggests switching safe
  loading off.
* :func:`resolve_checkpoint`: a run folder, its ``checkpoints/`` folder or a
  file -> the newest checkpoint file (or ``best.pt`` when asked).
* :func:`read_checkpoint`: resolve, load, check the kind and bring the dict to
  the current schema (:data:`SCHEMA`), migrating schema 1 (the two trainers' own layouts, before the one engine).

The schema (one flat dict, the same for the classifier and the DCGAN)::

    format      "convscope-checkpoint"
    schema      2
    kind        "classifier" | "dcgan"
    version     the convscope version that wrote it
    models      {name: state_dict}            classifier: model; dcgan: G, D
    optimizers  {name: state_dict}
    schedulers  {name: state_dict}            {} when none
    rng         {"global": rng_state(), "generators": {name: state}}
    step, epoch, batch_in_epoch               where training stands (position within the epoch)
    configs     {"model": dict, "train": dict}
    metrics     the last epoch's numbers
    extra       what one trainer needs besides (data description, fixed noise, history...)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._checks import ArgumentError, DataError
from ._io import atomic_save

__all__ = [
    "FORMAT",
    "SCHEMA",
    "KINDS",
    "CHECKPOINT_DIR",
    "to_plain",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_paths",
    "resolve_checkpoint",
    "migrate",
    "read_checkpoint",
    "rng_state",
    "set_rng_state",
]

FORMAT = "convscope-checkpoint"
SCHEMA = 2
KINDS = ("classifier", "dcgan")
CHECKPOINT_DIR = "checkpoints"  # RUN/checkpoints/ckpt-<step>.pt, best.pt, best.json
_STEP_FILE = re.compile(r"^ckpt-(\d+)\.pt$")
# what schema 1 called the kinds
_OLD_KINDS = {"convscope-classifier": "classifier", "convscope-dcgan": "dcgan"}
_KEYS = ("models", "optimizers", "schedulers", "rng", "step", "epoch", "batch_in_epoch", "configs", "metrics",
         "extra")


def to_plain(obj: Any) -> Any:
    """Make ``obj`` loadable with ``weights_only=True``.

    Dataclasses become dicts, paths strings, numpy arrays tensors and numpy
    scalars Python numbers; containers are converted recursively.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class C:
    ...     a: int = 1
    ...     b: tuple = (2, 3)
    >>> to_plain({"config": C(), "p": Path("x")})
    {'config': {'a': 1, 'b': (2, 3)}, 'p': 'x'}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(to_plain(v) for v in obj)
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename). Returns the path."""
    plain = to_plain(dict(state))
    return atomic_save(path, lambda f: torch.save(plain, f))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Read a checkpoint file with ``torch.load(weights_only=True)``; the dict as stored.

    A missing, corrupt or truncated file, or one holding anything but tensors
    and plain containers, raises :class:`DataError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # RuntimeError, UnpicklingError, EOFError, zipfile errors...
        text = str(e)
        found = re.search(r"unsupported GLOBAL (\S+)", text)
        if found or "Unsupported global" in text:
            what = f" (a reference to {found.group(1)})" if found else ""
            raise DataError(
                f"checkpoint {path} holds objects that weights-only loading refuses{what}: it is not a convscope "
                "checkpoint, or it was tampered with"
            ) from None
        raise DataError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}): it is not a convscope checkpoint, "
            "or it is damaged"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"checkpoint {path} must hold a dict, got {type(obj).__name__}: not a convscope checkpoint")
    return obj


# ---------------------------------------------------------------- finding checkpoints


def checkpoint_paths(directory: str | os.PathLike) -> list[Path]:
    """``ckpt-<step>.pt`` files in ``directory``, oldest (lowest step) first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _STEP_FILE.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def resolve_checkpoint(path: str | os.PathLike, *, prefer_best: bool = False) -> Path:
    """A checkpoint file, or a run folder / its ``checkpoints`` folder -> the newest checkpoint file.

    ``prefer_best=True`` picks ``best.pt`` when the folder has one. Run folders
    of schema 1 (checkpoints directly in the run folder) are found too.
    """
    p = Path(path)
    if p.is_file():
        return p
    if not p.is_dir():
        raise ArgumentError(f"checkpoint {p} does not exist (give a run folder or a checkpoint file)")
    for d in (p / CHECKPOINT_DIR, p):
        if prefer_best and (d / "best.pt").is_file():
            return d / "best.pt"
        steps = checkpoint_paths(d)
        if steps:
            return steps[-1]
    raise ArgumentError(f"run folder {p} holds no checkpoint (best.pt or ckpt-*.pt)")


# ---------------------------------------------------------------- schema and migration


def _version_of(state: Mapping) -> str:
    v = state.get("version")
    return str(v) if isinstance(v, str) else "0.1.0"  # 0.1.0's DCGAN trainer wrote version 1


def _from_0_1_0(s: dict, kind: str, path: Path) -> dict:
    """The dicts that convscope 0.1.0's two trainers wrote -> the current schema."""
    if kind == "classifier":
        if "model" not in s or "config" not in s:
            raise DataError(f"checkpoint {path} is not a convscope classifier checkpoint (no 'model'/'config')")
        return {
            "models": {"model": s["model"]},
            "optimizers": {"model": s["optimizer"]} if s.get("optimizer") is not None else {},
            "schedulers": {"model": s["scheduler"]} if s.get("scheduler") is not None else {},
            "rng": {"global": s["rng"], "generators": {}} if s.get("rng") is not None else {},
            "step": s.get("step", 0), "epoch": s.get("epoch", 0), "batch_in_epoch": s.get("batch_in_epoch", 0),
            "configs": {"model": dict(s["config"]), "train": dict(s.get("train") or {})},
            "metrics": dict(s.get("metrics") or {}),
            "extra": {"data": dict(s.get("data") or {}), "epoch_sums": s.get("epoch_sums"),
                      "best_metric": s.get("best_metric"), "interrupted": bool(s.get("interrupted", False))},
        }
    missing = [k for k in ("G", "D", "model_config") if k not in s]
    if missing:
        raise DataError(f"checkpoint {path} is not a convscope DCGAN checkpoint (no {missing[0]!r})")
    gens = {}
    if "order_gen" in s:
        gens["order"] = s["order_gen"]
    if "noise_gen" in s:
        gens["noise"] = list(s["noise_gen"])
    return {
        "models": {"G": s["G"], "D": s["D"]},
        "optimizers": {k[-1]: s[k] for k in ("optG", "optD") if k in s},
        "schedulers": {},
        "rng": {"global": s["rng"], "generators": gens} if s.get("rng") is not None else {},
        "step": s.get("step", 0), "epoch": s.get("epoch", 0), "batch_in_epoch": s.get("batch_in_epoch", 0),
        "configs": {"model": dict(s["model_config"]), "train": dict(s.get("train_config") or {})},
        "metrics": {},
        "extra": {k: s[k] for k in ("data", "data_arg", "classes", "seed", "fixed_noise", "perm", "history") if k in s},
    }


def migrate(state: Mapping[str, Any], path: str | os.PathLike = "<memory>", kind: str | None = None) -> dict:
    """Check ``state`` against the schema and bring an older one up to it.

    Raises :class:`DataError` naming the file and what is wrong: not a convscope
    checkpoint, damaged (a key missing or of the wrong type), or written by a
    newer convscope (naming the version that wrote it). ``kind`` names the
    expected kind in the messages (:func:`read_checkpoint` checks it).
    """
    path = Path(path)
    what = f"convscope {kind}" if kind else "convscope"
    s = dict(state)
    if s.get("format") == FORMAT:
        schema = s.get("schema")
        if not isinstance(schema, int) or schema > SCHEMA or schema < 2:
            advice = ("upgrade convscope to load it" if isinstance(schema, int) and schema > SCHEMA
                      else "it is damaged or was not written by a released convscope")
            raise DataError(
                f"checkpoint {path} was written by convscope {_version_of(s)} with checkpoint schema {schema!r}; "
                f"this convscope reads schema 2 to {SCHEMA}: {advice}"
            )
        kind = s.get("kind")
        out = {k: s[k] for k in _KEYS if k in s}
        missing = [k for k in _KEYS if k not in s]
        if missing:
            raise DataError(f"checkpoint {path} is damaged: key {missing[0]!r} is missing")
        if not isinstance(kind, str):
            raise DataError(f"checkpoint {path} is damaged: 'kind' must be a string, got {kind!r}")
    else:
        old = s.get("kind")
        if isinstance(old, str) and old in _OLD_KINDS:
            kind = _OLD_KINDS[old]
        elif old is None and "model" in s and "config" in s:  # 0.1.0 classifier files made by hand
            kind = "classifier"
        else:
            raise DataError(f"checkpoint {path} is not a {what} checkpoint (no 'format' and no known 'kind')")
        if isinstance(s.get("version"), str) and s["version"] != "0.1.0":
            raise DataError(f"checkpoint {path} was written by convscope {s['version']}, whose format this "
                            "convscope cannot read; load it with that version")
        out = _from_0_1_0(s, kind, path)
    if kind not in KINDS:
        raise DataError(f"checkpoint {path} has kind {kind!r}; convscope knows {', '.join(map(repr, KINDS))}")
    for k in ("models", "optimizers", "schedulers", "rng", "configs", "metrics", "extra"):
        if not isinstance(out[k], Mapping):
            raise DataError(f"checkpoint {path} is damaged: {k!r} must be a dict, got {type(out[k]).__name__}")
    for name, sd in out["models"].items():
        if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise DataError(f"checkpoint {path} is damaged: the weights of model {name!r} are not tensors")
    for k in ("step", "epoch", "batch_in_epoch"):
        if isinstance(out[k], bool) or not isinstance(out[k], int) or out[k] < 0:
            raise DataError(f"checkpoint {path} is damaged: {k!r} must be an integer >= 0, got {out[k]!r}")
    for k in ("model", "train"):
        if not isinstance(out["configs"].get(k, {}), Mapping):
            raise DataError(f"checkpoint {path} is damaged: configs[{k!r}] must be a dict")
    return {"format": FORMAT, "schema": SCHEMA, "kind": kind, "version": _version_of(s), **out}


def read_checkpoint(path: str | os.PathLike, kind: str | None = None, *, prefer_best: bool = False,
                    map_location: Any = "cpu") -> tuple[dict, Path]:
    """Resolve ``path`` (run folder, checkpoints folder or file), load and migrate it.

    ``kind`` ("classifier" or "dcgan") refuses a checkpoint of the other kind.
    Returns ``(state, file)`` with ``state`` in the current schema.
    """
    file = resolve_checkpoint(path, prefer_best=prefer_best)
    state = migrate(load_checkpoint(file, map_location), file, kind)
    if kind is not None and state["kind"] != kind:
        raise ArgumentError(f"checkpoint must be a convscope {kind} checkpoint, got {str(file)!r} "
                            f"(a {state['kind']} checkpoint)")
    return state, file


# ---------------------------------------------------------------- RNG state


def rng_state() -> dict:
    """Torch (CPU and CUDA), numpy-global and Python ``random`` states, weights-only loadable."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": str(np_state[0]),
            "key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": int(py_version),
            "internal": torch.tensor(py_internal, dtype=torch.int64),
            "gauss_next": py_gauss,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    n = state["numpy"]
    np.random.set_state(
        (n["bit_generator"], n["key"].cpu().numpy().astype(np.uint32), int(n["pos"]), int(n["has_gauss"]),
         float(n["cached_gaussian"]))
    )
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(v) for v in p["internal"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError, IndexError):
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
