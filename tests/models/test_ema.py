"""The EMA generator (convscope.models.ema)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from convscope._checks import ArgumentError
from convscope.models.ema import EMA


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 2)).double()


def _train_step(net, opt, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)
    opt.zero_grad()
    net(x).pow(2).mean().backward()
    opt.step()


@pytest.mark.parametrize("rampup", [True, False])
def test_three_steps_equal_the_hand_computed_average(rampup):
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    ema = EMA(net, decay=0.9, rampup=rampup)
    w = [{k: v.clone() for k, v in net.state_dict().items()}]  # w[0]: the starting weights
    for t in range(3):
        _train_step(net, opt, t)
        ema.update(net)
        w.append({k: v.clone() for k, v in net.state_dict().items()})
    d = [min(0.9, (1 + t) / (10 + t)) if rampup else 0.9 for t in range(3)]
    assert d == ([0.1, 2 / 11, 0.25] if rampup else [0.9] * 3)
    for name, p in ema.module.named_parameters():
        avg = w[0][name]
        for t in range(3):
            avg = d[t] * avg + (1 - d[t]) * w[t + 1][name]
        torch.testing.assert_close(p, avg, rtol=1e-12, atol=1e-14)
        if not torch.equal(w[0][name], w[3][name]):  # (the conv bias before BN gets no gradient)
            assert not torch.equal(p, w[3][name])  # an average, not the latest weights
    assert ema.step == 3


def test_batch_norm_buffers_average_or_copy():
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    avg, cp = EMA(net, decay=0.5, rampup=False, buffers="average"), EMA(net, decay=0.5, rampup=False, buffers="copy")
    mean0 = net[1].running_mean.clone()
    _train_step(net, opt, 0)  # train mode: BN's running statistics move
    avg.update(net)
    cp.update(net)
    live = net[1]
    assert not torch.equal(live.running_mean, mean0)
    torch.testing.assert_close(avg.module[1].running_mean, 0.5 * mean0 + 0.5 * live.running_mean)
    assert torch.equal(cp.module[1].running_mean, live.running_mean)
    # the integer counter is copied in both modes
    assert int(avg.module[1].num_batches_tracked) == int(live.num_batches_tracked) == 1
    assert int(cp.module[1].num_batches_tracked) == 1


def test_the_average_is_frozen_and_separate():
    net = _net()
    ema = EMA(net)
    assert not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    assert all(p.requires_grad for p in net.parameters())
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert not torch.equal(ema.module[0].weight, net[0].weight)


def test_decay_zero_copies_and_decay_checks():
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    ema = EMA(net, decay=0.0)
    _train_step(net, opt, 1)
    ema.update(net)
    for (_, a), (_, b) in zip(ema.module.named_parameters(), net.named_parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ArgumentError, match=r"decay must be in \[0, 1\)"):
        EMA(net, decay=1.0)
    with pytest.raises(ArgumentError, match="buffers must be one of 'average', 'copy'"):
        EMA(net, buffers="recompute")


def test_resume_is_bit_identical():
    # straight: 6 steps with EMA
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    ema = EMA(net, decay=0.99)
    for t in range(6):
        _train_step(net, opt, t)
        ema.update(net)
    # resumed: 3 steps, save everything (weights only), load into fresh objects, 3 more
    net2 = _net()
    opt2 = torch.optim.Adam(net2.parameters(), lr=1e-2)
    ema2 = EMA(net2, decay=0.99)
    for t in range(3):
        _train_step(net2, opt2, t)
        ema2.update(net2)
    buf = io.BytesIO()
    torch.save({"model": net2.state_dict(), "opt": opt2.state_dict(), "ema": ema2.state_dict()}, buf)
    state = torch.load(io.BytesIO(buf.getvalue()), weights_only=True)
    torch.manual_seed(123)  # a different init, overwritten by the checkpoint
    net3 = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 2)).double()
    ema3 = EMA(net3, decay=0.99)
    net3.load_state_dict(state["model"])
    opt3 = torch.optim.Adam(net3.parameters(), lr=1e-2)
    opt3.load_state_dict(state["opt"])
    ema3.load_state_dict(state["ema"])
    assert ema3.step == 3
    for t in range(3, 6):
        _train_step(net3, opt3, t)
        ema3.update(net3)
    for k, v in ema.module.state_dict().items():
        assert torch.equal(v, ema3.module.state_dict()[k]), k
    with pytest.raises(ArgumentError, match="ema decay must match"):
        EMA(net3, decay=0.9).load_state_dict(state["ema"])
