"""``Conv2d`` and ``ConvTranspose2d``: drop-ins for ``torch.nn`` with a ``method=``.

The constructors take torch.nn's arguments (plus ``method``), the parameters
have torch's names and shapes (``weight``, ``bias``), so an ``nn.Conv2d``
state_dict loads as is, and ``forward`` is a single call to
:func:`convscope.conv.conv2d` / :func:`convscope.conv.conv_transpose2d`.

For inference (``torch.no_grad()`` / ``inference_mode``, or a frozen weight)
the kernel's spectrum is cached in the module, keyed on the weight's storage
and version counter, so it is recomputed only when the weights change; while
training (a gradient flows to the weight) it is recomputed on every call so
that the gradient is right.

>>> m = Conv2d(3, 8, 5, padding="same", method="fft")
>>> ref = torch.nn.Conv2d(3, 8, 5, padding="same")
>>> _ = m.load_state_dict(ref.state_dict())
>>> x = torch.randn(2, 3, 16, 16)
>>> torch.allclose(m(x), ref(x), atol=1e-5)
True
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_option
from .api import conv2d
from .core import METHODS
from .transposed import conv_transpose2d

__all__ = ["Conv2d", "ConvTranspose2d"]


class Conv2d(nn.Conv2d):
    """``torch.nn.Conv2d`` computed by :func:`convscope.conv.conv2d` with ``method``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype:
            as ``torch.nn.Conv2d``.
        method: ``auto``, ``direct``, ``fft`` or ``overlap_add``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
        *,
        method: str = "auto",
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype
        )
        self.method = check_option("method", method, METHODS)
        self._spectra: dict = {}  # kernel spectrum cache (inference only); not part of the state

    def extra_repr(self) -> str:
        return super().extra_repr() + f", method={self.method!r}"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
            padding_mode=self.padding_mode, method=self.method, spectrum_cache=self._spectra,
        )  # fmt: skip


class ConvTranspose2d(nn.ConvTranspose2d):
    """``torch.nn.ConvTranspose2d`` computed by :func:`convscope.conv.conv_transpose2d`.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode, device, dtype:
            as ``torch.nn.ConvTranspose2d`` (``padding_mode`` must be ``zeros``, as in torch).
        method: ``auto``, ``direct``, ``fft`` or ``overlap_add``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
        *,
        method: str = "auto",
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation,
            padding_mode, device, dtype,
        )  # fmt: skip
        self.method = check_option("method", method, METHODS)
        self._spectra: dict = {}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", method={self.method!r}"

    def forward(self, input: torch.Tensor, output_size=None) -> torch.Tensor:
        output_padding = self._output_padding(
            input, output_size, self.stride, self.padding, self.kernel_size, 2, self.dilation
        )  # torch's own rule for output_size -> output_padding
        return conv_transpose2d(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation,
            method=self.method, spectrum_cache=self._spectra,
        )  # fmt: skip
