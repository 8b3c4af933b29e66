"""CNNConfig's explicit conv_channels / fc_units (the wider LeNet the recipe trains)."""

from __future__ import annotations

import json

import pytest
import torch

from convscope._checks import ArgumentError, ArgumentTypeError
from convscope.models.cnn import CNN, CNNConfig


def test_defaults_unchanged():
    net = CNN(CNNConfig("lenet"))
    assert [m.out_channels for m in net.conv if isinstance(m, torch.nn.Conv2d)] == [6, 16]
    assert [m.out_features for m in net.fc if isinstance(m, torch.nn.Linear)] == [120, 84]
    # an old checkpoint's config dict (no new keys) still builds the same network
    old = {k: v for k, v in CNNConfig().to_dict().items() if k not in ("conv_channels", "fc_units")}
    assert CNNConfig.from_dict(old) == CNNConfig()


def test_wide_lenet():
    cfg = CNNConfig("lenet", conv_channels=(32, 64), fc_units=(256,))
    net = CNN(cfg)
    assert [m.out_channels for m in net.conv if isinstance(m, torch.nn.Conv2d)] == [32, 64]
    assert net.feature_dim == 256
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # a JSON round trip (lists) gives back the same config, and the same parameter shapes
    again = CNNConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.conv_channels == (32, 64)
    assert {k: v.shape for k, v in CNN(again).state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}


def test_alexnet_and_no_hidden_layer():
    net = CNN(CNNConfig("alexnet", conv_channels=(8, 8, 8, 8, 8), fc_units=()))
    assert net.feature_dim == 8 * 3 * 3
    assert net(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_checks():
    with pytest.raises(ArgumentTypeError, match="conv_channels must be None or a sequence of 2 positive ints"):
        CNNConfig("lenet", conv_channels=(8, 8, 8))
    with pytest.raises(ArgumentError, match="fc_units must be an integer >= 1"):
        CNNConfig("lenet", fc_units=(0,))
