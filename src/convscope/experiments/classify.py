"""Step 6 of the story: a trained CNN classifier, evaluated, asked, and looked at in space and frequency.

Training itself lives in :mod:`convscope.train`; these functions take its run folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import ArgumentError
from ._common import keeps_global_rng, out_folder, save_json, save_npy

__all__ = [
    "ClassifierEvaluation", "evaluate_classifier", "save_classifier_evaluation",
    "Predictions", "predict", "save_predictions",
    "LearnedFilters", "learned_filters", "save_learned_filters",
    "Recognition", "recognise", "digit_from_drawing",
    "source_images",
]


def _load(checkpoint):
    """``(model, meta)`` of a run folder or checkpoint file, or the ``(model, meta)`` pair
    :func:`convscope.models.load_classifier` already returned (a model kept in memory)."""
    from ..models.cnn import load_classifier

    if isinstance(checkpoint, tuple) and len(checkpoint) == 2 and isinstance(checkpoint[1], dict):
        return checkpoint
    return load_classifier(checkpoint)


def _first_member(model):
    """The network to look inside: an :class:`~convscope.models.cnn.Ensemble`'s first member, or ``model``."""
    members = getattr(model, "members", None)
    return members[0] if members is not None else model


def source_images(meta: dict, data: str | None, split: str):
    """[0, 1] images of ``data`` (or the training source) and labels, with the training split settings."""
    from ..data import load_dataset

    tr = meta.get("train") or {}
    same = data is None or str(data) == str(tr.get("data", meta.get("source")))
    src = tr.get("data", meta.get("source")) if data is None else data
    if src is None:
        raise ArgumentError("the checkpoint does not record its data source; pass --data")
    kw = {"split": split}
    if same:
        kw.update(val_fraction=tr.get("val_fraction", 0.1), test_fraction=tr.get("test_fraction", 0.2),
                  seed=tr.get("split_seed", 0))
    return load_dataset(src, normalize=None, **kw)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ClassifierEvaluation:
    """Accuracy, loss, per-class accuracy and the confusion matrix of a classifier on one split.

    ``confusion[i, j]`` counts images of class ``i`` predicted as ``j``. ``held_out`` is False
    when the model trained on these images (a ``--final`` model on its own source), and
    ``note`` then says so; ``tta`` tells whether test-time augmentation was used.
    """

    source: str
    split: str
    classes: tuple[str, ...]
    n: int
    accuracy: float
    loss: float
    per_class: tuple[float, ...]
    confusion: np.ndarray
    checkpoint: str
    held_out: bool = True
    note: str | None = None
    tta: bool = False

    def to_json(self) -> dict:
        return {"source": self.source, "split": self.split, "n": self.n, "accuracy": self.accuracy,
                "loss": self.loss, "per_class": {str(c): float(a) for c, a in zip(self.classes, self.per_class)},
                "checkpoint": self.checkpoint, "held_out": self.held_out, "note": self.note, "tta": self.tta}


def trained_on(meta: dict, data: str | None, split: str) -> str | None:
    """Why ``split`` of ``data`` is not held-out for this classifier (None when it is).

    A ``--final`` model trained on every image of its source but an official test split.
    """
    tr = meta.get("train") or {}
    if not tr.get("final"):
        return None
    if data is not None and str(data) != str(tr.get("data", meta.get("source"))):
        return None
    if split == "test" and meta.get("official_test"):
        return None
    src = tr.get("data", meta.get("source"))
    return (f"this model was trained with --final on every {'non-test ' if meta.get('official_test') else ''}"
            f"image of {src}, including the {split!r} split evaluated here: these numbers are not held-out "
            "(they read higher than on unseen images)")


