"""Pictures. The only package that imports matplotlib (Agg backend, headless).

It receives arrays and returns figures or files; it never computes the science, and
never imports :mod:`convscope.experiments` (the layer above it). Modules: ``core``
(figures, scaling, GIFs), ``panels`` (feature maps), ``fourier``, ``diffusion``,
``classify``, ``gan``, ``signals`` (waveform, spectrum, equaliser GIF), ``curves`` (both trainers' curves), ``tour`` (the 3×3 → 5×5
figure) and ``report`` (the tour's HTML).
"""

from .core import display_scale, new_figure, save_figure, save_gif, show_kernel, show_map
from .curves import classifier_curves, gan_curves
from .signals import equaliser_gif, time_frequency_figure

__all__ = ["classifier_curves", "display_scale", "equaliser_gif", "gan_curves", "new_figure", "save_figure",
           "save_gif", "show_kernel", "show_map", "time_frequency_figure"]
