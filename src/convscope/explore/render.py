"""Arrays to pictures for the browser, without matplotlib (only ``viz`` imports it).

Everything here returns ``(H, W, 3)`` uint8 arrays, small HTML tables or
long-format rows for a line plot: what Gradio's components display directly.
"""

from __future__ import annotations

import html

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["grey", "diverging", "diverging_scale", "heat", "tile", "upscale", "grid_html", "rows", "label",
           "colorbar", "mark"]

# a perceptually even blue-white-red ramp (signed maps) and a black-red-yellow-white one (heat)
_DIV = np.array([[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247],
                 [253, 219, 199], [239, 138, 98], [178, 24, 43]], dtype=np.float64)
_HEAT = np.array([[0, 0, 4], [60, 9, 101], [144, 32, 108], [221, 81, 58], [252, 165, 10],
                  [252, 255, 164]], dtype=np.float64)


def _ramp(t: np.ndarray, stops: np.ndarray) -> np.ndarray:
    t = np.clip(np.nan_to_num(t), 0.0, 1.0) * (len(stops) - 1)
    i = np.minimum(t.astype(np.int64), len(stops) - 2)
    f = (t - i)[..., None]
    return (stops[i] * (1 - f) + stops[i + 1] * f + 0.5).astype(np.uint8)