@keeps_global_rng
def evaluate_classifier(checkpoint: str | os.PathLike, data: str | None = None, split: str = "test", *,
                        tta: bool = False) -> ClassifierEvaluation:
    """Evaluate a trained classifier (run folder or ``.pt``) on ``split`` of ``data`` (default: its source).

    ``tta`` averages the predictions over the image and its four 1-pixel shifts
    (:data:`convscope.metrics.classification.TTA_SHIFTS`).
    """
    from ..metrics.classification import confusion_matrix
    from ..metrics.classification import evaluate_classifier as evaluate
    from ..models.cnn import prepare_images

    model, meta = _load(checkpoint)
    ds = source_images(meta, data, split)
    classes = meta["classes"]
    if len(ds.classes) != len(classes):
        raise ArgumentError(f"--data has {len(ds.classes)} classes but the model was trained on {len(classes)}")
    x, y = ds.tensors()
    if len(y) == 0:
        raise ArgumentError(f"split {split!r} of {ds.source} is empty")
    ev = evaluate(model, prepare_images(x, meta), y, tta=tta)
    cm = confusion_matrix(y, ev["predictions"], len(classes)).numpy()
    per = cm.diagonal() / np.maximum(cm.sum(1), 1)
    note = trained_on(meta, data, split)
    return ClassifierEvaluation(str(ds.source), split, tuple(classes), len(y), float(ev["accuracy"]),
                                float(ev["loss"]), tuple(float(a) for a in per), cm, str(meta["path"]),
                                held_out=note is None, note=note, tta=tta)


def save_classifier_evaluation(result: ClassifierEvaluation, out_dir: str | os.PathLike) -> list[Path]:
    """``eval.json``, ``confusion.npy`` and ``confusion.png``."""
    from ..viz.classify import confusion_figure

    out = out_folder(out_dir)
    written: list[Path] = []
    save_npy(out / "confusion.npy", result.confusion, [])
    png = confusion_figure(result.confusion, list(result.classes), out / "confusion.png",
                           title=f"{Path(result.source).name} [{result.split}]: accuracy {result.accuracy:.4f}"
                                 + ("" if result.held_out else " (not held-out)") + (" (TTA)" if result.tta else ""))
    save_json(out / "eval.json", result.to_json(), written)
    return [*written, out / "confusion.npy", png]


# ---------------------------------------------------------------- predictions


@dataclass(frozen=True)
class Predictions:
    """The top classes of each input image: ``top[i]`` is ``((class, probability), ...)``."""

    names: tuple[str, ...]
    images: tuple[np.ndarray, ...]
    top: tuple[tuple[tuple[str, float], ...], ...]


def _read_inputs(paths, meta, n_default: int = 8):
    """[(name, image (C,H,W) in [0,1])] for image paths or the source's test images."""
    import torch

    from ..data.images import load_image

    C = meta["image_shape"][0]
    if paths:
        out = []
        for p in paths:
            a = load_image(p, gray=C == 1)
            a = a[None] if a.ndim == 2 else a
            out.append((str(p), torch.from_numpy(np.ascontiguousarray(a))))
        return out
    ds = source_images(meta, None, "test")
    if len(ds) == 0:
        ds = source_images(meta, None, "all")
    x, y = ds.tensors()
    picks = np.unique(np.linspace(0, len(ds) - 1, min(n_default, len(ds))).round().astype(int))  # spread out
    return [(f"{Path(ds.source).name}[test #{i}] (true: {ds.classes[int(y[i])]})", x[i]) for i in picks]


@keeps_global_rng
def predict(checkpoint: str | os.PathLike, images: Sequence[str | os.PathLike] = (), *, top: int = 3) -> Predictions:
    """Top-``top`` classes with probabilities for image files (default: 8 test images of the source)."""
    import torch

    from ..models.cnn import prepare_images

    if top < 1:
        raise ArgumentError(f"--top must be >= 1, got {top}")
    model, meta = _load(checkpoint)
    classes = meta["classes"]
    names, pics, tops = [], [], []
    with torch.no_grad():
        for name, img in _read_inputs(list(images), meta):
            prob = torch.softmax(model(prepare_images(img[None].float(), meta)), 1)[0]
            p, i = prob.topk(min(top, len(classes)))
            names.append(name)
            pics.append(img.numpy())
            tops.append(tuple((classes[int(j)], float(q)) for q, j in zip(p, i)))
    return Predictions(tuple(names), tuple(pics), tuple(tops))


