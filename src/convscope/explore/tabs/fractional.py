"""Tab 5, the fractionally-strided convolution: the notes' 3×3 input upsampled by inserting zeros,
padded and convolved into a 5×5 output, checked against ``torch.conv_transpose2d``."""

from __future__ import annotations

import numpy as np

from ... import experiments as ex
from ..._checks import check_whole, fail
from .. import render
from ..common import api, guard

TITLE = "5. Fractionally-strided convolution"
ID = "fractional"
API_NAMES = ("fractional",)


def fractional(size: int = 3, stride: int = 2, padding: int = 1, kernel_size: int = 3):
    """Returns ``(steps HTML, report)``: zero insertion, padding, kernel, output, and the check against torch
    (:func:`convscope.experiments.fractional_stride` on :func:`~convscope.experiments.example_inputs`)."""
    # bounded so that the figure stays readable
    size = check_whole("input size", size, min_value=1, max_value=8)
    stride = check_whole("stride", stride, min_value=1, max_value=4)
    kernel_size = check_whole("kernel size", kernel_size, min_value=1, max_value=7)
    padding = check_whole("padding", padding, min_value=0)
    if padding > kernel_size - 1:
        raise fail("padding", f"at most kernel size - 1 = {kernel_size - 1}", padding)
    r = ex.fractional_stride(*ex.example_inputs(size, kernel_size), stride=stride, padding=padding)
    e = (r.padded.shape[-1] - r.zero_inserted.shape[-1]) // 2  # the border the full convolution needs
    out_n = r.output.shape[-1]
    inserted = np.ones(r.zero_inserted.shape, bool)
    inserted[::stride, ::stride] = False
    hatch = np.zeros(r.padded.shape, bool)
    hatch[e:e + inserted.shape[0], e:e + inserted.shape[1]] = inserted
    win = {(i, j) for i in range(kernel_size) for j in range(kernel_size)}
    html = (
        "<div class='cs-row'>"
        + render.grid_html(r.input, title=f"1. input {size}×{size}", fmt="{:.0f}")
        + render.grid_html(r.zero_inserted, title=f"2. zeros inserted (stride {stride})", fmt="{:.0f}", hatch=inserted)
        + render.grid_html(r.padded, title=f"3. padded by k−1−p = {e}", fmt="{:.0f}", hatch=hatch, mark=win)
        + render.grid_html(r.kernel_flipped, title=f"4. kernel {kernel_size}×{kernel_size} (flipped)", fmt="{:.0f}")
        + render.grid_html(r.output, title=f"5. output {out_n}×{out_n}", fmt="{:.0f}", mark={(0, 0)})
        + "</div>"
    )
    report = (
        f"Output size = (N − 1)·s − 2p + k = ({size} − 1)·{stride} − 2·{padding} + {kernel_size} = **{out_n}**.\n\n"
        f"The red window in (3) is where the kernel sits for output pixel (0, 0). "
        f"max |ours − torch.conv_transpose2d| = **{r.max_abs_diff:.1e}**"
        + (" (equal)." if r.max_abs_diff < 1e-12 else " (MISMATCH).")
    )
    return html, report


def build(ctx) -> None:
    """Lay out and wire tab 5; it fills when first shown."""
    import gradio as gr

    with gr.Tab(TITLE, id=ID) as tab:
        with gr.Row():
            fs_in = [gr.Slider(1, 8, value=3, step=1, label="input size N"),
                     gr.Slider(1, 4, value=2, step=1, label="stride s"),
                     gr.Slider(0, 6, value=1, step=1, label="padding p"),
                     gr.Slider(1, 7, value=3, step=1, label="kernel size k")]
        fs_out = [gr.HTML(elem_id="fractional-steps"), gr.Markdown(elem_id="fractional-report")]
    gr.on([c.change for c in fs_in], guard(fractional), fs_in, fs_out, api_name="fractional", show_progress="hidden")
    tab.select(guard(fractional), fs_in, fs_out, **api(None))
