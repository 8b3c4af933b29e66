"""Convolutional classifiers: a LeNet-5-style net and a small AlexNet-style one.

"The point of a CNN is that it does the feature engineering for us": the
first layer's kernels are learned, not designed (``convscope classify filters``
draws them next to their Fourier spectra).

A frozen :class:`CNNConfig` builds the network and is saved (as a plain dict)
in every checkpoint. ``conv_method`` other than ``"torch"`` builds the
convolutions from convscope's own engine (``direct``, ``fft``,
``overlap_add`` or ``auto``), so a trained network can run on FFT
convolutions; the parameter names are the same either way, so one
``state_dict`` loads into both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._checkpoint import read_checkpoint
from .._checks import DataError, check_float, check_int, check_option, check_shape, fail
from .._config import ConfigMixin
from ..data import transforms as T

__all__ = ["ARCHS", "CONV_METHODS", "ENSEMBLE_FILE", "CNNConfig", "CNN", "Ensemble", "make_conv", "load_classifier",
           "prepare_images", "kernel_spectra"]

ARCHS = ("lenet", "alexnet")
ENSEMBLE_FILE = "ensemble.json"  # in a folder of ``classify train --ensemble N``: the members' run folders
MAX_ENSEMBLE = 100  # the most members the trainer makes; a file listing more was not written by it
CONV_METHODS = ("torch", "auto", "direct", "fft", "overlap_add")


@dataclass(frozen=True)
class CNNConfig(ConfigMixin):
    """Architecture of a :class:`CNN`.

    Args:
        arch: ``"lenet"`` (2 conv + 3 fully connected layers, LeNet-5 with ReLU
            and max pooling) or ``"alexnet"`` (5 conv + 3 fully connected, a
            scaled-down AlexNet).
        in_channels: 1 for grey, 3 for RGB.
        num_classes: outputs of the last layer.
        image_size: side of the (square) input images.
        width: multiplies every channel and hidden-unit count.
        batch_norm: batch normalisation after each convolution.
        dropout: dropout probability before the fully connected layers.
        conv_method: ``"torch"`` (``torch.nn.Conv2d``) or a convscope method
            (``"auto"``, ``"direct"``, ``"fft"``, ``"overlap_add"``).
        conv_channels: explicit output channels of the convolutions (2 for lenet,
            5 for alexnet), not scaled by ``width``; ``None``: the arch's (6, 16) or
            (48, 128, 192, 192, 128) times ``width``. E.g. ``(32, 64)``.
        fc_units: explicit hidden fully connected widths (any number, also none),
            not scaled by ``width``; ``None``: the arch's (120, 84) or (512, 512) times
            ``width``. E.g. ``(256,)``. The last one is ``feature_dim``.
    """

    arch: str = "lenet"
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    width: float = 1.0
    batch_norm: bool = True
    dropout: float = 0.25
    conv_method: str = "torch"
    conv_channels: tuple[int, ...] | None = None
    fc_units: tuple[int, ...] | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "arch", check_option("arch", self.arch, ARCHS))
        set_(self, "in_channels", check_int("in_channels", self.in_channels, min_value=1))
        set_(self, "num_classes", check_int("num_classes", self.num_classes, min_value=2))
        set_(self, "image_size", check_int("image_size", self.image_size, min_value=1))
        set_(self, "width", check_float("width", self.width, min_value=0.0, strict_min=True))
        if not isinstance(self.batch_norm, bool):
            raise fail("batch_norm", "a bool", self.batch_norm, TypeError)
        set_(self, "dropout", check_float("dropout", self.dropout, min_value=0.0, max_value=0.95))
        set_(self, "conv_method", check_option("conv_method", self.conv_method, CONV_METHODS))
        for name, n in (("conv_channels", 2 if self.arch == "lenet" else 5), ("fc_units", None)):
            v = getattr(self, name)
            if v is None:
                continue
            if not isinstance(v, tuple | list) or (n is not None and len(v) != n):
                raise fail(name, f"None or a sequence of {n or 'any number of'} positive ints", v, TypeError)
            set_(self, name, tuple(check_int(name, c, min_value=1) for c in v))  # lists (JSON) -> tuple


def make_conv(cin: int, cout: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
              method: str = "torch", bias: bool = True) -> nn.Module:
    """A 2-D convolution layer: ``torch.nn.Conv2d`` or convscope's ``Conv2d(method=...)``."""
    method = check_option("conv_method", method, CONV_METHODS)
    if method == "torch":
        return nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=bias)
    from ..conv import Conv2d

    return Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=bias, method=method)