def save_predictions(result: Predictions, out_dir: str | os.PathLike) -> list[Path]:
    """``predictions.json`` and ``predictions.png``."""
    from ..viz.classify import predictions_grid

    out = out_folder(out_dir)
    written: list[Path] = []
    rows = [{"image": n, "top": [{"class": c, "probability": q} for c, q in t]} for n, t in zip(result.names, result.top)]
    save_json(out / "predictions.json", rows, written)
    labels = ["\n".join(f"{c}: {q:.2f}" for c, q in t[:3]) for t in result.top]
    written.append(predictions_grid(list(result.images), labels, out / "predictions.png"))
    return written


# ---------------------------------------------------------------- learned filters


@dataclass(frozen=True)
class LearnedFilters:
    """The first-layer kernels ``(C_out, C_in, kH, kW)``, their centred Fourier magnitudes and their maps of one image."""

    arch: str
    image_name: str
    image: np.ndarray
    kernels: np.ndarray
    spectra: np.ndarray
    maps: np.ndarray


@keeps_global_rng
def learned_filters(checkpoint, image=None, *,
                    spectrum_size: int = 32) -> LearnedFilters:
    """What the network learned: first-layer kernels, their spectra, and the feature maps of ``image``
    (a path or a [0, 1] array; default: the first test image of the training source).

    ``checkpoint``: a run folder, a checkpoint file or a loaded ``(model, meta)`` pair.
    """
    import torch

    from ..models.cnn import kernel_spectra, prepare_images

    model, meta = _load(checkpoint)
    if isinstance(image, np.ndarray | torch.Tensor):  # an image in memory, [0, 1], (H, W) or (C, H, W)
        img = torch.as_tensor(np.asarray(image, dtype=np.float32))
        name, img = "image", img[None] if img.ndim == 2 else img
    else:
        name, img = _read_inputs([image] if image else [], meta, 1)[0]
    model = _first_member(model)  # an ensemble's filters: its first member's
    w = model.first_conv.weight.detach()  # (C_out, C_in, kH, kW)
    spectra = kernel_spectra(w, spectrum_size)
    with torch.no_grad():
        maps = model.first_layer_maps(prepare_images(img[None].float(), meta))[0]  # (C_out, H, W)
    return LearnedFilters(str(meta["config"]["arch"]), name, img.numpy(), w.numpy(), spectra.numpy(), maps.numpy())


def save_learned_filters(result: LearnedFilters, out_dir: str | os.PathLike, *, max_filters: int = 16) -> list[Path]:
    """``kernels.npy``, ``kernel_spectra.npy``, ``feature_maps.npy`` and ``filters.png``."""
    from ..viz.classify import filters_panel

    out = out_folder(out_dir)
    written: list[Path] = []
    save_npy(out / "kernels.npy", result.kernels, written)
    save_npy(out / "kernel_spectra.npy", result.spectra, written)
    save_npy(out / "feature_maps.npy", result.maps, written)
    written.append(filters_panel(result.image, result.kernels, result.spectra, result.maps, out / "filters.png",
                                 max_filters=max_filters,
                                 title=f"{result.arch}: the learned first-layer filters, their Fourier magnitudes "
                                       f"(centred, log)\nand the feature maps they make of {Path(result.image_name).name}"))
    return written


# ---------------------------------------------------------------- one drawing, every layer


