"""The accelerator path, checked when one is there.

Does nothing and exits 0 when no CUDA device is present. Otherwise:

1. the conv reference grid on CUDA, in float32 and float64, against the CPU
   results: ``convolve2d`` over modes, boundaries and methods; ``conv2d`` and
   ``conv_transpose2d`` over stride, padding, dilation, groups and methods;
2. one training step of each model (the CNN classifier, the DCGAN's generator
   and discriminator, with torch layers and with convscope's engine), on CUDA:
   the loss is finite, every parameter gets a finite gradient and moves.

Prints one line per failure and a summary; exits 1 when anything failed.

    python benchmarks/gpu_check.py            # the whole grid (~1 min on a GPU)
    python benchmarks/gpu_check.py --quick    # a subset
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
import torch

TOL = {torch.float32: 1e-4, torch.float64: 1e-10}
DEV = "cuda"  # --device cpu runs the same checks on the CPU: a self-test of this script


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def close(self, name: str, got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype) -> None:
        got, want = got.detach().cpu().double(), want.detach().cpu().double()
        if got.shape != want.shape:
            self.fail(f"{name}: shape {tuple(got.shape)} != CPU {tuple(want.shape)}")
            return
        scale = max(float(want.abs().max()) if want.numel() else 0.0, 1e-300)
        err = float((got - want).abs().max()) if want.numel() else 0.0
        if not err <= TOL[dtype] * scale:
            self.fail(f"{name}: max abs error {err:.3g} > {TOL[dtype]:g} x {scale:.3g}")
        else:
            self.passed += 1

    def run(self, name: str, fn) -> None:
        try:
            fn()
        except Exception as e:  # one line per failure, whatever it is
            self.fail(f"{name}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")

    def fail(self, line: str) -> None:
        self.failures.append(line)
        print("FAIL " + line, flush=True)


def conv_grid(ck: Checks, dtypes, quick: bool) -> None:
    import convscope.conv as cc

    g = torch.Generator().manual_seed(0)
    methods = ("auto", "direct", "fft", "overlap_add")
    for dt in dtypes:
        # image filtering: modes x boundaries x methods, a 2-D and a per-channel kernel
        x = torch.rand(2, 3, 20, 17, generator=g, dtype=dt)
        for kshape in ((4, 5), (3, 3, 3)):
            k = torch.rand(*kshape, generator=g, dtype=dt)
            for mode, boundary, method in itertools.product(cc.MODES, cc.BOUNDARIES, methods):
                name = f"convolve2d {str(dt)[6:]} k{kshape} {mode} {boundary} {method}"

                def one(mode=mode, boundary=boundary, method=method, k=k, x=x, dt=dt, name=name):
                    want = cc.convolve2d(x, k, mode=mode, boundary=boundary, method=method)
                    got = cc.convolve2d(x.to(DEV), k.to(DEV), mode=mode, boundary=boundary, method=method)
                    if got.device.type != DEV:
                        raise AssertionError(f"result on {got.device}, not {DEV}")
                    ck.close(name, got, want, dt)

                ck.run(name, one)
        # conv2d: stride x padding x dilation x groups x methods
        strides, paddings = ((1, 2), (0, 1, "same")) if quick else ((1, 2, (2, 3)), (0, 1, (2, 1), "same", "valid"))
        for stride, padding, dilation, groups, method in itertools.product(strides, paddings, (1, 2), (1, 2), methods):
            if padding == "same" and stride != 1:
                continue
            x = torch.rand(2, 4, 13, 12, generator=g, dtype=dt)
            w = torch.rand(6, 4 // groups, 3, 4, generator=g, dtype=dt)
            b = torch.rand(6, generator=g, dtype=dt)
            name = f"conv2d {str(dt)[6:]} s{stride} p{padding} d{dilation} g{groups} {method}"

            def one(stride=stride, padding=padding, dilation=dilation, groups=groups, method=method, x=x, w=w, b=b, dt=dt, name=name):
                want = torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups)
                got = cc.conv2d(x.to(DEV), w.to(DEV), b.to(DEV), stride, padding, dilation, groups, method=method)
                ck.close(name, got, want, dt)

            ck.run(name, one)
        # conv_transpose2d: stride x padding x output_padding x dilation x groups x methods
        for stride, padding, op, dilation, groups, method in itertools.product(
            (1, 2) if quick else (1, 2, 3), (0, 1), (0, 1), (1, 2), (1, 2), ("auto", "direct", "fft", "overlap_add")
        ):
            if op >= max(stride, dilation):
                continue
            x = torch.rand(2, 4, 7, 6, generator=g, dtype=dt)
            w = torch.rand(4, 6 // groups, 4, 3, generator=g, dtype=dt)
            name = f"conv_transpose2d {str(dt)[6:]} s{stride} p{padding} op{op} d{dilation} g{groups} {method}"

            def one(stride=stride, padding=padding, op=op, dilation=dilation, groups=groups, method=method, x=x, w=w, dt=dt, name=name):
                want = torch.nn.functional.conv_transpose2d(x, w, None, stride, padding, op, groups, dilation)
                got = cc.conv_transpose2d(x.to(DEV), w.to(DEV), None, stride, padding, op, groups, dilation, method=method)
                ck.close(name, got, want, dt)

            ck.run(name, one)


def _step(ck: Checks, name: str, params, loss_fn) -> None:
    """One optimiser step on CUDA: finite loss, finite gradients, the parameters move."""
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    before = [p.detach().clone() for p in params]
    opt.zero_grad()
    loss = loss_fn()
    if not torch.isfinite(loss):
        ck.fail(f"{name}: loss is {float(loss)}")
        return
    loss.backward()
    bad = [i for i, p in enumerate(params) if p.grad is None or not torch.isfinite(p.grad).all()]
    if bad:
        ck.fail(f"{name}: {len(bad)} parameter(s) without a finite gradient")
        return
    opt.step()
    if DEV == "cuda":
        torch.cuda.synchronize()
    if not any(not torch.equal(a, p.detach()) for a, p in zip(before, params, strict=True)):
        ck.fail(f"{name}: no parameter moved")
        return
    if params[0].device.type != DEV:
        ck.fail(f"{name}: parameters on {params[0].device}")
        return
    ck.passed += 1


def model_steps(ck: Checks) -> None:
    import torch.nn.functional as F

    from convscope.models.cnn import CNN, CNNConfig
    from convscope.models.dcgan import DCGANConfig, Discriminator, Generator

    g = torch.Generator().manual_seed(0)
    for method in ("torch", "auto", "fft"):
        name = f"CNN lenet conv_method={method} train step"

        def cnn(method=method, name=name):
            model = CNN(CNNConfig(arch="lenet", in_channels=1, num_classes=10, image_size=28, conv_method=method)).to(DEV).train()
            x = torch.rand(8, 1, 28, 28, generator=g).to(DEV)
            y = torch.randint(0, 10, (8,), generator=g).to(DEV)
            _step(ck, name, model.parameters(), lambda: F.cross_entropy(model(x), y))

        ck.run(name, cnn)
    for method in (None, "auto", "fft"):
        cfg = DCGANConfig(image_size=16, channels=1, nz=16, ngf=8, ndf=8, conv_method=method)
        name = f"DCGAN conv_method={method}"

        def gan(cfg=cfg, name=name):
            G, D = Generator(cfg).to(DEV).train(), Discriminator(cfg).to(DEV).train()
            real = torch.rand(8, 1, 16, 16, generator=g).to(DEV) * 2 - 1
            z = torch.randn(8, cfg.nz, 1, 1, generator=g).to(DEV)
            ones, zeros = torch.ones(8, device=DEV), torch.zeros(8, device=DEV)

            def d_loss():
                fake = G(z).detach()
                return F.binary_cross_entropy_with_logits(D(real), ones) + F.binary_cross_entropy_with_logits(D(fake), zeros)

            _step(ck, name + " discriminator step", D.parameters(), d_loss)
            _step(ck, name + " generator step", G.parameters(), lambda: F.binary_cross_entropy_with_logits(D(G(z)), ones))

        ck.run(name, gan)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a subset of the grid")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: self-test of this script")
    args = ap.parse_args(argv)
    global DEV
    DEV = args.device
    if DEV == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; nothing to check")
        return 0
    t0 = time.perf_counter()
    where = torch.cuda.get_device_name() if DEV == "cuda" else "CPU self-test (CPU against CPU)"
    print(f"gpu_check: {where}, torch {torch.__version__}, numpy {np.__version__}", flush=True)
    ck = Checks()
    conv_grid(ck, (torch.float32, torch.float64), args.quick)
    model_steps(ck)
    total = ck.passed + len(ck.failures)
    print(f"gpu_check: {ck.passed}/{total} checks passed, {len(ck.failures)} failed ({time.perf_counter() - t0:.0f} s)")
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
