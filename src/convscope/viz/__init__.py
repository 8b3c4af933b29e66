"""Pictures. The only package that imports matplotlib (Agg backend, headless).

It receives arrays and returns figures or files; it never computes the science.
"""

from .core import display_scale, new_figure, save_figure, save_gif, show_kernel, show_map

__all__ = ["display_scale", "new_figure", "save_figure", "save_gif", "show_kernel", "show_map"]
