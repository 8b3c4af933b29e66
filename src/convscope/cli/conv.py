"""``convscope kernels`` and ``convscope conv``: image ⊛ kernel = feature map, per channel."""

from __future__ import annotations

import numpy as np

from .common import CLIError, add_out, display_name, nonneg_int, out_dir, positive_int, report

BOUNDARY_HELP = (
    "zeros (constant 0), reflect (mirror, edge not repeated), symmetric (mirror, edge repeated), "
    "replicate (edge value), circular (wrap around)"
)


def register(sub, common) -> None:
    p = sub.add_parser("kernels", parents=[common], help="list the named kernels with their values")
    p.add_argument("--size", type=positive_int, default=None, help="size for parametric kernels")
    p.set_defaults(func=cmd_kernels)

    p = sub.add_parser(
        "conv",
        parents=[common],
        help="convolve an image with kernels: one feature map per channel",
        description="Convolve IMAGE with each --kernel (true convolution) and draw the feature maps.",
    )
    p.add_argument("image", nargs="?", default=None, help="image file, or a bundled name (default: astronaut)")
    p.add_argument(
        "--kernel",
        action="append",
        default=None,
        help="NAME[:SIZE[:SIGMA]], an inline [[..],[..]] literal, or a .npy/.txt file; repeatable "
        "(default laplacian8, the seed's kernel)",
    )
    p.add_argument("--mode", default="same", help="full | same | valid (default same)")
    p.add_argument("--boundary", default="zeros", help=BOUNDARY_HELP)
    p.add_argument("--method", default="auto", help="auto | direct | fft | overlap_add")
    p.add_argument("--pool", default=None, metavar="KIND:SIZE", help="also pool the feature maps, e.g. max:2 or avg:2")
    p.add_argument("--gray", action="store_true", help="convert the image to grey first")
    p.add_argument("--size", type=nonneg_int, default=256, help="resize the short side to this (default 256; 0 keeps)")
    add_out(p, "conv")
    p.set_defaults(func=cmd_conv)


def cmd_kernels(args) -> int:
    from ..kernels import KERNELS, get_kernel

    with np.printoptions(precision=4, suppress=True, linewidth=120):
        for name, (_, doc) in KERNELS.items():
            k = get_kernel(name, args.size) if name not in ("identity",) or args.size else get_kernel(name)
            print(f"{name}  {tuple(k.shape)}  — {doc}")
            if max(k.shape) <= 7:
                print("   " + str(k.numpy()).replace("\n", "\n   "))
    return 0


def parse_pool(spec: str | None):
    if spec is None:
        return None
    kind, _, size = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in ("max", "avg") or not size.strip().isdigit() or int(size) < 1:
        raise CLIError(f"--pool must be max:N or avg:N with N >= 1, got {spec!r}")
    return kind, int(size)


def _file_stem(spec: str, index: int, used: set[str]) -> str:
    """A file-name-safe stem for a kernel spec (at most 40 characters), unique among ``used``.

    Two specs that shorten to the same stem (``DIR1/blur.npy`` and ``DIR2/blur.npy``, or long
    paths sharing 40 characters) get the kernel's 1-based position appended: ``..._k2``.
    """
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in spec)[:40]
    stem, n = safe, index + 1
    while stem in used:
        stem, n = f"{safe}_k{n}", n + 1
    used.add(stem)
    return stem


def cmd_conv(args) -> int:
    import torch
    import torch.nn.functional as F

    from ..conv import convolve2d
    from ..data.images import load_image, save_image
    from ..kernels import kernel_from_spec
    from ..viz.panels import conv_panel, feature_display

    specs = args.kernel or ["laplacian8"]
    kernels = [(s, kernel_from_spec(s)) for s in specs]
    pool = parse_pool(args.pool)
    img = load_image(args.image or "astronaut", gray=args.gray, size=args.size or None)
    out = out_dir(args)
    written = []
    maps = []
    used: set[str] = set()
    for i, (spec, k) in enumerate(kernels):
        fmap = convolve2d(img.astype(np.float64), k, mode=args.mode, boundary=args.boundary, method=args.method)
        safe = _file_stem(spec, i, used)
        np.save(out / f"featuremap_{safe}.npy", fmap.astype(np.float32))
        written.append(out / f"featuremap_{safe}.npy")
        chans = fmap[None] if fmap.ndim == 2 else fmap
        for c, ch in enumerate(chans):
            written.append(save_image(out / f"featuremap_{safe}_ch{c}.png", feature_display(ch)[0]))
        pooled = None
        if pool:
            t = torch.from_numpy(np.ascontiguousarray(chans))[None]
            fn = F.max_pool2d if pool[0] == "max" else F.avg_pool2d
            pooled = fn(t, pool[1]).numpy()[0]
            np.save(out / f"pooled_{safe}.npy", pooled.astype(np.float32))
            written.append(out / f"pooled_{safe}.npy")
        maps.append((display_name(spec), k.numpy(), chans, pooled))
    written.append(conv_panel(img, maps, out / "panel.png", pool=pool))
    report(written, out, args)
    return 0