def _c(n: float, width: float) -> int:
    return max(1, round(n * width))


class CNN(nn.Module):
    """A classifier built from a :class:`CNNConfig`.

    ``features(x)`` gives the penultimate feature vector ``(B, feature_dim)``
    (the input of the last linear layer; used as the feature network of the
    GAN metrics), ``forward(x)`` the logits ``(B, num_classes)``.

    Shape:
        x: ``(B, in_channels, image_size, image_size)``.

    Example:
        >>> net = CNN(CNNConfig("lenet", image_size=28))
        >>> net(torch.zeros(2, 1, 28, 28)).shape, net.features(torch.zeros(2, 1, 28, 28)).shape
        (torch.Size([2, 10]), torch.Size([2, 84]))
    """

    def __init__(self, config: CNNConfig | None = None, **kw: Any):
        super().__init__()
        if config is None:
            config = CNNConfig(**kw)
        elif kw:
            config = config.replace(**kw)
        if not isinstance(config, CNNConfig):
            raise fail("config", "a CNNConfig", config, TypeError)
        self.config = config
        c = config
        bn = c.batch_norm
        m = c.conv_method

        def block(cin, cout, k, pad):
            layers = [make_conv(cin, cout, k, padding=pad, method=m, bias=not bn)]
            if bn:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU(inplace=True))
            return layers

        s = c.image_size
        if c.arch == "lenet":
            c1, c2 = c.conv_channels or (_c(6, c.width), _c(16, c.width))
            pad2 = 2 if s < 16 else 0  # tiny inputs (8x8 digits) keep their size through conv2
            s1 = s // 2  # conv1 5x5 pad 2 keeps s; pool halves
            s2 = (s1 + 2 * pad2 - 4) // 2
            if s2 < 1:
                raise fail("image_size", "at least 4 for lenet", s)
            conv = [*block(c.in_channels, c1, 5, 2), nn.MaxPool2d(2),  # (B, c1, s/2, s/2)
                    *block(c1, c2, 5, pad2), nn.MaxPool2d(2)]  # (B, c2, s2, s2)
            flat = c2 * s2 * s2
            hidden = list(c.fc_units) if c.fc_units is not None else [_c(120, c.width), _c(84, c.width)]
        else:
            ch = list(c.conv_channels or [_c(n, c.width) for n in (48, 128, 192, 192, 128)])
            s_out = s // 2 // 2 // 2
            if s_out < 1:
                raise fail("image_size", "at least 8 for alexnet", s)
            conv = [*block(c.in_channels, ch[0], 5, 2), nn.MaxPool2d(2),  # (B, ch0, s/2, s/2)
                    *block(ch[0], ch[1], 5, 2), nn.MaxPool2d(2),  # (B, ch1, s/4, s/4)
                    *block(ch[1], ch[2], 3, 1),
                    *block(ch[2], ch[3], 3, 1),
                    *block(ch[3], ch[4], 3, 1), nn.MaxPool2d(2)]  # (B, ch4, s/8, s/8)
            flat = ch[4] * s_out * s_out
            hidden = list(c.fc_units) if c.fc_units is not None else [_c(512, c.width), _c(512, c.width)]
        self.conv = nn.Sequential(*conv)
        fc: list[nn.Module] = [nn.Flatten()]
        cin = flat
        for h in hidden:
            if c.dropout > 0:
                fc.append(nn.Dropout(c.dropout))
            fc += [nn.Linear(cin, h), nn.ReLU(inplace=True)]
            cin = h
        self.fc = nn.Sequential(*fc)  # (B, feature_dim)
        self.head = nn.Linear(cin, c.num_classes)  # (B, num_classes)
        self.feature_dim = cin

    @property
    def first_conv(self) -> nn.Conv2d:
        """The first convolution layer (its ``weight`` is ``(C_out, C_in, 5, 5)``)."""
        return self.conv[0]

    def _check(self, x: torch.Tensor) -> None:
        c = self.config
        check_shape("x", x, ["B", c.in_channels, c.image_size, c.image_size])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``(B, feature_dim)``."""
        self._check(x)
        return self.fc(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)``."""
        return self.head(self.features(x))

    def first_layer_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the first convolution alone ``(B, C_out, H, W)``: the learned feature maps."""
        self._check(x)
        return self.first_conv(x)


# ---------------------------------------------------------------- loading a trained classifier


def load_classifier(path_or_run_dir: str | os.PathLike, *, map_location: Any = "cpu",
                    conv_method: str | None = None) -> tuple[CNN, dict]:
    """Rebuild a trained :class:`CNN` (in eval mode) and its metadata.

    ``path_or_run_dir`` is a checkpoint file or a run folder (``best.pt``
    preferred, else the newest; see :func:`convscope._checkpoint.resolve_checkpoint`).
    ``meta`` holds ``classes``, ``image_shape`` ``[C, H, W]``, ``normalize``,
    ``mean``, ``std``, ``pad`` and ``source`` (how the training images were
    prepared; :func:`prepare_images` applies it to new [0, 1] images), ``final``
    (trained with ``--final``: nothing but an official test split, ``official_test``, held out), plus
    ``config``, ``train``, ``epoch``, ``step``, ``best_metric`` and ``path``.
    ``conv_method`` overrides the saved one. A schema-1 checkpoint (the layout before the one engine) loads too.
    A folder of ``classify train --ensemble N`` gives an :class:`Ensemble` of its members,
    with the first member's ``meta`` plus ``ensemble`` (N) and ``members`` (their checkpoints).
    """
    if (Path(path_or_run_dir) / ENSEMBLE_FILE).is_file():
        return _load_ensemble(Path(path_or_run_dir), map_location, conv_method)
    state, path = read_checkpoint(path_or_run_dir, "classifier", prefer_best=True, map_location=map_location)
    try:
        cfg = CNNConfig.from_dict(dict(state["configs"]["model"]))
    except (ValueError, TypeError) as e:
        raise DataError(f"checkpoint {path} is damaged: its model config is invalid ({e})") from None
    if conv_method is not None:
        cfg = cfg.replace(conv_method=conv_method)
    model = CNN(cfg)
    try:
        model.load_state_dict(state["models"]["model"])
    except (KeyError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"checkpoint {path} is damaged: its weights do not fit its config ({first})") from None
    model.eval()
    data = dict(state["extra"].get("data") or {})
    classes = data.get("classes", [str(i) for i in range(cfg.num_classes)])
    if not isinstance(classes, list | tuple) or len(classes) != cfg.num_classes:
        n = len(classes) if isinstance(classes, list | tuple) else type(classes).__name__
        raise DataError(f"checkpoint {path} is damaged: it lists {n} class names but the model has "
                        f"{cfg.num_classes} outputs")
    meta = {
        "classes": [str(c) for c in classes],
        "image_shape": list(data.get("image_shape", [cfg.in_channels, cfg.image_size, cfg.image_size])),
        "normalize": data.get("normalize"),
        "mean": data.get("mean"),
        "std": data.get("std"),
        "source": data.get("source"),
        "pad": data.get("pad", 0),
        "final": bool(data.get("final", False)),
        "official_test": bool(data.get("official_test", False)),
        "config": cfg.to_dict(),
        "train": dict(state["configs"].get("train") or {}),
        "epoch": state["epoch"],
        "step": state["step"],
        "best_metric": state["extra"].get("best_metric"),
        "version": state["version"],
        "path": str(path),
    }
    return model, meta


class Ensemble(nn.Module):
    """Classifiers trained alike from different seeds, averaged: ``forward`` returns ``log(mean softmax)``.

    Log-probabilities work wherever logits do (``softmax`` gives the mean
    probabilities back, cross-entropy is the ensemble's negative log-likelihood).
    ``features`` concatenates the members' penultimate features; ``members[0]``
    is the one to look inside (filters, feature maps).
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise fail("members", "at least one classifier", members)
        self.members = nn.ModuleList(members)
        self.config = getattr(members[0], "config", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.stack([m(x).softmax(dim=1) for m in self.members]).mean(dim=0)
        return p.clamp_min(torch.finfo(p.dtype).tiny).log()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m.features(x) for m in self.members], dim=1)


