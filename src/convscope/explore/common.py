"""What several tabs share: the work image, the error guard, the wiring helpers and the build context.

Nothing here imports Gradio at module level: the tabs' callbacks stay plain
functions of plain values, unit-tested without a server. Gradio is imported by
the functions that lay out or wire a page (:func:`guard`, :func:`frame` and each
tab's ``build``), which only run once :func:`convscope.explore.app.build_app`
has made the environment offline.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import ConvscopeError, check_int, check_option, fail
from ..data.images import BUNDLED_IMAGES, bundled_image_path, load_image

__all__ = ["WORK_SIZE", "Context", "api", "frame", "guard", "image_choices", "load_work_image", "message",
           "plotted"]

WORK_SIZE = 256  # the short side every photograph is resized to (the benchmark's 256²)
# a drawing larger than this is refused before it is decoded (the canvas is 280²; Gradio would
# otherwise decode whatever a client sends, up to its own 179 Mpx, before any callback runs)
MAX_DRAWING_PIXELS = 2048 * 2048
# the image endpoints share one queue of this many workers, so concurrent calls cannot each hold
# a full-size decode at once (one worker per core of the 2-core machine the limits were set on)
HEAVY = {"concurrency_id": "heavy", "concurrency_limit": 2}
CACHE_BYTES = 256 * 1024 * 1024  # the explorer's Gradio cache is swept down to this at start
IMAGE_BUTTONS = ["download", "fullscreen"]  # what every output image offers
log = logging.getLogger("convscope.explore")


def image_choices() -> list[str]:
    """The bundled photographs every image menu offers."""
    return list(BUNDLED_IMAGES)


@functools.lru_cache(maxsize=16)
def _cached_image(path: str, mtime: float, gray: bool, size: int) -> np.ndarray:
    return load_image(path, gray=gray, size=size).astype(np.float64)


def load_work_image(name: str | None, upload: str | os.PathLike | None = None, *, gray: bool = False,
                    size: int = WORK_SIZE) -> np.ndarray:
    """The picture a tab works on: an upload (through ``data.images``' guards) or a bundled name.

    Returns float64 in [0, 1]: (H, W) grey or (3, H, W) colour, short side ``size``.
    """
    size = check_int("size", size, min_value=8)
    if upload:
        p = Path(os.fspath(upload))
        if not p.is_file():
            raise fail("upload", "an existing file", str(p))
    else:
        key = check_option("image", name or "camera", BUNDLED_IMAGES)
        p = bundled_image_path(key)
    a = _cached_image(str(p), p.stat().st_mtime, bool(gray), size)
    if not gray and a.ndim == 2:
        a = np.repeat(a[None], 3, axis=0)
    # crop the long side to a centred square so every view is size × size
    H, W = a.shape[-2:]
    y0, x0 = (H - min(H, W)) // 2, (W - min(H, W)) // 2
    s = min(H, W)
    return np.ascontiguousarray(a[..., y0:y0 + s, x0:x0 + s])


def check_drawing_size(width: int, height: int) -> None:
    """Refuse a drawing of more than :data:`MAX_DRAWING_PIXELS` pixels, from its header alone."""
    if width * height > MAX_DRAWING_PIXELS:
        raise fail("drawing", f"at most {MAX_DRAWING_PIXELS:,} pixels", f"{width}×{height}")


def sweep_cache(folder: Path, *, max_bytes: int = CACHE_BYTES, max_age_s: float | None = None) -> int:
    """Remove empty files, files older than ``max_age_s`` and then the oldest files until ``folder``
    holds at most ``max_bytes``; returns how many files were removed.

    Gradio's upload handling leaves empty temporary files behind and never trims its cache; the
    explorer sweeps it at start, so the cache stays under a stated bound across launches.
    """
    import time

    files = []
    for p in Path(folder).rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                st = p.stat()
                files.append((st.st_mtime, st.st_size, p))
        except OSError:
            continue
    now, removed = time.time(), 0
    keep = []
    for mtime, size, p in files:
        if size == 0 or (max_age_s is not None and now - mtime > max_age_s):
            removed += _unlink(p)
        else:
            keep.append((mtime, size, p))
    total = sum(s for _, s, _ in keep)
    for _mtime, size, p in sorted(keep):
        if total <= max_bytes:
            break
        removed += _unlink(p)
        total -= size
    return removed


def _unlink(p: Path) -> int:
    try:
        p.unlink()
        return 1
    except OSError:
        return 0


def message(e: BaseException) -> str:
    """The one line a person sees for an error raised by a callback."""
    if isinstance(e, ConvscopeError):
        text = str(e).strip()
        return text.splitlines()[0] if text else type(e).__name__
    return f"internal error: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def guard(fn):
    """A callback as the page sees it: expected errors become ``gr.Error`` messages, never a traceback page."""
    import gradio as gr

    @functools.wraps(fn)
    def run(*args, **kw):
        try:
            return fn(*args, **kw)
        except gr.Error:
            raise
        except ConvscopeError as e:  # a refused input: one line in the log, no traceback
            log.warning("%s refused: %s", fn.__name__, message(e))
            raise gr.Error(message(e), print_exception=False) from None
        except Exception as e:  # a bug: logged with its traceback, one line in the page
            log.exception("callback %s failed", fn.__name__)
            raise gr.Error(message(e), print_exception=False) from None

    return run


def api(name: str | None) -> dict:
    """A public endpoint under ``name``, or a private one (a second wiring of the same callback)."""
    return {"api_name": name} if name else {"api_visibility": "private"}


def frame(rows: dict[str, list]):
    """Long-format rows (:func:`.render.rows`) as the DataFrame ``gr.LinePlot`` takes."""
    import pandas as pd

    return pd.DataFrame(rows)


def plotted(result: tuple, index: int) -> tuple:
    """A callback's result with the rows at ``index`` turned into a DataFrame for ``gr.LinePlot``."""
    out = list(result)
    out[index] = frame(out[index])
    return tuple(out)


@dataclass
class Context:
    """What a tab's ``build`` may use besides its own callbacks."""

    demo: Any
    images: list[str]
    classifier: Any = None  # session.Classifier
    gans: Any = None  # session.GanSessions
    page_up: threading.Event = field(default_factory=threading.Event)  # set once the first tab is filled
    number: int = 0  # the tab being built, counted from 1 (its title's number)
