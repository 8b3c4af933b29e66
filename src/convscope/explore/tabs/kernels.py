"""Tab 1, kernels and feature maps: the notes' kernel with 8 in the centre, any 3×3 or 5×5 grid,
one feature map per colour channel, pooling, and the computation behind one output pixel."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import experiments as ex
from ..._checks import ArgumentError, check_float, check_option, check_whole, fail
from ...kernels import get_kernel
from .. import render
from ..common import HEAVY, IMAGE_BUTTONS, WORK_SIZE, api, guard, load_work_image

TITLE = "Kernels and feature maps"
INTRO = ("**Try:** edit a number of the kernel (the notes' kernel has 8 in the centre), or pick another, "
         "and watch each colour channel's feature map change; click a pixel of a map to see its sum.")
ID = "kernels"
API_NAMES = ("kernel_grid", "feature_maps", "pixel")
POOLS = ("max", "average")
POOL_SIZES = (2, 4)
GRID_SIZES = (3, 5)
# the names offered in the kernel menu; "gaussian" and "log" take sigma, every one takes size
KERNEL_CHOICES = ("laplacian8", "laplacian4", "sobel_x", "sobel_y", "scharr_x", "prewitt_x", "sharpen",
                  "emboss", "box", "identity", "gaussian", "log", "gabor")


def kernel_grid(name: str, size: int = 3, sigma: float = 1.0) -> list[list[float]]:
    """A named kernel (``gaussian``/``log``/``gabor`` use ``sigma``) as a ``size`` × ``size`` grid of numbers."""
    size = check_whole("size", size, min_value=1)
    if size not in GRID_SIZES:
        raise fail("size", "3 or 5", size)
    sigma = check_float("sigma", sigma, min_value=0.0, strict_min=True)
    key = check_option("kernel", name, KERNEL_CHOICES)
    if key in ("gaussian", "log", "gabor"):
        k = get_kernel(key, size, sigma)
    elif key in ("box", "identity"):
        k = get_kernel(key, size)
    else:
        k = get_kernel(key)
        if k.shape[0] != size:  # a fixed 3×3 kernel in a 5×5 grid: centred, zeros around
            pad = (size - k.shape[0]) // 2
            if pad < 0:
                raise fail("size", f"{k.shape[0]} for {key}", size)
            out = np.zeros((size, size))
            out[pad:pad + k.shape[0], pad:pad + k.shape[1]] = k.numpy()
            return np.round(out, 6).tolist()
    return np.round(k.numpy(), 6).tolist()


def grid_kernel(grid: Any) -> np.ndarray:
    """What the editable grid holds (a table of numbers or numeric strings) as a float64 kernel."""
    if hasattr(grid, "to_numpy"):  # a pandas DataFrame
        grid = grid.to_numpy()
    try:
        a = np.array(grid, dtype=object)
        if a.ndim != 2 or a.size == 0:
            raise ValueError
        k = np.array([[float(str(v).strip() or "0") for v in row] for row in a], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"kernel must be a grid of numbers, got {np.asarray(grid, dtype=object).tolist()!r}") from e
    if k.shape[0] != k.shape[1] or k.shape[0] not in (3, 5):
        raise fail("kernel", "a 3×3 or 5×5 grid", f"shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise fail("kernel", "finite numbers", k.tolist())
    return k


def _kernel_meaning(total: float, scale: float) -> str:
    tol = 1e-5 * max(1.0, scale)  # the grid shows 6 decimals: 9 × 0.111111 is a unit sum
    if abs(total) < tol:
        return (f"**sum = {total:.3g}: zero-sum, a change detector.** A flat region gives exactly 0; only edges "
                "and texture survive (grey = 0, red > 0, blue < 0).")
    if abs(total - 1) < tol:
        return (f"**sum = {total:.4g}: unit-sum, an average.** Brightness is kept: a flat region comes out "
                "unchanged (a blur, or the identity).")
    return (f"**sum = {total:.4g}:** neither 0 nor 1, so a flat region of brightness b comes out as {total:.3g}·b "
            "(the output is scaled as well as filtered).")


BOUNDARY = "reflect"  # every feature map of the explorer (and its per-pixel breakdown) uses this border
_POOL_NAMES = {"max": "max", "average": "avg"}  # the radio's words -> experiments.feature_maps'


def feature_maps(image: str | None, upload: str | None, grid: Any, pool: str = "max", pool_size: int = 2):
    """Convolve each colour channel with the grid's kernel (:func:`convscope.experiments.feature_maps`).

    Returns ``(input, maps, pooled, meaning)``: the photograph, the per-channel maps
    side by side with a colour bar (:func:`map_tiles`), the same after
    ``pool``-pooling by ``pool_size``, and Markdown on what the kernel's sum means.
    """
    pool = check_option("pool", pool, POOLS)
    pool_size = check_whole("pool_size", pool_size, min_value=1)
    if pool_size not in POOL_SIZES:
        raise fail("pool_size", "2 or 4", pool_size)
    img = load_work_image(image, upload)
    k = grid_kernel(grid)
    r = ex.feature_maps(img, [("grid", k)], boundary=BOUNDARY, pool=(_POOL_NAMES[pool], pool_size))
    maps, pooled = r.maps[0], r.pooled[0]  # (3, H, W), (3, H/s, W/s)
    tiles = map_tiles(maps, k)
    ptiles = map_tiles(pooled, k, upscale=pool_size)
    meaning = _kernel_meaning(r.kernel_sums[0], float(np.abs(k).sum())) + (
        f"\n\nFeature maps R, G, B of a {img.shape[-2]}×{img.shape[-1]} image; "
        f"{pool} pooling {pool_size}×{pool_size} gives {pooled.shape[-2]}×{pooled.shape[-1]}. "
        "Click a pixel of a feature map to see its computation.")
    return render.label(render.grey(img, 0.0, 1.0), "input"), tiles, ptiles, meaning


def map_tiles(maps: np.ndarray, kernel: np.ndarray, *, upscale: int = 1) -> np.ndarray:
    """The (3, H, W) maps side by side, labelled R, G, B, on one scale with its colour bar below.

    A kernel with no negative weight gives maps that cannot be negative (the photograph is in
    [0, 1]): they are drawn grey from 0 to their largest value. Any other kernel's maps are signed:
    blue < 0 < red, on a symmetric scale shared by the three channels.
    """
    if float(np.min(kernel)) >= 0.0:
        lo, hi, kind = 0.0, max(float(np.max(maps)), 1e-12), "grey"
        pics = [render.grey(m, lo, hi) for m in maps]
    else:
        hi = max(render.diverging_scale(m) for m in maps) or 1e-12
        lo, kind = -hi, "diverging"
        pics = [render.diverging(m, scale=hi) for m in maps]
    pics = [render.label(render.upscale(p, upscale), c) for p, c in zip(pics, "RGB")]
    tiles = render.tile(pics, cols=3, gap=4)
    return np.concatenate([tiles, render.colorbar(tiles.shape[1], lo, hi, kind=kind)], axis=0)


def tile_position(x: int, y: int, size: int = WORK_SIZE, gap: int = 4) -> tuple[int, int, int]:
    """A click at ``(x, y)`` on the three tiled maps -> ``(channel, row, col)``."""
    x, y = check_whole("x", x), check_whole("y", y)
    c = min(2, max(0, x // (size + gap)))
    col = min(size - 1, max(0, x - c * (size + gap)))
    return c, min(size - 1, max(0, y)), col


def pixel_computation(image: str | None, upload: str | None, grid: Any, channel: int, row: int, col: int):
    """Returns ``(html, maps)``: the input patch, the (flipped) kernel, their elementwise products and the
    sum for one output pixel (:func:`convscope.experiments.pixel_computation`), and the feature maps with
    that pixel marked."""
    img = load_work_image(image, upload)
    k = grid_kernel(grid)
    channel = check_whole("channel", channel, min_value=0, max_value=img.shape[0] - 1)
    row = check_whole("row", row, min_value=0, max_value=img.shape[-2] - 1)
    col = check_whole("col", col, min_value=0, max_value=img.shape[-1] - 1)
    p = ex.pixel_computation(img, k, channel=channel, row=row, col=col, boundary=BOUNDARY)
    n = k.shape[0]
    maps = map_tiles(ex.feature_maps(img, [("grid", k)], boundary=BOUNDARY).maps[0], k)
    size = img.shape[-1]
    marked = render.mark(maps, row, channel * (size + 4) + col)
    return (
        f"<div class='cs-pixel'><b>Output pixel ({p.row}, {p.col}) of channel {'RGB'[p.channel]}</b>"
        "<div class='cs-row'>"
        + render.grid_html(p.patch, title=f"input patch ({n}×{n})")
        + "<span class='cs-op'>×</span>"
        + render.grid_html(p.kernel_flipped, title="kernel, flipped (true convolution)")
        + "<span class='cs-op'>=</span>"
        + render.grid_html(p.products, title="elementwise products")
        + "</div>"
        f"<p>sum of the products = <b>{p.total:.6g}</b>; the feature map holds <b>{p.feature_value:.6g}</b> "
        f"(difference {abs(p.total - p.feature_value):.1e}).</p></div>"
    ), marked


def build(ctx) -> None:
    """Lay out and wire tab 1; the page fills it on load."""
    import gradio as gr

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID):
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                grid = gr.Dataframe(value=kernel_grid("laplacian8", 3), headers=None, datatype="number",
                                    label="kernel (edit any number)", interactive=True,
                                    elem_id="kernel-grid", type="array", column_count=(3, "dynamic"))
                kname = gr.Dropdown(list(KERNEL_CHOICES), value="laplacian8", label="named kernel")
                ksize = gr.Radio(list(GRID_SIZES), value=3, label="grid size")
                sigma = gr.Slider(0.3, 3.0, value=1.0, step=0.1, label="σ (gaussian, log, gabor)")
                img = gr.Dropdown(ctx.images, value="astronaut", label="bundled photograph")
                up = gr.File(label="…or upload an image", file_types=["image"], type="filepath")
                pool = gr.Radio(list(POOLS), value="max", label="pooling")
                psize = gr.Radio(list(POOL_SIZES), value=2, label="pool size")
            with gr.Column(scale=3):
                meaning = gr.Markdown(elem_id="kernel-meaning")
                inp = gr.Image(label="input", elem_id="input-image", interactive=False, buttons=IMAGE_BUTTONS,
                               format="png", height=260)
                maps = gr.Image(label="feature maps R, G, B, one scale (colour bar below); click a pixel",
                                elem_id="feature-maps", interactive=False, buttons=IMAGE_BUTTONS, format="png")
                pooled = gr.Image(label="pooled", elem_id="pooled", interactive=False, buttons=IMAGE_BUTTONS,
                                  format="png")
                pix = gr.HTML(elem_id="pixel-computation")
                pc, pr, pcol = (gr.Number(visible=False, value=v) for v in (0, 128, 128))
    kin = [kname, ksize, sigma]
    gr.on([c.change for c in kin], guard(kernel_grid), kin, grid, api_name="kernel_grid", show_progress="hidden")
    fm_in = [img, up, grid, pool, psize]
    fm_out = [inp, maps, pooled, meaning]
    gr.on([c.change for c in (grid, img, up, pool, psize)], guard(feature_maps), fm_in, fm_out,
          api_name="feature_maps", show_progress="hidden", **HEAVY)

    def select_pixel(evt):
        return tile_position(*evt.index[:2])

    select_pixel.__annotations__ = {"evt": gr.SelectData}  # Gradio injects the click
    maps.select(select_pixel, None, [pc, pr, pcol], **api(None)).then(
        guard(pixel_computation), [img, up, grid, pc, pr, pcol], [pix, maps], api_name="pixel", **HEAVY)

    # the first tab fills on load; the other tabs when they are first shown, so the page is ready sooner
    def first_fill(*args):
        try:
            return feature_maps(*args)
        finally:
            ctx.page_up.set()

    ctx.demo.load(guard(first_fill), fm_in, fm_out, **api(None), **HEAVY)
