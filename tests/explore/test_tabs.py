"""The explorer's callbacks as plain functions (no server, no Gradio), and the command line."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

import convscope.experiments as E
from convscope._checks import ArgumentError, ConvscopeError, DataError
from convscope.explore import API_NAMES, common, render, session
from convscope.explore.tabs import diffusion as t_diffusion
from convscope.explore.tabs import fourier as t_fourier
from convscope.explore.tabs import fractional as t_fractional
from convscope.explore.tabs import gan as t_gan
from convscope.explore.tabs import kernels as t_kernels
from convscope.explore.tabs import recognition as t_recognition
from convscope.explore.tabs import theorem as t_theorem
from convscope.kernels import get_kernel


def test_kernel_grid_is_the_named_kernel():
    assert np.array_equal(t_kernels.kernel_grid("laplacian8", 3), get_kernel("laplacian8").numpy())
    g5 = np.array(t_kernels.kernel_grid("sobel_x", 5))
    assert g5.shape == (5, 5) and np.array_equal(g5[1:4, 1:4], get_kernel("sobel_x").numpy()) and g5[0].sum() == 0
    assert np.allclose(t_kernels.kernel_grid("gaussian", 5, 1.5), get_kernel("gaussian", 5, 1.5).numpy(), atol=1e-6)
    with pytest.raises(ArgumentError, match="size must be 3 or 5"):
        t_kernels.kernel_grid("box", 7)


def test_grid_kernel_reads_edited_cells_and_refuses_text():
    assert np.array_equal(t_kernels.grid_kernel([["1", " 2", ""], [0, 1, 0], [0, 0, 0]])[0], [1, 2, 0])
    with pytest.raises(ArgumentError, match="kernel must be a grid of numbers"):
        t_kernels.grid_kernel([["a", 0, 0], [0, 1, 0], [0, 0, 0]])
    with pytest.raises(ArgumentError, match="3×3 or 5×5"):
        t_kernels.grid_kernel([[1, 2], [3, 4]])


def test_feature_maps_and_the_meaning_of_the_sum():
    inp, maps, pooled, text = t_kernels.feature_maps("astronaut", None, t_kernels.kernel_grid("laplacian8", 3),
                                                     "max", 2)
    assert inp.shape == (256, 256, 3) and inp.std() > 10  # the photograph itself is shown
    assert maps.dtype == np.uint8 and maps.shape == (256 + 30, 3 * 256 + 2 * 4, 3)  # maps over a colour bar
    assert pooled.shape == maps.shape  # pooled maps are shown enlarged back to the same size
    assert "zero-sum" in text and "128×128" in text
    bar = maps[256:270]
    assert (bar[:, 0, 2] > bar[:, 0, 0]).all() and (bar[:, -1, 0] > bar[:, -1, 2]).all()  # signed: blue to red
    _, maps, _, text = t_kernels.feature_maps("astronaut", None, t_kernels.kernel_grid("box", 3), "average", 4)
    assert "unit-sum" in text and "64×64" in text
    grey = maps[:256, 10:250]  # a blur cannot go negative: drawn grey, not as a red "negative"
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    with pytest.raises(ArgumentError, match="pool_size must be 2 or 4"):
        t_kernels.feature_maps("astronaut", None, t_kernels.kernel_grid("box", 3), "max", 3)


def test_pixel_computation_sums_to_the_feature_map():
    from scipy.ndimage import convolve

    grid = [[1, 2, 0], [0, -1, 0], [3, 0, -2]]
    html, marked = t_kernels.pixel_computation("camera", None, grid, 1, 40, 77)
    assert tuple(marked[40, 256 + 4 + 77]) == (0, 200, 0)  # the clicked pixel is marked on the map
    img = common.load_work_image("camera", None)
    ref = convolve(img[1], np.array(grid, float), mode="mirror")[40, 77]  # true convolution, reflect border
    total = float(re.search(r"sum of the products = <b>([-0-9.e+]+)</b>", html).group(1))
    assert total == pytest.approx(ref, rel=1e-5, abs=1e-6)
    assert "difference 0.0e+00" in html
    assert t_kernels.tile_position(256 + 4 + 10, 20) == (1, 20, 10)


def test_theorem_shows_wrap_around_only_without_padding():
    *imgs, text = t_theorem.theorem("camera", None, "gaussian:9", True)
    assert all(i.shape == (264, 264, 3) for i in imgs[:2]) and "nothing wraps" in text
    assert text.startswith("**The two routes agree to rounding**")  # the conclusion comes first
    m = re.search(r"max \|spatial − FFT\| = ([0-9.e+-]+), ([0-9.]+) × ε·max", text)
    assert float(m.group(1)) < 1e-10 and float(m.group(2)) <= t_theorem.AGREE_ULPS
    assert imgs[2].shape[0] == 264 + 30  # the difference on a numeric scale (a colour bar below it)
    *imgs, text = t_theorem.theorem("camera", None, "gaussian:9", False)
    assert imgs[0].shape == (256, 256, 3) and "circular" in text
    assert imgs[3][128, 128].tolist() == [247, 247, 247] and imgs[3][0, 0].tolist() != [247, 247, 247]


def test_spectrum_slope_and_filter_energy():
    _img, rows, text = t_fourier.spectrum("camera", None)
    slope = float(re.search(r"f\^(-?[0-9.]+)", text).group(1))
    assert -4 < slope < -1.5 and set(rows["series"]) >= {"power"}
    mask, _out, _removed, rows, text = t_fourier.filter_view("camera", None, "lowpass", 0.08, "ideal", 0.05, 2.0)
    assert mask[128, 128].tolist() == [255, 255, 255] and mask[0, 0].tolist() == [0, 0, 0]
    kept_low = float(re.search(r"Energy kept: ([0-9.]+)%", text).group(1))
    _, _, _, _, text = t_fourier.filter_view("camera", None, "highpass", 0.08, "ideal", 0.05, 2.0)
    kept_high = float(re.search(r"Energy kept: ([0-9.]+)%", text).group(1))
    assert kept_low > 90 > kept_high  # a photograph's energy is at low frequencies
    t_fourier.filter_view("camera", None, "bandstop", 0.2, "butterworth", 0.1, 3.0)
    with pytest.raises(ArgumentError, match="cutoff must be"):
        t_fourier.filter_view("camera", None, "lowpass", 0.7, "ideal", 0.05, 2.0)


def test_diffusion_slider_steps_mass_and_speed():
    import time

    assert t_diffusion.steps_from_slider(0) == 0 and t_diffusion.steps_from_slider(6) == 1_000_000 and t_diffusion.steps_from_slider(2) == 100
    t = time.perf_counter()
    frame, prop, _rows, text = t_diffusion.diffusion(4.0, 6.0, "symmetric", "disc")
    assert time.perf_counter() - t < 5  # exact spectral method: no million iterations
    assert "1,000,000 steps" in text and "mass now | 509 |" in text
    assert "probability density" in text and prop.count("<td") == 9  # the 3×3 propagator as numbers
    field = frame[:256]
    assert len(np.unique(field.reshape(-1, 3), axis=0)) == 1  # uniform after 10⁶ steps...
    assert tuple(field[0, 0]) != tuple(frame[256 + 2, 0])  # ...and drawn on the fixed scale, not as its lowest colour
    _frame, _prop, rows, text = t_diffusion.diffusion(4.0, 3.0, "zeros", "drop")
    now = float(re.search(r"mass now \| ([0-9.e+-]+) \|", text).group(1))
    assert now < 1.0  # absorbing walls
    assert any("heat equation" in s for s in rows["series"])
    with pytest.raises(ArgumentError, match="boundary must be"):
        t_diffusion.diffusion(4.0, 2.0, "reflect", "drop")


@pytest.mark.parametrize("n,s,p,k", [(3, 2, 1, 3), (4, 2, 1, 4), (2, 3, 0, 5), (5, 1, 2, 3)])
def test_fractional_output_size_and_torch_check(n, s, p, k):
    html, text = t_fractional.fractional(n, s, p, k)
    out = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, n, n), torch.ones(1, 1, k, k), stride=s, padding=p)
    assert f"**{out.shape[-1]}**" in text and "(equal)" in text
    assert f"5. output {out.shape[-1]}×{out.shape[-1]}" in html
    with pytest.raises(ArgumentError, match="padding must be at most"):
        t_fractional.fractional(3, 2, 3, 3)


def test_fractional_steps_through_output_pixels_with_an_asymmetric_kernel():
    k = t_fractional.example_kernel(3)
    assert not np.array_equal(k, k[::-1, ::-1])  # the flip shows
    x, _ = E.example_inputs(3, 3)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x)[None, None], torch.tensor(k)[None, None], stride=2,
                                               padding=1)[0, 0]
    for (r, c) in ((0, 0), (1, 2), (4, 4), (9, 9)):  # (9, 9) is clamped to the last output pixel
        _, text = t_fractional.fractional(3, 2, 1, 3, r, c)
        rr, cc = min(r, 4), min(c, 4)
        assert f"output pixel ({rr}, {cc})" in text and f"= **{ref[rr, cc]:.0f}**" in text


def test_uploads_go_through_the_image_guards(tmp_path, monkeypatch):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="could not be read"):
        t_kernels.feature_maps(None, str(bad), t_kernels.kernel_grid("box", 3), "max", 2)
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((300, 300), np.uint8)).save(big)
    monkeypatch.setattr("convscope.data.images.MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(DataError, match="too large"):
        t_fourier.spectrum(None, str(big))


def test_prepare_digit_inverts_crops_and_refuses_an_empty_page():
    page = np.full((100, 100, 4), 255, np.uint8)
    page[..., 3] = 0
    with pytest.raises(ArgumentError, match="some ink"):
        t_recognition.prepare_digit({"composite": page})
    page[20:80, 45:55] = [0, 0, 0, 255]  # black ink, opaque
    d = t_recognition.prepare_digit({"composite": page, "background": None, "layers": []})
    assert d.max() == 1.0 and d[d.shape[0] // 2, d.shape[1] // 2] == 1.0 and d[0, 0] == 0.0
    assert d.shape[0] == d.shape[1]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    c = session.Classifier(cache_dir=tmp_path_factory.mktemp("cache"), epochs=1)
    assert "not started" in c.status()
    c.start(background=False)
    return c


def test_classifier_is_trained_cached_and_reloaded(classifier):
    assert classifier.ready and "✔" in classifier.status()
    assert (classifier.run_dir / "DONE").is_file() and classifier.run_dir.parent == classifier.cache_dir
    again = session.Classifier(cache_dir=classifier.cache_dir)
    again.start()
    assert again.ready and "loaded" in again.status()  # from the cache, no second training
    w0 = classifier.model.first_conv.weight
    assert torch.equal(again.model.first_conv.weight, w0)


def test_predict_and_filters(classifier):
    img = np.zeros((8, 8), np.uint8)
    img[1:7, 3:5] = 255
    top, maps, _seen = t_recognition.predict(classifier, {"composite": np.dstack([255 - img] * 3 + [np.full((8, 8), 255, np.uint8)])})
    assert len(top) == 3 and all(k in [str(i) for i in range(10)] for k in top)
    assert 0 < sum(top.values()) <= 1.0 + 1e-6 and maps.ndim == 3
    filt, spec = t_recognition.first_layer_filters(classifier)
    n = classifier.model.first_conv.weight.shape[0]
    assert filt.ndim == 3 and spec.ndim == 3 and n >= 2
    not_ready = session.Classifier(cache_dir=classifier.cache_dir / "nothing")
    with pytest.raises(ArgumentError, match="classifier must be ready"):
        t_recognition.predict(not_ready, {"composite": img})


def test_gan_session_steps_changes_and_walks():
    g = session.GanSession(seed=3)
    before = g.samples()
    g.train(2, lr_g=1e-3, lr_d=1e-4, loss="hinge")
    assert g.step == 2 and len(g.history["loss_d"]) == 2 and "step 2" in g.report()
    plugin = g.stepper.plugin  # the training engine's GAN plugin, stepped in memory
    assert plugin.optG.param_groups[0]["lr"] == 1e-3 and plugin.optD.param_groups[0]["lr"] == 1e-4
    assert plugin.config.loss == "hinge" and g.stepper.step == 2
    assert not np.array_equal(before, g.samples())
    lin = t_gan.gan_walk(g, 1, 2, 4, "linear")
    sl = t_gan.gan_walk(g, 1, 2, 4, "slerp")
    assert lin.shape == sl.shape and not np.array_equal(lin, sl)
    rows, text = t_gan.gan_spectrum(g, 64)
    assert set(rows["series"]) == {"real", "generated"} and "Slopes" in text
    with pytest.raises(ArgumentError, match="loss must be"):
        g.train(1, loss="wasserstein")
    g.reset()
    assert g.step == 0 and not g.history["step"]


def test_render_helpers():
    d = render.diverging(np.array([[-1.0, 0.0, 1.0]]))
    assert d[0, 1].tolist() == [247, 247, 247] and d[0, 0, 2] > d[0, 0, 0] and d[0, 2, 0] > d[0, 2, 2]
    assert render.grey(np.ones((2, 2))).shape == (2, 2, 3)
    assert render.tile([np.zeros((4, 4, 3), np.uint8)] * 3, cols=3, gap=1).shape == (4, 14, 3)


def test_message_one_line():
    assert common.message(ArgumentError("x must be 1, got 2\nmore")) == "x must be 1, got 2"
    assert common.message(KeyError("k")).startswith("internal error: KeyError")
    assert issubclass(DataError, ConvscopeError)


def test_api_names_are_unique_and_listed_in_the_explorer_manual():
    from pathlib import Path

    assert len(set(API_NAMES)) == len(API_NAMES)
    manual = (Path(__file__).resolve().parents[2] / "docs" / "explorer.md").read_text()
    for name in API_NAMES:
        assert f"`{name}`" in manual, name


def test_cli_explore_help_and_host_warning(capsys, monkeypatch):
    from convscope.cli import main
    from convscope.explore import app

    assert main(["explore", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--classifier", "--gan", "--no-browser", "--share", "--allow-host"):
        assert flag in out

    seen = {}

    class Fake:
        def queue(self, **kw):
            return self

        def launch(self, **kw):
            seen.update(kw)
            return None, "http://x/", None

    monkeypatch.setattr(app, "theme", lambda: None)
    app.launch(Fake(), host="0.0.0.0", browser=False, block=False)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning" in err and "0.0.0.0" in err
    assert seen["share"] is False and seen["server_name"] == "0.0.0.0"
    app.launch(Fake(), browser=False, block=False)
    assert capsys.readouterr().err == "" and seen["server_name"] == "127.0.0.1"
    # every launch puts the request guard in front of Gradio's routes, with the names it may answer to
    (guard,) = seen["app_kwargs"]["middleware"]
    assert guard.cls.__name__ == "RequestGuard" and guard.kwargs["names"] == {"127.0.0.1", "localhost", "::1"}
    app.launch(Fake(), host="0.0.0.0", port=8001, browser=False, block=False, allow_hosts=("box.lan",))
    assert "box.lan" in capsys.readouterr().err
    (guard,) = seen["app_kwargs"]["middleware"]
    assert guard.kwargs["names"] == {"127.0.0.1", "localhost", "::1", "box.lan"} and guard.kwargs["port"] == 8001
    assert guard.kwargs["suffixes"] == ()


@pytest.mark.parametrize("flag", ["--classifier", "--gan"])
def test_cli_bad_run_folder_is_one_line_exit_2(flag, tmp_path, capsys, monkeypatch):
    from convscope.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    for bad in (tmp_path / "missing", junk):
        assert main(["explore", "--no-browser", flag, str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("convscope: error:") and str(bad) in err, err
    assert not (tmp_path / "cache").exists()  # refused before the server (or its cache folder) was made
    assert main(["explore", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err


def test_theorem_never_reads_a_server_file(tmp_path):
    """The kernel box is browser text: a path is refused alike whether it exists or not, and nothing is read."""
    secret = tmp_path / "k.txt"
    secret.write_text("1 2 3\n4 5 6\n7 8 9\n")
    messages = []
    for spec in (str(secret), str(tmp_path / "missing.txt"), "/etc/passwd"):
        with pytest.raises(ArgumentError) as e:
            t_theorem.theorem("camera", None, spec, True)
        messages.append(str(e.value).replace(spec, "<path>"))
    assert len(set(messages)) == 1 and "files are not read here" in messages[0]
    assert "root:" not in messages[0]
    *_, text = t_theorem.theorem("camera", None, "[[0, 1, 0], [1, 2, 1], [0, 1, 0]]", True)  # a literal still works
    assert "max |spatial − FFT|" in text


def test_each_browser_session_has_its_own_gan():
    gans = session.GanSessions(max_sessions=2, seed=3)
    a, b = gans.get("visitor-a"), gans.get("visitor-b")
    assert a is not b and gans.get("visitor-a") is a and len(gans) == 2
    a.train(2)
    assert a.step == 2 and b.step == 0
    b.reset()  # one visitor's reset leaves the other's run alone
    assert a.step == 2 and a.history["step"] == [1, 2]
    gans.get("visitor-c")  # over the bound: the least recently used (b) is dropped, a stays
    assert gans.get("visitor-a") is a and len(gans) == 2
    assert gans.get("visitor-b") is not b
    gans.drop("visitor-a")
    assert gans.get("visitor-a") is not a


def test_idle_gan_sessions_are_dropped(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(session.time, "monotonic", lambda: now[0])
    gans = session.GanSessions(idle_s=60)
    a = gans.get("a")
    now[0] += 61
    gans.get("b")
    assert len(gans) == 1 and gans.get("a") is not a


def test_every_tab_module_is_listed_and_complete():
    import pkgutil

    from convscope.explore import app, tabs

    modules = {m.name for m in pkgutil.iter_modules(tabs.__path__)}
    assert modules == {t.__name__.rsplit(".", 1)[1] for t in tabs.TABS}
    for t in tabs.TABS:
        assert t.TITLE and t.ID and t.API_NAMES and callable(t.build), t.__name__
    assert len({t.ID for t in tabs.TABS}) == len(tabs.TABS)
    assert app.API_NAMES == API_NAMES == tuple(n for t in tabs.TABS for n in t.API_NAMES)
    assert API_NAMES == ("kernel_grid", "feature_maps", "pixel", "theorem", "signal", "spectrum", "filter", "diffuse",
                         "fractional", "classifier_status", "predict", "filters", "gan_step", "gan_reset",
                         "gan_samples", "gan_walk", "gan_spectrum")


def test_building_the_app_writes_nothing_into_the_package(tmp_path):
    """Gradio writes a type stub beside any module that subclasses one of its components."""
    pytest.importorskip("gradio")
    from pathlib import Path

    import convscope
    from convscope.explore import build_app

    root = Path(convscope.__file__).parent
    before = {p for p in root.rglob("*") if "__pycache__" not in p.parts}
    build_app(cache=tmp_path, train_classifier=False)
    after = {p for p in root.rglob("*") if "__pycache__" not in p.parts}
    assert after == before, sorted(map(str, after - before))


def test_the_signals_tab_plays_filters_and_shows_the_equaliser():
    from PIL import Image

    from convscope.explore.tabs import signals as t_signals

    (rate, orig), (rate2, out), gif, rows, text = t_signals.signal("scale", None, "lowpass", 300.0, "ideal", 0.0)
    assert rate == rate2 and orig.dtype == np.int16 and orig.shape == out.shape  # what gr.Audio plays
    assert "energy kept" in text and "scale" in text.lower()
    with Image.open(gif) as im:  # an animation, one frame per tenth of a second of the song
        assert im.n_frames == pytest.approx(len(orig) / rate * t_signals.EQ_FPS, abs=2)
    f, series = np.array(rows["frequency (Hz)"]), np.array(rows["series"])
    amp = np.array(rows["amplitude (dB)"])
    notes = (f > 320) & (f < 540)  # E4 to C5, above the cutoff: gone from the filtered song
    assert amp[(series == "filtered") & notes].max() < amp[(series == "original") & notes].max() - 40
    *_, text = t_signals.signal("chord", None, "bandpass", 440.0, "butterworth", 1.0)
    assert "RT60 1 s" in text
    with pytest.raises(ArgumentError, match="source must be one of"):
        t_signals.signal("/etc/passwd")  # a name, never a path
    with pytest.raises(ArgumentError, match="rt60 must be"):
        t_signals.signal("scale", None, "lowpass", 300.0, "ideal", float("nan"))
