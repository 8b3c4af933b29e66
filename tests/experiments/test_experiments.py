"""Every experiment on a tiny input, run inside an empty folder: a frozen dataclass back, nothing written.

The trained models the classify and GAN experiments read are trained first (tiny budgets)
in folders of their own, so the working folder the experiments run in starts empty.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import convscope.experiments as E
from convscope._checks import ArgumentError


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    from convscope.models.cnn import CNNConfig
    from convscope.train.classify import TrainConfig, train_classifier

    run = tmp_path_factory.mktemp("cls") / "run"
    tcfg = TrainConfig.from_dict({"data": "digits", "image_size": 16, "epochs": 1, "seed": 0})
    train_classifier(CNNConfig(width=0.5), tcfg, run, quiet=True)
    return run


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    from convscope.models.dcgan import DCGANConfig
    from convscope.train.gan import GANTrainConfig, train_gan

    run = tmp_path_factory.mktemp("gan") / "run"
    train_gan(DCGANConfig(image_size=16, channels=1, nz=8, ngf=4, ndf=4), "digits", run,
              train=GANTrainConfig(epochs=1, batch_size=128, max_steps=2, device="cpu"), seed=0)
    return run


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    seed_state = torch.random.get_rng_state().clone()
    np_state = np.random.get_state()[1].copy()
    yield d
    assert list(d.iterdir()) == [], "an experiment wrote files"
    assert {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} == env, "an experiment changed the environment"
    assert torch.equal(torch.random.get_rng_state(), seed_state), "an experiment touched torch's global seed"
    assert np.array_equal(np.random.get_state()[1], np_state), "an experiment touched numpy's global seed"


def _frozen(result, cls):
    assert type(result) is cls
    assert dataclasses.is_dataclass(result)
    field = dataclasses.fields(result)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, field, None)


RNG = np.random.default_rng(0)
IMG = RNG.random((24, 24))


def test_feature_maps(empty_cwd):
    r = E.feature_maps(np.stack([IMG] * 3), ["laplacian8", "gaussian:5"], pool="max:2", pool_magnitude=True)
    _frozen(r, E.FeatureMaps)
    assert r.names == ("laplacian8", "gaussian:5")
    assert r.maps[0].shape == (3, 24, 24) and r.pooled[0].shape == (3, 12, 12)
    assert r.pooled[0].min() >= 0  # pooled magnitudes
    assert r.kernel_sums[0] == pytest.approx(0) and r.flat_responses[0] == pytest.approx(0, abs=1e-12)
    assert r.kernel_sums[1] == pytest.approx(1)


def test_theorem(empty_cwd):
    r = E.theorem(IMG, "gaussian:5", repeat=1)
    _frozen(r, E.Theorem)
    assert r.spatial.shape == (28, 28) and r.circular.shape == (24, 24)
    assert r.max_abs_diff < 1e-12 and r.max_wrap_error > 1e-3
    assert r.wrap.dtype == bool and not r.wrap[12, 12]
    lin, circ = E.theorem(IMG, "gaussian:5", repeat=1, pad=True), E.theorem(IMG, "gaussian:5", repeat=1, pad=False)
    np.testing.assert_array_equal(lin.spatial, r.spatial)  # one route alone is the same route
    np.testing.assert_array_equal(circ.circular, r.circular)
    assert lin.circular is None and lin.wrap_error is None and circ.spatial is None and circ.fft_shape is None
    with pytest.raises(ValueError, match="result must hold both routes"):
        E.save_theorem(lin, empty_cwd)


def test_spectrum(empty_cwd):
    r = E.image_spectrum(IMG)
    _frozen(r, E.Spectrum)
    assert r.log_magnitude.shape == (24, 24) and r.frequency.shape == r.power.shape
    assert abs(r.slope) < 1.5  # white noise is flat
    lap = E.spectral_laplacian(IMG)
    _frozen(lap, E.SpectralLaplacian)
    assert lap.spectral.shape == lap.finite_difference.shape == (24, 24)


def test_filtering(empty_cwd):
    r = E.filtering(IMG, "lowpass", 0.1, profile="butterworth")
    _frozen(r, E.Filtering)
    assert r.result.shape == r.removed.shape == r.ideal.shape == (24, 24)
    np.testing.assert_allclose(r.result + r.removed, IMG, atol=1e-12)
    assert 0 < r.kept_energy < 1
    assert [p[0] for p in r.mask_profiles] == ["ideal", "gaussian", "butterworth n=2"]


def test_diffusion(empty_cwd):
    seen = []
    r = E.diffusion(E.drop(16, "disc"), "laplacian8", steps=[0, 3], compare_heat=True, gif_frames=4,
                    method="iterate", progress=lambda it: (seen.append(1), it)[1])
    _frozen(r, E.Diffusion)
    assert r.frames.shape == (2, 16, 16) and r.steps == (0, 3)
    assert r.all_frames.shape[0] == len(r.all_steps)
    np.testing.assert_allclose(r.mass, r.mass[0], rtol=1e-10)  # no-flux walls conserve the salt
    assert len(r.heat) == 2 and len(r.heat_errors) == 2
    assert seen, "the progress callback was not used"


def test_fractional_stride(empty_cwd):
    r = E.fractional_stride()
    _frozen(r, E.FractionalStride)
    assert r.zero_inserted.shape == (5, 5) and r.padded.shape == (7, 7) and r.output.shape == (5, 5)
    assert r.max_abs_diff == 0.0


def test_classify(classifier_run, empty_cwd):
    ev = E.evaluate_classifier(classifier_run, "digits")
    _frozen(ev, E.ClassifierEvaluation)
    assert ev.confusion.shape == (10, 10) and ev.confusion.sum() == ev.n
    assert ev.accuracy == pytest.approx(np.trace(ev.confusion) / ev.n)
    p = E.predict(classifier_run, top=2)
    _frozen(p, E.Predictions)
    assert len(p.names) == len(p.top) == 8 and all(len(t) == 2 for t in p.top)
    f = E.learned_filters(classifier_run)
    _frozen(f, E.LearnedFilters)
    assert f.kernels.ndim == 4 and f.spectra.shape[:2] == (f.kernels.shape[0], 32)


def test_gan(gan_run, classifier_run, empty_cwd):
    s = E.sample(gan_run, 5, seed=3)
    _frozen(s, E.Samples)
    assert s.images.shape == (5, 1, 16, 16)
    np.testing.assert_array_equal(s.images, E.sample(gan_run, 5, seed=3).images)  # seeded
    w = E.interpolate(gan_run, steps=3, rows=2)
    _frozen(w, E.Interpolation)
    assert w.frames.shape == (2, 4, 1, 16, 16) and w.latents.shape == (2, 4, 8)
    sp = E.gan_spectrum(gan_run, n=20)
    _frozen(sp, E.GANSpectrum)
    assert sp.real.shape == sp.fake.shape == (20, 1, 16, 16) and sp.discrepancy >= 0
    # a two-step generator draws one class or two: find one present to write 'c - c + c' with
    for c in map(str, range(10)):
        try:
            a = E.arithmetic(gan_run, classifier_run, expr=f"{c}-{c}+{c}", pool=300)
            break
        except ArgumentError:
            continue
    else:
        pytest.fail("no class appears three times among 300 samples")
    _frozen(a, E.Arithmetic)
    assert len(a.term_images) == 3 and a.result_images.shape == (4, 1, 16, 16)
    ev = E.evaluate_generator(gan_run, "digits", classifier_run, n=200, probe=False)
    _frozen(ev, E.GANEvaluation)
    assert "frechet_distance" in ev.metrics or ev.metrics


def test_pixel_computation(empty_cwd):
    from scipy.ndimage import convolve

    k = np.array([[1.0, 2, 0], [0, -1, 0], [3, 0, -2]])
    img = np.stack([IMG, IMG[::-1], IMG.T])
    for boundary, scipy_mode in (("reflect", "mirror"), ("zeros", "constant"), ("symmetric", "reflect")):
        p = E.pixel_computation(img, k, channel=2, row=0, col=17, boundary=boundary)
        _frozen(p, E.PixelComputation)
        ref = convolve(img[2], k, mode=scipy_mode)[0, 17]  # true convolution, same size
        assert p.total == pytest.approx(ref, rel=1e-10, abs=1e-12)
        assert p.feature_value == pytest.approx(ref, rel=1e-10, abs=1e-12)
        np.testing.assert_array_equal(p.kernel_flipped, k[::-1, ::-1])
        np.testing.assert_allclose(p.products, p.patch * p.kernel_flipped)
    with pytest.raises(ArgumentError, match="pixel must be inside the 24×24 map"):
        E.pixel_computation(IMG, k, row=24, col=0)
    with pytest.raises(ArgumentError, match="odd height and width"):
        E.pixel_computation(IMG, np.ones((2, 2)), row=0, col=0)


def test_recognise_every_layer_and_a_drawing(classifier_run, empty_cwd):
    from convscope.models.cnn import load_classifier

    page = np.full((40, 40, 4), 255, np.uint8)
    page[..., 3] = 0  # a transparent page
    page[5:35, 18:22] = [0, 0, 0, 255]  # opaque black ink: a "1"
    d = E.digit_from_drawing(page)
    assert d.max() == 1.0 and d[d.shape[0] // 2, d.shape[1] // 2] == 1.0 and d[0, 0] == 0.0
    np.testing.assert_array_equal(E.digit_from_drawing(255 - page[..., 0]), d)  # the same digit, grey, light on dark
    with pytest.raises(ArgumentError, match="some ink"):
        E.digit_from_drawing(np.full((10, 10), 255, np.uint8))
    with torch.random.fork_rng(devices=[]):  # building the model draws its default initial weights
        loaded = load_classifier(classifier_run)
    r = E.recognise(loaded, d, top=3)
    _frozen(r, E.Recognition)
    assert len(r.top) == 3 and r.top[0][1] >= r.top[1][1] >= r.top[2][1]
    # the same answer as the classifier's own forward pass, and from the run folder
    model, meta = loaded
    from convscope.models.cnn import prepare_images

    with torch.no_grad():
        prob = torch.softmax(model(prepare_images(torch.from_numpy(d).float()[None, None], meta)), 1)[0]
    assert r.top[0] == (meta["classes"][int(prob.argmax())], pytest.approx(float(prob.max()), rel=1e-5))
    assert E.recognise(classifier_run, d).top == r.top
    kinds = [name.split(": ")[1] for name, _ in r.layers]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]
    conv1, relu1 = r.layers[0][1], r.layers[1][1]
    with torch.no_grad():  # each layer's own output (the in-place ReLU did not overwrite the convolution's)
        ref = model.first_conv(torch.from_numpy(r.prepared)[None])[0].numpy()
    np.testing.assert_allclose(conv1, ref, rtol=1e-5, atol=1e-6)
    assert conv1.min() < 0 <= relu1.min()
    f = E.learned_filters(loaded, d)
    assert f.maps.shape[0] == f.kernels.shape[0]


def test_live_gan_steps_through_the_engine(empty_cwd):
    st = E.live_gan(image_size=16, nz=8, ngf=4, ndf=4, batch_size=32, seed=1)
    G = st.plugin.G
    before = E.sample(G, 4, seed=0).images
    r = E.train_steps(st, 3, lr_g=1e-3, lr_d=5e-4, loss="hinge")
    _frozen(r, E.GANSteps)
    assert r.steps == (1, 2, 3) and len(r.loss_d) == len(r.d_fake) == 3 and r.images_per_s > 0
    assert all(0 <= v <= 1 for v in r.d_real + r.d_fake)
    assert st.plugin.optG.param_groups[0]["lr"] == 1e-3 and st.plugin.optD.param_groups[0]["lr"] == 5e-4
    assert st.plugin.config.loss == "hinge"
    assert not np.array_equal(before, E.sample(G, 4, seed=0).images)  # G learned
    r2 = E.train_steps(st, st.plugin.steps_per_epoch)  # rolls over into the next epoch
    assert r2.steps[-1] == 3 + st.plugin.steps_per_epoch and st.epoch == 1
    # the same seed, the same steps: the same numbers (the engine's own generators)
    again = E.live_gan(image_size=16, nz=8, ngf=4, ndf=4, batch_size=32, seed=1)
    assert E.train_steps(again, 3, lr_g=1e-3, lr_d=5e-4, loss="hinge").loss_d == r.loss_d
    w = E.interpolate(G, mode="linear", steps=4, points=[1, 2])
    assert w.frames.shape == (1, 5, 1, 16, 16)  # 4 steps: 5 frames
    sp = E.gan_spectrum(G, "digits", n=16)
    assert sp.fake.shape == (16, 1, 16, 16)
    with pytest.raises(ArgumentError, match="lr_g must be"):
        E.train_steps(st, 1, lr_g=0.0)


def test_gan_spectrum_draws_its_real_images_from_every_class(tmp_path):
    """A split stored class by class must not give a spectrum of the first classes only."""
    import numpy as np

    from convscope.models.dcgan import DCGANConfig, Generator

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 30)  # stored class by class, as mnist-5k is
    x = (rng.random((300, 16, 16)) * 255 * (1 + y[:, None, None]) / 10).astype(np.uint8)
    np.savez(tmp_path / "sorted.npz", x=x, y=y)
    G = Generator(DCGANConfig(image_size=16, nz=8, ngf=4, ndf=4))
    sp = E.gan_spectrum(G, str(tmp_path / "sorted.npz"), n=60)
    from convscope.models.dcgan import load_data

    real, labels, _, _ = load_data(str(tmp_path / "sorted.npz"), image_size=16, split="train")
    rows = {r.tobytes(): int(c) for r, c in zip(real.numpy(), labels.numpy())}
    seen = {rows[r.tobytes()] for r in sp.real}
    assert len(sp.real) == 60 and seen == set(range(10))


def test_save_functions_write_what_they_return(tmp_path):
    r = E.filtering(IMG, "highpass", 0.1)
    paths = E.save_filtering(r, tmp_path / "f")
    assert {p.name for p in paths} == {"result.npy", "removed.npy", "mask.npy", "ideal_result.npy",
                                       "gaussian_result.npy", "filter_panel.png"}
    assert all(Path(p).is_file() for p in paths)
    np.testing.assert_array_equal(np.load(tmp_path / "f" / "result.npy"), r.result.astype(np.float32))


def test_chunked_feature_maps(empty_cwd, tmp_path):
    da = pytest.importorskip("dask.array")
    from convscope import convolve2d
    from convscope.experiments.feature_maps import ChunkedFeatureMaps, chunked_feature_maps

    img = np.random.default_rng(0).random((37, 29))
    src = tmp_path / "big.npy"  # outside the empty working folder
    np.save(src, img)
    res = chunked_feature_maps(str(src), ["laplacian8", "sobel_x"], chunks=16, boundary="symmetric")
    _frozen(res, ChunkedFeatureMaps)
    assert all(isinstance(m, da.Array) for m in res.maps) and res.names == ("laplacian8", "sobel_x")
    from convscope.kernels import kernel_from_spec

    want = convolve2d(img, kernel_from_spec("sobel_x").numpy(), boundary="symmetric")
    np.testing.assert_allclose(res.maps[1].compute(), want, rtol=1e-4, atol=1e-5)  # float32 output


def test_compare_upsampling(empty_cwd, gan_run):
    from convscope.experiments.gan import GANSpectrum, UpsamplingComparison, compare_upsampling

    res = compare_upsampling({"a": gan_run, "b": gan_run}, "digits", n=16, seed=0)
    _frozen(res, UpsamplingComparison)
    assert res.names == ("a", "b") and all(isinstance(s, GANSpectrum) for s in res.spectra)
    # the same run twice, the same noise: the same spectrum
    assert res.spectra[0].discrepancy == res.spectra[1].discrepancy
    assert set(res.to_json()) == {"a", "b"} and res.metrics == ({}, {})
