"""Tab 6, recognition: draw a digit, see the CNN's top three and every layer's feature maps, and
its learned first-layer filters in space and in frequency."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ... import experiments as ex
from ..._checks import ArgumentError
from .. import render
from ..common import HEAVY, IMAGE_BUTTONS, api, check_drawing_size, guard, load_work_image
from ..session import Classifier

TITLE = "Recognition"
INTRO = ("**Try:** draw a digit and press recognise; then look at what each layer of the network responds to.")
ID = "recognition"
API_NAMES = ("classifier_status", "predict", "filters")


def prepare_digit(sketch: Any = None, upload: str | None = None) -> np.ndarray:
    """A drawing (Sketchpad's dict or an RGBA array) or an uploaded file -> a (H, W) float image, bright digit
    on dark, centred as MNIST's digits are (:func:`convscope.experiments.digit_from_drawing`)."""
    if upload:
        drawing = load_work_image(None, upload, gray=True, size=64)
    else:
        if isinstance(sketch, dict):  # Sketchpad's value: the layers flattened onto the background
            sketch = sketch.get("composite") if sketch.get("composite") is not None else sketch.get("background")
        if sketch is None:
            raise ArgumentError("digit must be drawn on the sketchpad or uploaded, got nothing")
        drawing = sketch
    return ex.digit_from_drawing(drawing)


def _ready(classifier: Classifier) -> tuple:
    if not classifier.ready:
        raise ArgumentError(f"classifier must be ready first: {classifier.status()}")
    return classifier.model, classifier.meta


def layer_names(labels: list[str]) -> list[str]:
    """``'3: Conv2d'``-style labels as people name layers: conv1, relu1, pool1, conv2, ..."""
    kinds = {"conv": "conv", "relu": "relu", "pool": "pool", "norm": "norm"}
    counts: dict[str, int] = {}
    out = []
    for label in labels:
        cls = label.split(":")[-1].strip().lower()
        kind = next((v for k, v in kinds.items() if k in cls), cls)
        counts[kind] = counts.get(kind, 0) + 1
        out.append(f"{kind}{counts[kind]}")
    return out


def predict(classifier: Classifier, sketch: Any = None, upload: str | None = None):
    """Returns ``(top-3 {class: probability}, every layer's feature maps, input as seen)``
    (:func:`convscope.experiments.recognise`)."""
    loaded = _ready(classifier)
    r = ex.recognise(loaded, prepare_digit(sketch, upload), top=3)
    rows = []
    for name, a in zip(layer_names([n for n, _ in r.layers]), (a for _, a in r.layers)):
        tiles = [render.upscale(render.grey(c), max(1, 48 // c.shape[-1])) for c in a]
        side = tiles[0].shape[0]
        tiles = [t[:side, :side] for t in tiles]
        rows.append((f"{name}: {a.shape[0]} maps of {a.shape[-2]}×{a.shape[-1]}", render.tile(tiles, cols=len(tiles), gap=2)))
    width = max(max(row.shape[1] for _, row in rows), 240)
    out = []
    for title, row in rows:  # each row under a band that names the layer and its shape
        band = render.label(np.full((18, width, 3), 255, np.uint8), title)
        out += [band, np.pad(row, ((0, 6), (0, width - row.shape[1]), (0, 0)), constant_values=255)]
    return dict(r.top), np.concatenate(out, axis=0), render.upscale(render.grey(r.prepared[0]), 8)


def first_layer_filters(classifier: Classifier):
    """Returns ``(filters, spectra)``: the learned first-layer kernels and their centred magnitude spectra
    (:func:`convscope.experiments.learned_filters`), averaged over input channels for display."""
    model, meta = _ready(classifier)
    C, H, W = meta["image_shape"]
    r = ex.learned_filters((model, meta), np.zeros((C, H, W), np.float32), spectrum_size=32)
    ks = r.kernels.astype(np.float64).mean(1)  # (C_out, k, k)
    f = render.tile([render.upscale(render.diverging(k), 12) for k in ks], cols=min(8, len(ks)), gap=3)
    sp = r.spectra.astype(np.float64)
    sp = sp.mean(1) if sp.ndim == 4 else sp
    s = render.tile([render.upscale(render.heat(m), 2) for m in sp], cols=min(8, len(sp)), gap=3)
    return f, s


def bound_drawing_size(sketch) -> None:
    """Make ``sketch`` refuse an oversized drawing from its header, before Gradio decodes it.

    Gradio decodes every uploaded layer itself (up to its own 179 Mpx) before a callback runs, so
    the check sits on the one method each layer passes through. It is set on the instance: a
    subclass would make Gradio write a type stub into this package.
    """
    import gradio as gr

    decode = sketch.convert_and_format_image

    def checked(file, flatten_on_white: bool = False):
        if file is not None:
            src = io.BytesIO(file) if isinstance(file, bytes | bytearray | memoryview) else file.path
            with Image.open(src) as im:  # reads the header only
                try:
                    check_drawing_size(*im.size)
                except ValueError as e:
                    raise gr.Error(str(e), print_exception=False) from None
        return decode(file, flatten_on_white)

    sketch.convert_and_format_image = checked


def build(ctx) -> None:
    """Lay out and wire tab 6; the classifier's status ticks every second."""
    import gradio as gr

    clf = ctx.classifier

    with gr.Tab(f"{ctx.number}. {TITLE}", id=ID):
        gr.Markdown(INTRO)
        r_status = gr.Markdown(elem_id="classifier-status")
        with gr.Row():
            with gr.Column(scale=1):
                # black ink about a tenth of the canvas wide, as MNIST's strokes are
                sketch = gr.Sketchpad(label="draw a digit (pick the brush)", type="numpy",
                                      image_mode="RGBA", canvas_size=(280, 280), elem_id="sketchpad",
                                      brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"))
                up = gr.File(label="…or upload a digit image", file_types=["image"], type="filepath",
                             elem_id="digit-upload")
                bound_drawing_size(sketch)
                r_btn = gr.Button("recognise", variant="primary", elem_id="recognise")
            with gr.Column(scale=2):
                r_top = gr.Label(num_top_classes=3, label="top 3", elem_id="prediction")
                r_seen = gr.Image(label="what the network sees", format="png", interactive=False,
                                  buttons=IMAGE_BUTTONS)
                r_maps = gr.Image(label="every layer's feature maps (top to bottom)", format="png",
                                  interactive=False, buttons=IMAGE_BUTTONS)
        with gr.Row():
            r_filt = gr.Image(label="learned first-layer filters", format="png", interactive=False,
                              buttons=IMAGE_BUTTONS)
            r_spec = gr.Image(label="their magnitude spectra", format="png", interactive=False,
                              buttons=IMAGE_BUTTONS)
        f_btn = gr.Button("show the learned filters")
        r_timer = gr.Timer(1.0)

    def status():
        return clf.status()

    def pred(sketch, upload):
        return predict(clf, sketch, upload)

    def filters():
        return first_layer_filters(clf)

    r_timer.tick(guard(status), None, r_status, show_progress="hidden", **api(None))
    ctx.demo.load(guard(status), None, r_status, api_name="classifier_status")
    r_in, r_out = [sketch, up], [r_top, r_maps, r_seen]
    gr.on([r_btn.click, up.upload], guard(pred), r_in, r_out, api_name="predict", **HEAVY)
    f_btn.click(guard(filters), None, [r_filt, r_spec], api_name="filters")