def grey(a, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(H, W) or (3, H, W) -> uint8 RGB, scaled from [lo, hi] (default: the data range)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.transpose(1, 2, 0)
    lo = float(np.nanmin(a)) if lo is None else lo
    hi = float(np.nanmax(a)) if hi is None else hi
    t = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    u = (np.clip(np.nan_to_num(t), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if u.ndim == 2:
        u = np.repeat(u[..., None], 3, axis=-1)
    elif u.shape[-1] == 1:
        u = np.repeat(u, 3, axis=-1)
    return u


def diverging_scale(a, *, robust: bool = True) -> float:
    """The half-range :func:`diverging` draws ``a`` with: the 99.5th percentile of ``|a|`` when
    ``robust`` (a few extreme pixels would otherwise wash everything else out to white), else its
    largest ``|a|``."""
    a = np.asarray(a, dtype=np.float64)
    m = 0.0
    if a.size:
        m = float(np.nanpercentile(np.abs(a), 99.5)) if robust and a.size > 64 else 0.0
        m = m if m > 0 else float(np.nanmax(np.abs(a)))
    return m


def diverging(a, *, robust: bool = True, scale: float | None = None) -> np.ndarray:
    """Signed (H, W) -> blue (negative), white (zero), red (positive), symmetric scale
    (``scale``, default :func:`diverging_scale`); larger values saturate."""
    a = np.asarray(a, dtype=np.float64)
    m = diverging_scale(a, robust=robust) if scale is None else float(scale)
    return _ramp(0.5 + 0.5 * a / m if m > 0 else np.full(a.shape, 0.5), _DIV)


def heat(a, *, log: bool = False, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Non-negative (H, W) -> a heat colour map (``log``: log10, four decades); ``lo``/``hi`` fix
    the scale (in the data's units), so frames of a sequence compare."""
    a = np.asarray(a, dtype=np.float64)
    if log:
        top = float(np.nanmax(a)) if a.size else 0.0
        a = np.log10(np.maximum(a, top * 1e-4 if top > 0 else 1e-300))
    lo = float(np.nanmin(a)) if lo is None else lo
    hi = float(np.nanmax(a)) if hi is None else hi
    return _ramp((a - lo) / (hi - lo) if hi > lo else np.zeros(a.shape), _HEAT)


def label(img: np.ndarray, text: str, *, corner: str = "tl") -> np.ndarray:
    """``img`` with ``text`` written on a white box in a corner (``tl`` or ``bl``)."""
    im = Image.fromarray(np.ascontiguousarray(img))
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = d.textbbox((0, 0), text)
    w, h = x1 - x0 + 6, y1 - y0 + 6
    y = 2 if corner == "tl" else im.height - h - 2
    d.rectangle([2, y, 2 + w, y + h], fill=(255, 255, 255))
    d.text((5 - x0, y + 3 - y0), text, fill=(0, 0, 0))
    return np.asarray(im)


def colorbar(width: int, lo: float, hi: float, *, kind: str = "diverging", ticks: int = 5,
             height: int = 14) -> np.ndarray:
    """A horizontal colour bar ``width`` px wide from ``lo`` to ``hi`` with ``ticks`` values written under it."""
    t = np.linspace(0.0, 1.0, width)[None, :].repeat(height, axis=0)
    bar = _ramp(t, _DIV if kind == "diverging" else _HEAT) if kind != "grey" else grey(t, 0.0, 1.0)
    im = Image.new("RGB", (width, height + 16), (255, 255, 255))
    im.paste(Image.fromarray(bar), (0, 0))
    d = ImageDraw.Draw(im)
    for i in range(ticks):
        v = lo + (hi - lo) * i / (ticks - 1)
        text = f"{v:.3g}"
        tw = d.textlength(text)
        x = min(max(0, i * (width - 1) / (ticks - 1) - tw / 2), width - tw)
        d.text((x, height + 2), text, fill=(0, 0, 0))
    return np.asarray(im)


def mark(img: np.ndarray, row: int, col: int, *, radius: int = 5) -> np.ndarray:
    """``img`` with a green cross-hair around pixel ``(row, col)``."""
    out = np.array(img, copy=True)
    h, w = out.shape[:2]
    for r, c in ((row, slice(max(0, col - radius), min(w, col + radius + 1))),
                 (slice(max(0, row - radius), min(h, row + radius + 1)), col)):
        out[r, c] = (0, 200, 0)
    return out


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement so small maps stay crisp in the browser."""
    factor = max(1, int(factor))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1) if factor > 1 else img


def tile(images: list[np.ndarray], *, cols: int | None = None, gap: int = 2, fill: int = 255) -> np.ndarray:
    """Lay equal-sized uint8 RGB images out in a grid."""
    if not images:
        return np.full((8, 8, 3), fill, np.uint8)
    h, w = images[0].shape[:2]
    n = len(images)
    cols = cols or int(np.ceil(np.sqrt(n)))
    r = int(np.ceil(n / cols))
    out = np.full((r * h + (r - 1) * gap, cols * w + (cols - 1) * gap, 3), fill, np.uint8)
    for i, im in enumerate(images):
        y, x = divmod(i, cols)
        out[y * (h + gap):y * (h + gap) + h, x * (w + gap):x * (w + gap) + w] = im
    return out


def _cell_colour(v: float, m: float) -> str:
    if not np.isfinite(v) or m <= 0:
        return "#ffffff"
    r, g, b = _ramp(np.array(0.5 + 0.5 * v / m), _DIV).tolist()
    return f"rgb({r},{g},{b})"


def grid_html(a, *, title: str = "", fmt: str = "{:.3g}", mark: set[tuple[int, int]] | None = None,
              hatch: np.ndarray | None = None) -> str:
    """A small 2-D array as a coloured HTML table (one cell per number).

    ``mark`` outlines cells in red; ``hatch`` (a boolean map) greys inserted zeros.
    """
    a = np.asarray(a, dtype=np.float64)
    m = float(np.abs(a).max()) if a.size else 0.0
    out = ['<div class="cs-grid">']
    if title:
        out.append(f"<div class='cs-grid-title'>{html.escape(title)}</div>")
    out.append("<table>")
    for i, row in enumerate(a):
        out.append("<tr>")
        for j, v in enumerate(row):
            style = f"background:{_cell_colour(v, m)}"
            if hatch is not None and hatch[i, j]:
                style = "background:repeating-linear-gradient(45deg,#eee,#eee 3px,#ccc 3px,#ccc 6px)"
            if mark and (i, j) in mark:
                style += ";outline:2px solid #d00"
            out.append(f"<td style='{style}'>{html.escape(fmt.format(v))}</td>")
        out.append("</tr>")
    out.append("</table></div>")
    return "".join(out)


def rows(x, series: dict[str, np.ndarray], *, x_name: str = "x", y_name: str = "y") -> dict[str, list]:
    """Curves in long format (``{x_name: [...], y_name: [...], "series": [...]}``) for a line plot."""
    xs: list[float] = []
    ys: list[float] = []
    names: list[str] = []
    x = np.asarray(x, dtype=np.float64)
    for name, y in series.items():
        y = np.asarray(y, dtype=np.float64)
        keep = np.isfinite(y)
        xs += x[keep].tolist()
        ys += y[keep].tolist()
        names += [name] * int(keep.sum())
    return {x_name: xs, y_name: ys, "series": names}