@dataclass(frozen=True)
class Recognition:
    """One image through a classifier, CNN-Explainer style.

    Attributes:
        image: the input as given, ``(C, H, W)`` in [0, 1].
        prepared: what the network sees (resized, padded, normalised) ``(C, H', W')``.
        top: ``((class, probability), ...)``, most probable first.
        layers: ``(label, maps)`` for every convolution, ReLU and pooling layer of the
            convolutional stack, in order; ``maps`` is ``(channels, h, w)``.
    """

    image: np.ndarray
    prepared: np.ndarray
    top: tuple[tuple[str, float], ...]
    layers: tuple[tuple[str, np.ndarray], ...]


def digit_from_drawing(drawing) -> np.ndarray:
    """A drawing or photo of one digit as MNIST shows digits: bright ink on black, cropped to the
    ink and centred in a square with a margin, scaled to a maximum of 1.

    ``drawing``: ``(H, W, 4)`` RGBA (ink where alpha is, whatever its colour), ``(H, W, 3)``
    RGB, or ``(H, W)`` grey, as uint8 (0..255) or floats in [0, 1]; dark ink on a light page
    or light on dark.
    """
    s = np.asarray(drawing, dtype=np.float64)
    scale = 255.0 if s.size and s.max() > 1 else 1.0
    if s.ndim == 3 and s.shape[-1] == 4:
        alpha = s[..., 3] / scale
        lum = s[..., :3].mean(-1) / scale
        a = alpha * (1.0 - lum) if alpha.min() < 0.99 else 1.0 - lum
    elif s.ndim == 3 and s.shape[-1] == 3:
        a = 1.0 - s.mean(-1) / scale
    elif s.ndim == 2:
        a = 1.0 - s / scale
    else:
        raise ArgumentError(f"digit must be an (H, W), (H, W, 3) or (H, W, 4) image, got shape {s.shape}")
    if a.size and a.mean() > 0.5:  # a light background: make the ink bright
        a = 1.0 - a
    if a.size == 0 or a.max() <= 0.05:
        raise ArgumentError("digit must have some ink, got an empty drawing")
    ys, xs = np.nonzero(a > 0.2 * a.max())
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    side = int(max(a.shape) * 1.3) + 1  # MNIST leaves a margin round the digit
    sq = np.zeros((side, side))
    y0, x0 = (side - a.shape[0]) // 2, (side - a.shape[1]) // 2
    sq[y0:y0 + a.shape[0], x0:x0 + a.shape[1]] = a
    return sq / sq.max()


@keeps_global_rng
def recognise(checkpoint, image, *, top: int = 3) -> Recognition:
    """The top classes of one [0, 1] ``image`` ((H, W) or (C, H, W)) and every layer's feature maps.

    ``checkpoint``: a run folder, a checkpoint file or a loaded ``(model, meta)`` pair.
    """
    import torch

    from ..models.cnn import prepare_images

    if top < 1:
        raise ArgumentError(f"top must be >= 1, got {top}")
    model, meta = _load(checkpoint)
    img = torch.as_tensor(np.asarray(image, dtype=np.float32))
    img = img[None] if img.ndim == 2 else img
    if img.ndim != 3:
        raise ArgumentError(f"image must be (H, W) or (C, H, W), got shape {tuple(img.shape)}")
    x = prepare_images(img[None], meta)  # (1, C, H', W')
    layers = []
    model.eval()
    with torch.no_grad():
        h = x
        for i, mod in enumerate(_first_member(model).conv):  # an ensemble's maps: its first member's
            h = mod(h)
            if isinstance(mod, torch.nn.Conv2d | torch.nn.ReLU | torch.nn.MaxPool2d):
                layers.append((f"{i}: {type(mod).__name__}", h[0].numpy().copy()))
        prob = torch.softmax(model(x), 1)[0]
    classes = meta["classes"]
    p, idx = prob.topk(min(top, len(classes)))
    return Recognition(img.numpy(), x[0].numpy(), tuple((str(classes[int(j)]), float(q)) for q, j in zip(p, idx)),
                       tuple(layers))
