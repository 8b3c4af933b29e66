"""What ``auto`` remembers about this machine: calibrated cost constants and measured choices.

Like FFTW's *wisdom*: measure once, store, reuse. Two files live in the user's
cache directory (``platformdirs.user_cache_dir("convscope")``, or
``$CONVSCOPE_CACHE_DIR``), both written atomically:

* ``conv_constants.json``: cost constants fitted by ``convscope calibrate``,
  one entry per :func:`fingerprint` (CPU model, thread count, torch, OpenCV and
  scipy versions, device). ``auto`` uses an entry only when the fingerprint
  matches the running process; otherwise the built-in constants.
* ``conv_methods.json``: choices measured for one problem signature (written
  only when asked, ``persist=True``).

A cache directory that cannot be written is not an error: a warning is given
once and the in-memory state carries on.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import warnings
from pathlib import Path

import torch

__all__ = [
    "cache_dir",
    "cache_path",
    "constants_path",
    "fingerprint",
    "fingerprint_key",
    "load_constants",
    "store_constants",
    "load_choices",
    "save_choice",
]

_warned_unwritable = False


def cache_dir() -> Path:
    """``$CONVSCOPE_CACHE_DIR``, else the user cache dir of convscope."""
    d = os.environ.get("CONVSCOPE_CACHE_DIR")
    if d is None:
        from platformdirs import user_cache_dir

        d = user_cache_dir("convscope")
    return Path(d)


def cache_path() -> Path:
    """The JSON file of measured choices."""
    return cache_dir() / "conv_methods.json"


def constants_path() -> Path:
    """The JSON file of calibrated constants, keyed by fingerprint."""
    return cache_dir() / "conv_constants.json"


@functools.lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "absent"
    return str(getattr(mod, "__version__", "unknown"))


def fingerprint(threads: int | None = None, device: str = "cpu") -> dict[str, str]:
    """What the constants depend on: CPU model, threads, library versions, device."""
    return {
        "cpu": _cpu_model(),
        "threads": str(torch.get_num_threads() if threads is None else int(threads)),
        "torch": torch.__version__,
        "opencv": _version("cv2"),
        "scipy": _version("scipy"),
        "device": str(device),
    }


def fingerprint_key(fp: dict[str, str]) -> str:
    """A short stable key for a fingerprint."""
    text = json.dumps(fp, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _warn_unwritable(path: Path, err: OSError) -> None:
    global _warned_unwritable
    if not _warned_unwritable:
        _warned_unwritable = True
        warnings.warn(
            f"convscope: cannot write the method cache {path} ({err.strerror or err}); "
            "keeping the choice in memory only",
            RuntimeWarning,
            stacklevel=3,
        )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> bool:
    """Atomic write; False (and one warning per process) when the directory refuses it."""
    from .._io import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))
    except OSError as e:
        _warn_unwritable(path, e)
        return False
    return True


# --------------------------------------------------------------------------------------
# calibrated constants


def load_constants(threads: int | None = None, device: str = "cpu") -> tuple[dict[str, float], str] | None:
    """The stored constants for this machine's fingerprint and where they came from, or None."""
    fp = fingerprint(threads, device)
    path = constants_path()
    entry = _read_json(path).get("entries", {}).get(fingerprint_key(fp))
    if not isinstance(entry, dict) or entry.get("fingerprint") != fp:
        return None
    consts = entry.get("constants")
    if not isinstance(consts, dict) or not all(isinstance(v, int | float) and v > 0 for v in consts.values()):
        return None
    origin = f"calibrated {entry.get('created', '?')} ({entry.get('seconds', '?')} s), {path}"
    return {k: float(v) for k, v in consts.items()}, origin


def store_constants(constants: dict[str, float], threads: int | None = None, device: str = "cpu", *, seconds: float | None = None) -> Path:
    """Store fitted constants under this machine's fingerprint (atomically, other entries kept)."""
    from .._io import atomic_write_text

    fp = fingerprint(threads, device)
    path = constants_path()
    data = _read_json(path)
    entries = data.get("entries") if isinstance(data.get("entries"), dict) else {}
    entries[fingerprint_key(fp)] = {
        "fingerprint": fp,
        "constants": {k: float(v) for k, v in constants.items()},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": None if seconds is None else round(seconds, 1),
    }
    atomic_write_text(path, json.dumps({"version": 1, "entries": entries}, indent=1, sort_keys=True))
    return path


# --------------------------------------------------------------------------------------
# measured choices


def load_choices(allowed) -> dict[str, str]:
    """The measured choices on disk (signature -> method), unknown methods dropped."""
    choices = _read_json(cache_path()).get("choices", {})
    if not isinstance(choices, dict):
        return {}
    return {k: v for k, v in choices.items() if v in allowed}


def save_choice(sig: str, method: str, allowed) -> bool:
    """Add one measured choice to the file; False (warned once) when it cannot be written."""
    data = load_choices(allowed)
    data[sig] = method
    return _write_json(cache_path(), {"version": 1, "choices": data})
