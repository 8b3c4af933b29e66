"""Helpers shared by every command: one-line errors, --out, the closing report."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from .._checks import ConvscopeError
from .._io import display_name, make_folder  # display_name re-exported: titles from file names

__all__ = [
    "CLIError",
    "OneLineParser",
    "add_out",
    "out_dir",
    "report",
    "quiet",
    "progress",
    "int_type",
    "float_type",
    "int_list_type",
    "positive_int",
    "nonneg_int",
    "seed_type",
    "SEED_MAX",
    "display_name",
]


class CLIError(ConvscopeError):
    """An error meant for the user: printed as one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage + error; we print one line and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        # a type factory below says "must be ..., got ..."; argparse prefixes "argument --opt: "
        m = re.match(r"argument (\S+?): (must be .*)$", message, flags=re.S)
        if m:
            message = f"{m.group(1)} {m.group(2)}"
        m = re.match(r"argument (\S+?): invalid choice: (.*) \(choose from (.*)\)$", message, flags=re.S)
        if m:  # the same shape for choices
            message = f"{m.group(1)} must be one of {m.group(3)}, got {m.group(2)}"
        m = re.match(r"argument (\S+?): invalid (int|float) value: (.*)$", message, flags=re.S)
        if m:
            message = f"{m.group(1)} must be {'an integer' if m.group(2) == 'int' else 'a number'}, got {m.group(3)}"
        message = " ".join(message.split())  # always one line
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# ---------------------------------------------------------------- argparse types
#
# Each factory returns a callable for ``add_argument(type=...)``. A bad value raises
# argparse.ArgumentTypeError("must be <constraint>, got <value>"), which OneLineParser
# prints as "--option must be <constraint>, got <value>", exit code 2.

SEED_MAX = 2**32  # seeds are in [0, 2**32): numpy's legacy seeding takes no more


def _range_text(lo, hi, *, strict_lo: bool = False, noun: str = "an integer") -> str:
    if lo is not None and hi is not None and not strict_lo:
        return f"{noun} in [{lo:,}, {hi:,}]" if noun == "an integer" else f"{noun} in [{lo:g}, {hi:g}]"
    parts = []
    if lo is not None:
        parts.append((">" if strict_lo else ">=") + (f" {lo:,}" if noun == "an integer" else f" {lo:g}"))
    if hi is not None:
        parts.append("<=" + (f" {hi:,}" if noun == "an integer" else f" {hi:g}"))
    return noun + (" " + " and ".join(parts) if parts else "")


def _named(fn: Callable, name: str) -> Callable:
    fn.__name__ = name  # argparse shows it in "invalid <name> value" (never reached: we raise our own)
    return fn


def int_type(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An integer in ``[lo, hi]`` (either bound may be None).

    >>> int_type(1, 10)("3")
    3
    >>> int_type(1)("-5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 1, got '-5'
    """
    want = _range_text(lo, hi)

    def parse(text: str) -> int:
        try:
            v = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
        return v

    return _named(parse, "int")


def float_type(lo: float | None = None, hi: float | None = None, *, strict_lo: bool = False) -> Callable[[str], float]:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``strict_lo``).

    >>> float_type(0, strict_lo=True)("2.5")
    2.5
    >>> float_type(0, strict_lo=True)("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number > 0, got 'nan'
    """
    want = _range_text(lo, hi, strict_lo=strict_lo, noun="a finite number")

    def parse(text: str) -> float:
        try:
            v = float(str(text).strip())
        except ValueError:
            v = math.nan
        bad = (
            not math.isfinite(v)
            or (lo is not None and (v <= lo if strict_lo else v < lo))
            or (hi is not None and v > hi)
        )
        if bad:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
        return v

    return _named(parse, "float")


def int_list_type(lo: int | None = None, hi: int | None = None) -> Callable[[str], list[int]]:
    """Comma-separated integers, each in ``[lo, hi]``: ``"0,10,100"`` -> ``[0, 10, 100]``.

    >>> int_list_type(0, 10**9)("0, 10,100")
    [0, 10, 100]
    """
    want = "comma-separated " + _range_text(lo, hi).replace("an integer", "integers", 1) + " such as 0,10,100"
    one = int_type(lo, hi)

    def parse(text: str) -> list[int]:
        try:
            values = [one(v) for v in str(text).replace(" ", "").split(",") if v != ""]
        except argparse.ArgumentTypeError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
        return values

    return _named(parse, "int list")


positive_int = int_type(1)
nonneg_int = int_type(0)
seed_type = int_type(0, SEED_MAX - 1)




def add_out(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help=f"output folder (default convscope-out/{command}/)",
    )
    p.set_defaults(_out_default=f"convscope-out/{command}")


def out_dir(args) -> Path:
    d = Path(args.out or args._out_default)
    make_folder(d)
    return d


def quiet(args=None) -> bool:
    """Quiet when asked, or when stderr is not a terminal."""
    if args is not None and getattr(args, "quiet", False):
        return True
    return os.environ.get("CONVSCOPE_QUIET") == "1"


def progress(iterable=None, *, args=None, **kw):
    """tqdm bar, silent with --quiet or when stderr is not a TTY."""
    from tqdm.auto import tqdm

    disable = quiet(args) or not sys.stderr.isatty()
    return tqdm(iterable, disable=disable, dynamic_ncols=True, leave=False, **kw)


def report(paths: Iterable[str | os.PathLike], where: str | os.PathLike, args=None) -> None:
    """End every writing command by saying what was written and where."""
    paths = [Path(p) for p in paths]
    print(f"wrote {len(paths)} file{'s' if len(paths) != 1 else ''} to {Path(where).resolve()}")
    if not quiet(args):
        for p in paths:
            print(f"  {p}")
