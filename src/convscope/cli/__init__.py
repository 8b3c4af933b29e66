"""The ``convscope`` command line: one module per command group.

Each module in :data:`COMMAND_MODULES` defines ``register(subparsers, common)``
which adds its sub-commands; ``common`` is the parent parser carrying
``--seed``, ``--quiet`` and ``--debug``. A handler returns an exit code (or None).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from .._checks import ConvscopeError
from .common import OneLineParser, seed_type

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

# group modules, in the order their commands are listed in --help
COMMAND_MODULES = [
    "convscope.cli.conv",  # kernels, conv
    "convscope.cli.fourier",  # spectrum, filter, theorem
    "convscope.cli.diffusion",  # diffuse
    "convscope.cli.signal",  # signal
    "convscope.cli.classify",  # classify train/eval/predict/filters
    "convscope.cli.gan",  # gan train/sample/interpolate/arithmetic/evaluate/spectrum
    "convscope.cli.tour",  # tour
    "convscope.cli.explore",  # explore
    "convscope.cli.calibrate",  # calibrate
]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    def common_options(defaults: bool) -> argparse.ArgumentParser:
        # The top level holds the defaults; every sub-command level leaves an option it was not given alone
        # (SUPPRESS), so `convscope classify --seed 2 train` keeps 2 instead of the sub-command resetting it to 0.
        p = argparse.ArgumentParser(add_help=False)
        g = p.add_argument_group("common options")
        keep = {} if defaults else {"default": argparse.SUPPRESS}
        g.add_argument("--seed", type=seed_type, help="random seed in [0, 2**32) (default 0)",
                       **({"default": 0} if defaults else keep))
        g.add_argument("--quiet", action="store_true", help="no progress bars or chatter", **keep)
        g.add_argument("--debug", action="store_true", help="show full tracebacks on error", **keep)
        return p

    common = common_options(defaults=False)
    parser = OneLineParser(
        prog="convscope",
        description="Convolution three ways: in space, in frequency, as diffusion; then a CNN and a DCGAN.",
        parents=[common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"convscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("CONVSCOPE_DEBUG") == "1"
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help/--version (0) or a bad option (2, one line already printed)
        return e.code if isinstance(e.code, int) else 2
    # quietness travels as args.quiet and seeds as args.seed: nothing global is set here
    try:
        rc = args.func(args)
        return int(rc or 0)
    except KeyboardInterrupt:
        print("convscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `convscope kernels | head`: the reader left, nothing is wrong
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0
    except (ConvscopeError, OSError) as e:
        # the expected family (bad arguments, bad files, too-large requests) and the
        # environment's own refusals (missing file, permission): one line, exit 2
        if debug:
            raise
        print(f"convscope: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # anything else is a bug: never let it pass for a user error
        if debug:
            raise
        print(f"convscope: internal error: {type(e).__name__}: {_one_line(e)} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
