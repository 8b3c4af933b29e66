"""One hashable description of a convolution problem, passed whole from choice to model to op counts.

A :class:`ConvProblem` is what the method choice, the cost model, the measured
cache and the on-disk signature all key on: input ``(B, Cin, H, W)``, weight
``(Cout, Cin/groups, kH, kW)``, implicit padding, stride, dilation, dtype,
device type, thread count, and three flags (OpenCV eligible, a backward pass
follows, transposed). It imports nothing from the engine, so every module of
:mod:`convscope.conv` may import it.

>>> p = ConvProblem(1, 1, 1, 1, 512, 512, 3, 3, pads=(1, 1, 1, 1), threads=2)
>>> p.signature()
'1,1,1,1,512,512,3,3,1,1,1,1,s1,1,d1,1,float32,cpu,t2,o0,g0,x0'
>>> p == ConvProblem(1, 1, 1, 1, 512, 512, 3, 3, pads=(1, 1, 1, 1), threads=2)
True
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["ConvProblem"]


class ConvProblem(NamedTuple):
    """A convolution to run: the sizes, the layout and where it runs.

    Immutable and hashable, like a frozen dataclass, but a NamedTuple: it is built
    and looked up on every ``method='auto'`` call, and a NamedTuple is about 4x
    cheaper there (measured 1.0 against 4.7 µs for build + dict lookup).

    Attributes:
        B, Cin, Cout, groups, H, W, kH, kW: input (B, Cin, H, W), weight
            (Cout, Cin/groups, kH, kW) for an ordinary correlation; for a
            ``transposed`` problem the weight is torch's (Cin, Cout/groups, kH, kW)
            and ``Cout`` is the output channel count.
        pads: implicit padding (top, bottom, left, right) of the input (ordinary
            problems; a transposed problem keeps its padding out of the model).
        stride, dilation: as torch.nn.functional.conv2d / conv_transpose2d.
        dtype: torch dtype of the data. device: device type (``"cpu"``, ``"cuda"``).
        threads: torch's intra-op thread count when the problem was described
            (the timings, and so the choice, depend on it).
        opencv: cv2.filter2D is eligible (one kernel per plane, CPU, no autograd).
        training: a backward pass will follow.
        transposed: a fractionally-strided convolution.
    """

    B: int
    Cin: int
    Cout: int
    groups: int
    H: int
    W: int
    kH: int
    kW: int
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    dtype: torch.dtype = torch.float32
    device: str = "cpu"
    threads: int = 1
    opencv: bool = False
    training: bool = False
    transposed: bool = False

    @property
    def plain(self) -> bool:
        """A stride-1, undilated, ordinary correlation: what every candidate computes directly."""
        return self.stride == (1, 1) and self.dilation == (1, 1) and not self.transposed

    def signature(self) -> str:
        """A stable text key (the measured-choice file's keys)."""
        return (
            f"{self.B},{self.Cin},{self.Cout},{self.groups},{self.H},{self.W},{self.kH},{self.kW},"
            f"{','.join(map(str, self.pads))},s{self.stride[0]},{self.stride[1]},"
            f"d{self.dilation[0]},{self.dilation[1]},{str(self.dtype).replace('torch.', '')},{self.device},"
            f"t{self.threads},o{int(self.opencv)},g{int(self.training)},x{int(self.transposed)}"
        )
