"""The figure functions draw what they say: axes, titles, lines and image sizes.

Every figure passes through ``Figure.savefig``; the fixture keeps each saved
figure so its axes can be read back after the function returns its path.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

matplotlib.use("Agg")

from convscope import viz
from convscope.viz import classify as vclassify
from convscope.viz import diffusion as vdiffusion
from convscope.viz import signals as vsignals


@pytest.fixture
def saved(monkeypatch):
    figs: list[Figure] = []
    real = Figure.savefig

    def keep(self, *a, **k):
        figs.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figs


def _titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def _colours(ax) -> set[str]:
    """The colours of an axes' lines and filled areas."""
    lines = {matplotlib.colors.to_hex(ln.get_color()) for ln in ax.get_lines() if ln.get_marker() in ("None", "")}
    fills = {matplotlib.colors.to_hex(c) for col in ax.collections for c in col.get_facecolor()}
    return lines | fills


def _png(path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_new_figure_show_map_and_kernel_label_what_they_draw(tmp_path):
    fig, axes = viz.new_figure(3, ncols=2, titles=["a", "b", "c"])
    assert len(np.ravel(axes)) >= 3 and [ax.get_title() for ax in np.ravel(axes)[:3]] == ["a", "b", "c"]
    viz.show_map(np.ravel(axes)[0], np.random.default_rng(0).random((8, 10)), title="map", colorbar=True)
    viz.show_kernel(np.ravel(axes)[1], np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]), title="kernel")
    assert np.ravel(axes)[0].images[0].get_array().shape == (8, 10)
    texts = [t.get_text() for t in np.ravel(axes)[1].texts]
    assert "8" in texts and texts.count("-1") == 8  # every weight written in its cell
    w, h = _png(viz.save_figure(fig, tmp_path / "f.png"))
    assert w > 100 and h > 100


def test_display_scale_is_symmetric_for_signed_maps():
    a = np.array([[-2.0, 0.0], [1.0, 2.0]])
    s = viz.display_scale(a)
    assert s.min() >= 0 and s.max() <= 1 and s[0, 1] == pytest.approx(0.5, abs=0.02)  # zero in the middle


def test_classifier_and_gan_curves(tmp_path, saved):
    hist = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 1 - 1 / (e + 1),
             "val_acc": 1 - 1.2 / (e + 1)} for e in range(1, 6)]
    _png(viz.classifier_curves(hist, tmp_path / "c.png"))
    (fig,) = saved
    lines = sum(len(ax.get_lines()) for ax in fig.axes)
    assert len(fig.axes) >= 2 and lines >= 4  # loss and accuracy, train and validation each
    n = 50
    g = {"step": list(range(n)), "loss_d": [1.0] * n, "loss_g": [2.0] * n, "d_real": [0.7] * n, "d_fake": [0.3] * n}
    _png(viz.gan_curves(g, tmp_path / "g.png", smooth=5))
    assert sum(len(ax.get_lines()) for ax in saved[1].axes) >= 4


def test_confusion_figure_writes_every_count(tmp_path, saved):
    cm = np.array([[5, 1], [2, 7]])
    _png(vclassify.confusion_figure(cm, ["cat", "dog"], tmp_path / "cm.png", title="pets"))
    (fig,) = saved
    ax = fig.axes[0]
    texts = " ".join(t.get_text() for t in ax.texts)
    assert all(str(v) in texts for v in cm.ravel()) and "pets" in " ".join(_titles(fig))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]


def test_propagator_and_diffusion_strip(tmp_path, saved):
    k = np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    P = np.exp(k) / np.exp(k).sum()
    _png(vdiffusion.propagator_figure(k, P, "D = 0.0001", tmp_path / "p.png", title="softmax"))
    assert len(saved[0].axes) >= 2
    frames = [np.random.default_rng(i).random((16, 16)) for i in range(3)]
    _png(vdiffusion.diffusion_strip(frames, [0, 10, 100], tmp_path / "s.png"))
    titles = " ".join(_titles(saved[1]))
    assert all(str(s) in titles for s in (0, 10, 100))  # each frame is labelled with its step


def test_signal_figures(tmp_path, saved):
    rate = 8000
    t = np.arange(rate) / rate
    x = np.sin(2 * np.pi * 440 * t)
    f = np.fft.rfftfreq(len(x), 1 / rate)
    amp = np.abs(np.fft.rfft(x)) / len(x)
    _png(vsignals.time_frequency_figure(x, rate, f, amp, [(440.0, 0.5, "A4")], tmp_path / "tf.png"))
    fig = saved[0]
    assert len(fig.axes) >= 2
    time_ax, freq_ax = fig.axes[:2]
    assert _colours(time_ax) == {vsignals.RED}  # the time domain in red
    assert vsignals.BLUE in _colours(freq_ax)  # the frequency domain in blue
    assert "A4" in " ".join(t.get_text() for ax in fig.axes for t in ax.texts)  # the peak is named
    _png(vsignals.filter_figure(f, amp, amp * (f < 1000), f, (f < 1000).astype(float), tmp_path / "flt.png",
                                title="lowpass"))
    assert "lowpass" in " ".join([*_titles(saved[1]), saved[1].texts[0].get_text() if saved[1].texts else ""])
    ir = np.exp(-np.arange(2000) / 300.0)
    edc = 10 * np.log10(np.cumsum(ir[::-1] ** 2)[::-1] / (ir**2).sum())
    _png(vsignals.reverb_figure(ir, rate, np.arange(2000) / rate, edc, 0.6, tmp_path / "rv.png", rt60_requested=0.6))
    assert len(saved[2].axes) >= 2


def test_gifs_have_their_frames(tmp_path):
    frames = [np.full((8, 8, 3), v, np.uint8) for v in (0, 120, 240)]
    p = viz.save_gif(frames, tmp_path / "a.gif", duration_ms=50)
    with Image.open(p) as im:
        assert im.n_frames == 3 and im.size == (8, 8)
    levels = np.linspace(-60, 0, 5 * 8).reshape(5, 8)
    p = viz.equaliser_gif(levels, np.geomspace(50, 8000, 8), 10.0, tmp_path / "eq.gif")
    with Image.open(p) as im:
        assert im.n_frames == 5
