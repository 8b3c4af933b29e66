"""The explorer's tabs, one module each: its callbacks (plain functions, no Gradio) and ``build(ctx)``.

Each module has ``TITLE`` (the app numbers the tabs in this order), ``ID``, ``INTRO``, ``API_NAMES`` (its public endpoints, in
order) and ``build``. Adding a tab is one module here and one entry in
:data:`TABS`.
"""

from __future__ import annotations

from . import diffusion, fourier, fractional, gan, kernels, recognition, signals, theorem

__all__ = ["API_NAMES", "TABS"]

TABS = (kernels, theorem, signals, fourier, diffusion, fractional, recognition, gan)
# every public endpoint of the app, in the order of the tabs
API_NAMES = tuple(name for tab in TABS for name in tab.API_NAMES)