def _load_ensemble(folder: Path, map_location: Any, conv_method: str | None) -> tuple[Ensemble, dict]:
    import json

    file = folder / ENSEMBLE_FILE
    try:
        spec = json.loads(file.read_text())
        names = spec["members"]
        if spec.get("kind") != "classifier-ensemble" or not isinstance(names, list) or not names:
            raise ValueError("not a classifier ensemble")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{file} is damaged ({e})") from None
    if len(names) > MAX_ENSEMBLE or len({str(n) for n in names}) != len(names):
        raise DataError(f"{file} is damaged: it must list at most {MAX_ENSEMBLE} distinct members, got "
                        f"{len(names)} ({len({str(n) for n in names})} distinct)")
    if spec.get("complete") is False:
        raise DataError(f"the ensemble in {folder} is not finished: its training stopped before all "
                        f"{len(names)} members were trained (resume the training to finish it)")
    models, metas = [], []
    for name in names:
        member = (folder / str(name)).resolve()
        if folder.resolve() not in member.parents:  # a member must live inside the ensemble's folder
            raise DataError(f"{file} is damaged: member {name!r} lies outside {folder}")
        m, meta = load_classifier(member, map_location=map_location, conv_method=conv_method)
        if metas and (meta["classes"] != metas[0]["classes"] or meta["image_shape"] != metas[0]["image_shape"]):
            raise DataError(f"{file} is damaged: member {name!r} has other classes or image shape than the first")
        models.append(m)
        metas.append(meta)
    meta = {**metas[0], "ensemble": len(models), "members": [m["path"] for m in metas], "path": str(folder)}
    return Ensemble(models).eval(), meta


