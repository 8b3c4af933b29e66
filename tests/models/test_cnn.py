"""convscope.models.cnn: configs, shapes, engine convolutions, loading a trained classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close
from convscope.models.cnn import CNN, CNNConfig, kernel_spectra, load_classifier, make_conv
from convscope.train.checkpoint import save_checkpoint


class TestConfig:
    def test_frozen_and_normalised(self):
        c = CNNConfig(arch="LeNet", conv_method="FFT")
        assert c.arch == "lenet" and c.conv_method == "fft"
        with pytest.raises(AttributeError):
            c.arch = "alexnet"  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("kw", "match"),
        [
            ({"arch": "resnet"}, "arch must be one of 'lenet', 'alexnet', got 'resnet'"),
            ({"conv_method": "winograd"}, "conv_method must be one of 'torch', 'auto'"),
            ({"width": 0}, "width must be a finite number > 0.0, got 0"),
            ({"dropout": 1.5}, "dropout must be a finite number >= 0.0 and <= 0.95"),
            ({"num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
            ({"arch": "alexnet", "image_size": 4}, "image_size must be at least 8 for alexnet"),
        ],
    )
    def test_errors(self, kw, match):
        with pytest.raises(ValueError, match=match):
            CNN(CNNConfig(**kw)) if "image_size" in kw else CNNConfig(**kw)

    def test_dict_round_trip(self):
        c = CNNConfig("alexnet", in_channels=3, width=0.5, batch_norm=False)
        assert CNNConfig.from_dict(c.to_dict()) == c
        with pytest.raises(ValueError, match="CNNConfig keys must be among"):
            CNNConfig.from_dict({**c.to_dict(), "depth": 3})


class TestShapes:
    @pytest.mark.parametrize("arch", ["lenet", "alexnet"])
    @pytest.mark.parametrize(("size", "ch"), [(8, 1), (28, 1), (32, 3)])
    def test_logits_and_features(self, arch, size, ch):
        net = CNN(CNNConfig(arch, in_channels=ch, image_size=size, num_classes=7, width=0.25))
        x = torch.randn(3, ch, size, size)
        assert net(x).shape == (3, 7)
        f = net.features(x)
        assert f.shape == (3, net.feature_dim)
        net.eval()
        assert_close(net.head(net.features(x)), net(x))
        assert net.first_layer_maps(x).shape[:2] == (3, net.first_conv.out_channels)

    def test_width_scales_channels(self):
        assert CNN(CNNConfig(width=2.0)).first_conv.out_channels == 12
        assert CNN(CNNConfig()).feature_dim == 84  # LeNet-5's F6

    def test_wrong_input_shape(self):
        with pytest.raises(ValueError, match=r"x must be of shape \(B, 1, 28, 28\), got Tensor of shape \(2, 1, 32, 32\)"):
            CNN(CNNConfig())(torch.zeros(2, 1, 32, 32))


class TestEngineConvolutions:
    @pytest.mark.parametrize("method", ["direct", "fft", "auto", "overlap_add"])
    @pytest.mark.parametrize("arch", ["lenet", "alexnet"])
    def test_same_logits_from_same_weights(self, method, arch):
        ref = CNN(CNNConfig(arch, image_size=28, width=0.25)).eval()
        eng = CNN(CNNConfig(arch, image_size=28, width=0.25, conv_method=method)).eval()
        eng.load_state_dict(ref.state_dict())  # same parameter names either way
        x = torch.randn(4, 1, 28, 28)
        assert_close(eng(x), ref(x))

    def test_float64_and_gradients_match(self):
        ref = CNN(CNNConfig(image_size=8, batch_norm=False, dropout=0.0)).double()
        eng = CNN(CNNConfig(image_size=8, batch_norm=False, dropout=0.0, conv_method="fft")).double()
        eng.load_state_dict(ref.state_dict())
        x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
        ref(x).sum().backward()
        eng(x).sum().backward()
        for (_, a), (_, b) in zip(ref.named_parameters(), eng.named_parameters()):
            assert_close(b.grad, a.grad, torch.float64)

    def test_make_conv_kinds(self):
        assert type(make_conv(1, 2, 3)) is torch.nn.Conv2d
        m = make_conv(1, 2, 3, method="fft")
        assert m.weight.shape == (2, 1, 3, 3) and "fft" in repr(m)


def test_kernel_spectra_against_numpy():
    w = torch.randn(4, 3, 5, 5)
    s = kernel_spectra(w, 16).numpy()
    ref = np.sqrt((np.abs(np.fft.fft2(w.double().numpy(), s=(16, 16))) ** 2).sum(1))
    assert_close(s, np.fft.fftshift(ref, axes=(-2, -1)).astype(np.float32))


class TestLoadClassifier:
    def _save(self, tmp_path, name="best.pt", **extra):
        net = CNN(CNNConfig(image_size=8, num_classes=3)).eval()
        state = {"model": net.state_dict(), "config": net.config, "epoch": 2, "step": 40,
                 "data": {"classes": ["a", "b", "c"], "image_shape": [1, 8, 8], "normalize": "standard",
                          "mean": [0.3], "std": [0.2], "source": "digits", "pad": 0}, **extra}
        save_checkpoint(tmp_path / name, state)
        return net

    def test_from_run_dir(self, tmp_path):
        net = self._save(tmp_path)
        model, meta = load_classifier(tmp_path)
        assert not model.training
        assert meta["classes"] == ["a", "b", "c"] and meta["image_shape"] == [1, 8, 8]
        assert meta["normalize"] == "standard" and meta["source"] == "digits" and meta["epoch"] == 2
        x = torch.randn(2, 1, 8, 8)
        assert torch.equal(model(x), net(x))
        fft, _ = load_classifier(tmp_path / "best.pt", conv_method="fft")
        assert_close(fft(x), net(x))

    def test_prefers_best_then_newest(self, tmp_path):
        self._save(tmp_path, "ckpt-00000001.pt")
        self._save(tmp_path, "ckpt-00000002.pt")
        assert load_classifier(tmp_path)[1]["path"].endswith("ckpt-00000002.pt")

    def test_errors(self, tmp_path):
        with pytest.raises(ValueError, match="holds no checkpoint"):
            load_classifier(tmp_path)
        save_checkpoint(tmp_path / "x.pt", {"weights": torch.zeros(1)})
        with pytest.raises(ValueError, match="is not a convscope classifier checkpoint"):
            load_classifier(tmp_path / "x.pt")
        (tmp_path / "y.pt").write_bytes(b"garbage")
        with pytest.raises(ValueError, match=r"y\.pt is corrupt or truncated .*not a convscope checkpoint, or it is damaged"):
            load_classifier(tmp_path / "y.pt")
