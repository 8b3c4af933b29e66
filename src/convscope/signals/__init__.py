"""1-D signals: audio in and out, the spectrum and the equaliser, filters, convolution reverb.

The science layer for sound (beside :mod:`convscope.fourier` and :mod:`convscope.diffusion`):
it draws nothing and writes nothing but WAV files on request; the step of the story that
shows it is :mod:`convscope.experiments.signals`. Named ``signals`` so as not to shadow the
standard library's ``signal``.

Signals are float64 numpy arrays ``(N,)`` in [-1, 1] with a sample rate in hertz; stereo
is mixed to mono on reading unless asked otherwise (:func:`read_audio`).

============  ==============================================================
module        what
============  ==============================================================
notes         pitch <-> note names, equal temperament, A4 = 440 Hz
audio         read/write audio, the bundled song (gradio's sax.wav), synthesised signals
spectrum      magnitude spectrum, peaks with note names, STFT, spectrogram, equaliser bands
filters       low/high/band-pass and band-stop by FFT masks and by FIR kernels
reverb        convolution reverb: synthetic or measured room impulse responses, RT60
============  ==============================================================
"""

from .audio import (
    CHANNEL_RULES,
    SCALE_NOTES,
    SONGS,
    SUBTYPES,
    Audio,
    c_major_scale,
    chirp,
    chord,
    load_song,
    melody,
    read_audio,
    save_wav,
    sax_path,
)
from .filters import (
    FIR_WINDOWS,
    MAX_TAPS,
    fft_filter,
    fir_design,
    fir_filter,
    fir_from_spec,
    fir_response,
    mask,
)
from .notes import A4_HZ, NOTE_NAMES, midi_number, nearest_note, note_frequency, note_name
from .reverb import (
    DEFAULT_FIT_DB,
    convolution_reverb,
    load_impulse_response,
    measure_rt60,
    room_impulse_response,
    schroeder_decay,
)
from .spectrum import (
    EQ_BANDS,
    EQ_FMAX,
    EQ_FMIN,
    FLOOR_DB,
    WINDOWS,
    Equaliser,
    Peak,
    Stft,
    band_edges,
    equaliser,
    equaliser_frame,
    find_peaks,
    magnitude_spectrum,
    spectrogram,
    stft,
)

__all__ = [
    "A4_HZ",
    "CHANNEL_RULES",
    "DEFAULT_FIT_DB",
    "EQ_BANDS",
    "EQ_FMAX",
    "EQ_FMIN",
    "FIR_WINDOWS",
    "FLOOR_DB",
    "MAX_TAPS",
    "NOTE_NAMES",
    "SCALE_NOTES",
    "SONGS",
    "SUBTYPES",
    "WINDOWS",
    "Audio",
    "Equaliser",
    "Peak",
    "Stft",
    "band_edges",
    "c_major_scale",
    "chirp",
    "chord",
    "convolution_reverb",
    "equaliser",
    "equaliser_frame",
    "fft_filter",
    "find_peaks",
    "fir_design",
    "fir_filter",
    "fir_from_spec",
    "fir_response",
    "load_impulse_response",
    "load_song",
    "magnitude_spectrum",
    "mask",
    "measure_rt60",
    "melody",
    "midi_number",
    "nearest_note",
    "note_frequency",
    "note_name",
    "read_audio",
    "room_impulse_response",
    "save_wav",
    "sax_path",
    "schroeder_decay",
    "spectrogram",
    "stft",
]