def prepare_images(x: torch.Tensor, meta: dict) -> torch.Tensor:
    """Turn [0, 1] images ``(N, C, H, W)`` into what a trained classifier expects.

    ``meta`` is :func:`load_classifier`'s: channels converted, resized to the
    training size (before padding), padded, then normalised with the training statistics.
    """
    C, H, W = meta["image_shape"]
    pad = int(meta.get("pad") or 0)
    x = T.to_channels(x, C)
    x = T.resize(x, (H - 2 * pad, W - 2 * pad))
    x = T.pad(x, pad)
    return T.normalize(x, meta.get("normalize"), meta.get("mean"), meta.get("std"))


def kernel_spectra(weight: torch.Tensor, size: int = 32) -> torch.Tensor:
    """Frequency response magnitudes of conv kernels ``(C_out, C_in, kH, kW)`` -> ``(C_out, size, size)``.

    Each kernel is zero-padded to ``size x size`` and transformed with
    ``torch.fft.fft2``; the magnitude is centred (``fftshift``, DC in the
    middle) and combined over input channels as ``sqrt(sum |F|^2)``.

    >>> w = torch.zeros(1, 1, 3, 3); w[0, 0, 1, 1] = 1.0  # identity kernel: flat response
    >>> bool(torch.allclose(kernel_spectra(w, 8), torch.ones(1, 8, 8)))
    True
    """
    w = weight.detach().to(torch.float64)
    if w.ndim != 4:
        raise fail("weight", "of shape (C_out, C_in, kH, kW)", w)
    size = check_int("size", size, min_value=max(w.shape[-2:]))
    F_ = torch.fft.fft2(w, s=(size, size))  # (C_out, C_in, size, size)
    mag = F_.abs().pow(2).sum(1).sqrt()
    return torch.fft.fftshift(mag, dim=(-2, -1)).to(torch.float32)

