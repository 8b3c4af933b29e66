"""Experiments: one module per step of the story, as library functions.

Each experiment takes plain arguments (arrays, kernel names or arrays, numbers, a
``seed``, run folders of trained models) and returns a frozen dataclass of arrays
and numbers. It writes no files, parses no argv, prints nothing, and touches
neither the environment nor global seeds; long ones take a ``progress`` callback.
Next to each result type sits its ``save_*(result, out_dir) -> list[Path]``, the
one place that writes it (PNG next to ``.npy``/JSON, through :mod:`convscope.viz`).

The front-ends (``cli``, the tour, the explorer) call these and nothing else for
the science.

====================  ==========================================================
module                step
====================  ==========================================================
feature_maps          1. image ⊛ kernel = feature maps, pooled
theorem               2. the convolution theorem, padded and circular
spectrum              3. spectrum, radial power law, the spectral Laplacian
filtering             3. low/high/band-pass filtering, Gibbs ringing
signals               3. a song in time and frequency, the equaliser, filters, reverb, the continuous √(2π)
diffusion             4. the softmax propagator, diffusion, the heat equation
fractional_stride     5. 3×3 → 5×5 by zero insertion, padding and convolution
classify              6. a trained classifier: evaluation, predictions, learned filters
gan                   7. a trained DCGAN: samples, walks, arithmetic, spectrum, metrics
====================  ==========================================================
"""

from .classify import (
    ClassifierEvaluation,
    LearnedFilters,
    Predictions,
    Recognition,
    digit_from_drawing,
    evaluate_classifier,
    learned_filters,
    predict,
    recognise,
    save_classifier_evaluation,
    save_learned_filters,
    save_predictions,
)
from .diffusion import Diffusion, diffusion, drop, save_diffusion
from .feature_maps import (
    FeatureMaps,
    PixelComputation,
    feature_maps,
    pixel_computation,
    save_feature_maps,
)
from .filtering import Filtering, filtering, save_filtering
from .fractional_stride import (
    FractionalStride,
    example_inputs,
    fractional_stride,
    save_fractional_stride,
)
from .gan import (
    Arithmetic,
    GANEvaluation,
    GANSpectrum,
    GANSteps,
    Interpolation,
    Samples,
    arithmetic,
    evaluate_generator,
    gan_spectrum,
    interpolate,
    live_gan,
    sample,
    save_arithmetic,
    save_gan_evaluation,
    save_gan_spectrum,
    save_interpolation,
    save_samples,
    train_steps,
)
from .signals import (
    ContinuousTheorem,
    FilteredSong,
    Reverb,
    Song,
    continuous_theorem,
    filter_song,
    reverb,
    save_continuous_theorem,
    save_filter_song,
    save_reverb,
    save_song,
    song,
)
from .spectrum import (
    SpectralLaplacian,
    Spectrum,
    image_spectrum,
    save_spectral_laplacian,
    save_spectrum,
    spectral_laplacian,
)
from .theorem import Theorem, save_theorem, theorem

__all__ = [
    "Arithmetic",
    "ClassifierEvaluation",
    "ContinuousTheorem",
    "Diffusion",
    "FeatureMaps",
    "FilteredSong",
    "Filtering",
    "FractionalStride",
    "GANEvaluation",
    "GANSpectrum",
    "GANSteps",
    "Interpolation",
    "LearnedFilters",
    "PixelComputation",
    "Predictions",
    "Recognition",
    "Reverb",
    "Samples",
    "Song",
    "SpectralLaplacian",
    "Spectrum",
    "Theorem",
    "arithmetic",
    "continuous_theorem",
    "diffusion",
    "digit_from_drawing",
    "drop",
    "evaluate_classifier",
    "evaluate_generator",
    "example_inputs",
    "feature_maps",
    "filter_song",
    "filtering",
    "fractional_stride",
    "gan_spectrum",
    "image_spectrum",
    "interpolate",
    "learned_filters",
    "live_gan",
    "pixel_computation",
    "predict",
    "recognise",
    "reverb",
    "sample",
    "save_arithmetic",
    "save_classifier_evaluation",
    "save_continuous_theorem",
    "save_diffusion",
    "save_feature_maps",
    "save_filter_song",
    "save_filtering",
    "save_fractional_stride",
    "save_gan_evaluation",
    "save_gan_spectrum",
    "save_interpolation",
    "save_learned_filters",
    "save_predictions",
    "save_reverb",
    "save_samples",
    "save_song",
    "save_spectral_laplacian",
    "save_spectrum",
    "save_theorem",
    "song",
    "spectral_laplacian",
    "theorem",
    "train_steps",
]
