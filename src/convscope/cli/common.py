"""Helpers shared by every command: one-line errors, --out, the closing report."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from .._checks import ConvscopeError

__all__ = ["CLIError", "OneLineParser", "add_out", "out_dir", "report", "quiet", "progress"]


class CLIError(ConvscopeError):
    """An error meant for the user: printed as one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage + error; we print one line and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
    d.mkdir(parents=True, exist_ok=True)
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
