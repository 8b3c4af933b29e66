"""Tab 5, the fractionally-strided convolution: the notes' 3×3 input upsampled by inserting zeros,
padded and convolved into a 5×5 output, checked against ``torch.conv_transpose2d``."""

from __future__ import annotations

import numpy as np

from ... import experiments as ex
from ..._checks import check_whole, fail
from .. import render
from ..common import api, guard

TITLE = "Fractionally-strided convolution"
INTRO = ("**Try:** step the red window through the output pixels; change the stride and see the zeros inserted between the input pixels.")
ID = "fractional"
API_NAMES = ("fractional",)


def example_kernel(kernel_size: int) -> np.ndarray:
    """``1 .. k²`` row by row: no symmetry, so the flip of a true convolution shows."""
    return np.arange(1.0, kernel_size * kernel_size + 1).reshape(kernel_size, kernel_size)


def fractional(size: int = 3, stride: int = 2, padding: int = 1, kernel_size: int = 3, out_row: int = 0,
               out_col: int = 0):
    """Returns ``(steps HTML, report)``: zero insertion, padding, kernel, output, and the check against torch
    (:func:`convscope.experiments.fractional_stride` on the input of
    :func:`~convscope.experiments.example_inputs` and :func:`example_kernel`), with the kernel's window
    drawn for output pixel ``(out_row, out_col)`` (clamped to the output)."""
    # bounded so that the figure stays readable
    size = check_whole("input size", size, min_value=1, max_value=8)
    stride = check_whole("stride", stride, min_value=1, max_value=4)
    kernel_size = check_whole("kernel size", kernel_size, min_value=1, max_value=7)
    padding = check_whole("padding", padding, min_value=0)
    out_row = check_whole("out_row", out_row, min_value=0)
    out_col = check_whole("out_col", out_col, min_value=0)
    if padding > kernel_size - 1:
        raise fail("padding", f"at most kernel size - 1 = {kernel_size - 1}", padding)
    x, _ = ex.example_inputs(size, kernel_size)
    r = ex.fractional_stride(x, example_kernel(kernel_size), stride=stride, padding=padding)
    e = (r.padded.shape[-1] - r.zero_inserted.shape[-1]) // 2  # the border the full convolution needs
    out_n = r.output.shape[-1]
    inserted = np.ones(r.zero_inserted.shape, bool)
    inserted[::stride, ::stride] = False
    hatch = np.zeros(r.padded.shape, bool)
    hatch[e:e + inserted.shape[0], e:e + inserted.shape[1]] = inserted
    oy, ox = min(out_row, out_n - 1), min(out_col, out_n - 1)
    win = {(oy + i, ox + j) for i in range(kernel_size) for j in range(kernel_size)}
    window = r.padded[oy:oy + kernel_size, ox:ox + kernel_size]
    terms = " + ".join(f"{a:.0f}·{b:.0f}" for a, b in zip(window.ravel(), r.kernel_flipped.ravel()) if a != 0)
    html = (
        "<div class='cs-row'>"
        + render.grid_html(r.input, title=f"1. input {size}×{size}", fmt="{:.0f}")
        + render.grid_html(r.zero_inserted, title=f"2. zeros inserted (stride {stride})", fmt="{:.0f}", hatch=inserted)
        + render.grid_html(r.padded, title=f"3. padded by k−1−p = {e}", fmt="{:.0f}", hatch=hatch, mark=win)
        + render.grid_html(r.kernel_flipped, title=f"4. kernel {kernel_size}×{kernel_size} (flipped)", fmt="{:.0f}")
        + render.grid_html(r.output, title=f"5. output {out_n}×{out_n}", fmt="{:.0f}", mark={(oy, ox)})
        + "</div>"
    )
    report = (
        f"Output size = (N − 1)·s − 2p + k = ({size} − 1)·{stride} − 2·{padding} + {kernel_size} = **{out_n}**.\n\n"
        f"The red window in (3) is where the flipped kernel sits for output pixel ({oy}, {ox}): "
        f"{terms or '0'} = **{float(r.output[oy, ox]):.0f}**. "
        f"max |ours − torch.conv_transpose2d| = **{r.max_abs_diff:.1e}**"
        + (" (equal)." if r.max_abs_diff < 1e-12 else " (MISMATCH).")
    )
    return html, report


def build(ctx) -> None:
    """Lay out and wire tab 5; it fills when first shown."""
    import gradio as gr

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID) as tab:
        gr.Markdown(INTRO)
        with gr.Row():
            fs_in = [gr.Slider(1, 8, value=3, step=1, label="input size N"),
                     gr.Slider(1, 4, value=2, step=1, label="stride s"),
                     gr.Slider(0, 6, value=1, step=1, label="padding p"),
                     gr.Slider(1, 7, value=3, step=1, label="kernel size k")]
        with gr.Row():  # the output is at most (8 − 1)·4 + 7 = 35 pixels wide
            fs_in += [gr.Slider(0, 34, value=0, step=1, label="output row (window)", elem_id="out-row"),
                      gr.Slider(0, 34, value=0, step=1, label="output column (window)", elem_id="out-col")]
        fs_out = [gr.HTML(elem_id="fractional-steps"), gr.Markdown(elem_id="fractional-report")]
    gr.on([c.change for c in fs_in], guard(fractional), fs_in, fs_out, api_name="fractional", show_progress="hidden")
    tab.select(guard(fractional), fs_in, fs_out, **api(None))
