"""Pitch and note names in equal temperament, A4 = 440 Hz.

A note ``n`` semitones above A4 sounds at ``440 · 2^(n/12)`` Hz. MIDI numbers put A4 at 69
and C4 (middle C) at 60; octaves are numbered from C (scientific pitch notation), so
B3 is followed by C4.

>>> round(note_frequency("C4"), 4), note_name(440.0), note_name(261.0)
(261.6256, 'A4', 'C4')
"""

from __future__ import annotations

import math
import re

from .._checks import check_float, fail

__all__ = ["A4_HZ", "NOTE_NAMES", "midi_number", "nearest_note", "note_frequency", "note_name"]

A4_HZ = 440.0
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"DB": "C#", "EB": "D#", "GB": "F#", "AB": "G#", "BB": "A#"}
_NOTE = re.compile(r"^\s*([A-Ga-g])([#b]?)(-?\d+)\s*$")


def midi_number(frequency: float) -> float:
    """The (fractional) MIDI number of a frequency: ``69 + 12 log2(f / 440)``.

    >>> midi_number(440.0), midi_number(880.0)
    (69.0, 81.0)
    """
    f = check_float("frequency", frequency, min_value=0.0, strict_min=True)
    return 69.0 + 12.0 * math.log2(f / A4_HZ)


def nearest_note(frequency: float) -> tuple[str, float]:
    """``(name, cents)``: the nearest equal-tempered note and how far off it is (−50 to +50 cents).

    >>> nearest_note(445.0)
    ('A4', 19.56...)
    """
    m = midi_number(frequency)
    n = round(m)
    return f"{NOTE_NAMES[n % 12]}{n // 12 - 1}", 100.0 * (m - n)


def note_name(frequency: float) -> str:
    """The nearest note's name, such as ``'A4'`` or ``'C#5'``."""
    return nearest_note(frequency)[0]


def note_frequency(name: str) -> float:
    """The frequency of a note name: a letter, an optional ``#`` or ``b``, an octave (``'Eb4'``).

    >>> note_frequency("A4"), round(note_frequency("C5"), 4)
    (440.0, 523.2511)
    """
    m = _NOTE.match(name) if isinstance(name, str) else None
    if m is None:
        raise fail("name", "a note name such as 'A4', 'C#5' or 'Eb3'", name)
    letter, acc, octave = m.group(1).upper(), m.group(2), int(m.group(3))
    pitch = letter + acc.replace("b", "B")
    if acc == "b":
        if pitch in _FLATS:
            pitch = _FLATS[pitch]
        else:  # Cb = B of the octave below, Fb = E
            idx = NOTE_NAMES.index(letter) - 1
            octave -= idx < 0
            pitch = NOTE_NAMES[idx % 12]
    n = NOTE_NAMES.index(pitch) + 12 * (octave + 1)
    return A4_HZ * 2.0 ** ((n - 69) / 12.0)
