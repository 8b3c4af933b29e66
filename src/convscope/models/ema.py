"""An exponential moving average of a network's weights (a GAN's generator, usually).

StyleGAN, BigGAN and most modern GAN code sample from an average of G's
recent weights rather than from G itself: the average sits near the centre
of the orbit the adversarial game makes G's weights trace, and draws cleaner
images at no training cost.

**The decay ramps up from 0.** Step ``t`` (0-based, one per :meth:`EMA.update`)
uses ``min(decay, (1 + t) / (10 + t))`` (the ``num_updates`` form of
TensorFlow's ``ExponentialMovingAverage``), so the untrained starting
weights are not averaged in for thousands of steps: the average covers
about the last ``t / 9`` steps (a half-life of ~8% of the steps done, near
StyleGAN's ``ema_rampup = 0.05`` of the images seen) until it reaches the
full ``decay`` (0.999 at step 8991; horizon 1000 steps). ``rampup=False``
uses ``decay`` from the first step.

**Batch-norm statistics.** The running mean and variance describe the
activations of the weights that produced them. The default, ``buffers="average"``,
averages every floating-point buffer with the same decay as the weights, so
the statistics follow the averaged network rather than the latest one;
``buffers="copy"`` copies the live network's buffers (StyleGAN's choice).
Integer buffers (``num_batches_tracked``) are always copied.

Example:
    >>> net = torch.nn.Linear(2, 1)
    >>> ema = EMA(net, decay=0.999)
    >>> ema.decay_at(0), ema.decay_at(8991), ema.decay_at(10**6)
    (0.1, 0.999, 0.999)
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .._checks import ArgumentError, check_float, check_option, fail

__all__ = ["BUFFER_MODES", "EMA"]

BUFFER_MODES = ("average", "copy")


def _plain(module: nn.Module) -> nn.Module:
    """The module inside a DDP/DataParallel wrapper (the same parameter names)."""
    wrapped = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    return module.module if isinstance(module, wrapped) else module


class EMA:
    """An averaged copy of ``model`` (in eval mode, without gradients), updated by :meth:`update`.

    Args:
        model: the network to follow; its current weights start the average.
        decay: the full decay, in [0, 1); 0 copies the latest weights.
        rampup: ramp the decay up from 0 as ``(1 + t) / (10 + t)`` (see the module docs).
        buffers: ``"average"`` or ``"copy"``: what happens to floating-point buffers
            (batch-norm statistics).

    ``ema.module`` is the averaged network (sample and evaluate with it);
    ``state_dict()`` / ``load_state_dict()`` make a resumed run continue bit for bit.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, *, rampup: bool = True, buffers: str = "average"):
        if not isinstance(model, nn.Module):
            raise fail("model", "a torch.nn.Module", model, TypeError)
        self.decay = check_float("decay", decay, min_value=0.0, max_value=1.0)
        if self.decay >= 1.0:
            raise fail("decay", "in [0, 1)", decay)
        if not isinstance(rampup, bool):
            raise fail("rampup", "a bool", rampup, TypeError)
        self.rampup = rampup
        self.buffers = check_option("buffers", buffers, BUFFER_MODES)
        self.module = copy.deepcopy(_plain(model)).eval().requires_grad_(False)
        self.step = 0  # updates done

    def decay_at(self, step: int) -> float:
        """The decay that update number ``step`` (0-based) uses."""
        if not self.rampup:
            return self.decay
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        """Fold ``model``'s current weights into the average: ``ema = d·ema + (1 - d)·w``; returns ``d``."""
        src = _plain(model)
        d = self.decay_at(self.step)
        params = dict(src.named_parameters())
        for name, p_ema in self.module.named_parameters():
            p_ema.mul_(d).add_(params[name].detach().to(p_ema.dtype), alpha=1 - d)
        bufs = dict(src.named_buffers())
        for name, b_ema in self.module.named_buffers():
            b = bufs[name].detach()
            if self.buffers == "average" and b_ema.dtype.is_floating_point:
                b_ema.mul_(d).add_(b.to(b_ema.dtype), alpha=1 - d)
            else:
                b_ema.copy_(b)
        self.step += 1
        return d

    def state_dict(self) -> dict:
        """The averaged weights and buffers, the step and the settings (plain tensors and numbers)."""
        return {"module": self.module.state_dict(), "step": self.step, "decay": self.decay,
                "rampup": self.rampup, "buffers": self.buffers}

    def load_state_dict(self, state: dict) -> None:
        """Restore a saved average; the settings must match (a resumed run would otherwise change course)."""
        for key in ("decay", "rampup", "buffers"):
            if key in state and state[key] != getattr(self, key):
                raise ArgumentError(f"ema {key} must match the checkpoint's to resume, got {getattr(self, key)!r} "
                                    f"(saved {state[key]!r})")
        self.module.load_state_dict(state["module"])
        self.step = int(state["step"])
