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
        "(default laplacian8, the seed's kernel)",
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

SCALE_HINT = "pip install -e '.[scale]'"


def _open_chunked(path, n: int):
    """A memory-mapped .npy or a zarr array as a dask array in n x n chunks (nothing read yet)."""
    from pathlib import Path

    import dask.array as da

    path = Path(path)
    if not path.exists():
        raise CLIError(f"image must be an existing .npy file or .zarr folder, got {str(path)!r}")
    if path.suffix.lower() == ".npy":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    elif path.suffix.lower() == ".zarr":
        import zarr

        try:
            arr = zarr.open_array(str(path), mode="r")
        except Exception as e:  # a group, or not zarr at all: zarr's error types vary across versions
            raise CLIError(f"image must be a zarr array (not a group), got {str(path)!r}: {type(e).__name__}") from e
    else:
        raise CLIError(f"image must be a .npy file or a .zarr folder with --chunks, got {str(path)!r}")
    if arr.ndim not in (2, 3, 4) or arr.dtype.kind not in "biuf":
        raise CLIError(f"image must be a real (H, W), (C, H, W) or (B, C, H, W) array, got shape {arr.shape} dtype {arr.dtype}")
    # batch in ones, all channels together, n x n in space
    lead = tuple(-1 if i == arr.ndim - 3 else 1 for i in range(arr.ndim - 2))
    return da.from_array(arr, chunks=(*lead, n, n), asarray=False)


def _write_zarr(result, final, args):
    """Compute ``result`` chunk by chunk into ``final`` (.zarr), atomically, with a progress bar."""
    import os
    import shutil

    from dask.callbacks import Callback

    from .common import progress

    class _Bar(Callback):
        def _start_state(self, dsk, state):
            total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
            self.bar = progress(total=total, args=args, desc=final.name, unit="task")

        def _posttask(self, key, result, dsk, state, worker_id):
            self.bar.update(1)

        def _finish(self, dsk, state, errored):
            self.bar.close()

    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")  # same folder: the rename is atomic
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _Bar():
            result.to_zarr(str(tmp), overwrite=True)
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def cmd_conv_chunked(args) -> int:
    from .._checks import fail

    try:
        import dask.array  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as e:
        missing = e.name or "a module"
        raise CLIError(f"--chunks needs dask and zarr ({missing} is missing): {SCALE_HINT}") from None
    from ..conv import convolve2d
    from ..experiments.feature_maps import file_stems
    from ..kernels import kernel_from_spec

    n = args.chunks
    if n < 1:
        raise fail("--chunks", "a positive integer", n)
    if args.image is None:
        raise CLIError("image must be given with --chunks: a .npy file or a .zarr folder")
    if args.pool or args.gray:
        raise CLIError("--pool and --gray do not apply with --chunks (the image is filtered as stored)")
    x = _open_chunked(args.image, n)
    specs = args.kernel or ["laplacian8"]
    kernels = [(s, kernel_from_spec(s).numpy()) for s in specs]
    out = out_dir(args)
    written = []
    for safe, (_, k) in zip(file_stems(specs), kernels):
        y = convolve2d(x, k, mode=args.mode, boundary=args.boundary, method=args.method).astype(np.float32)
        # zarr stores regular chunks: full/valid change the last chunk's size
        y = y.rechunk((*y.chunks[:-2], n, n))
        written.append(_write_zarr(y, out / f"featuremap_{safe}.zarr", args))
    report(written, out, args)
    return 0
