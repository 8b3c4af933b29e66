"""``convscope kernels`` and ``convscope conv``: image ⊛ kernel = feature map, per channel."""

from __future__ import annotations

import numpy as np

from .common import CLIError, add_out, nonneg_int, out_dir, positive_int, report

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
        "(default laplacian8, the lecture notes' kernel)",
    )
    p.add_argument("--mode", default="same", help="full | same | valid (default same)")
    p.add_argument("--boundary", default="zeros", help=BOUNDARY_HELP)
    p.add_argument("--method", default="auto", help="auto | direct | fft | overlap_add")
    p.add_argument("--pool", default=None, metavar="KIND:SIZE", help="also pool the feature maps, e.g. max:2 or avg:2")
    p.add_argument("--gray", action="store_true", help="convert the image to grey first")
    p.add_argument("--size", type=nonneg_int, default=256, help="resize the short side to this (default 256; 0 keeps)")
    p.add_argument(
        "--chunks",
        type=positive_int,
        default=None,
        metavar="N",
        help="filter a .npy or .zarr IMAGE larger than memory in N x N chunks (last two axes are H, W) "
        "and write zarr; needs pip install -e '.[scale]'",
    )
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


def cmd_conv(args) -> int:
    if args.chunks is not None:
        return cmd_conv_chunked(args)
    from ..data.images import load_image
    from ..experiments.feature_maps import feature_maps, parse_pool, save_feature_maps

    img = load_image(args.image or "astronaut", gray=args.gray, size=args.size or None)
    res = feature_maps(img, args.kernel or ["laplacian8"], mode=args.mode, boundary=args.boundary,
                       method=args.method, pool=parse_pool(args.pool))
    out = out_dir(args)
    report(save_feature_maps(res, out), out, args)
    return 0


# --------------------------------------------------------------------------------------
# convscope conv BIG.npy|BIG.zarr --chunks N: images larger than memory (dask + zarr)


def cmd_conv_chunked(args) -> int:
    from ..experiments.feature_maps import chunked_feature_maps, save_chunked_feature_maps
    from .common import progress

    if args.image is None:
        raise CLIError("image must be given with --chunks: a .npy file or a .zarr folder")
    if args.pool or args.gray:
        raise CLIError("--pool and --gray do not apply with --chunks (the image is filtered as stored)")
    res = chunked_feature_maps(args.image, args.kernel or ["laplacian8"], chunks=args.chunks, mode=args.mode,
                               boundary=args.boundary, method=args.method)
    out = out_dir(args)
    bar = lambda total, desc: progress(total=total, args=args, desc=desc, unit="task")  # noqa: E731
    report(save_chunked_feature_maps(res, out, progress=bar), out, args)
    return 0
