"""One mixin that gives every config dataclass the same dict round trip.

Configs are frozen dataclasses saved inside checkpoints as plain dicts (so
that ``torch.load(weights_only=True)`` can read them back). ``from_dict``
refuses keys the class does not know, naming them, so that a checkpoint
written by another version, or a hand-edited ``run.json``, is never half-read
in silence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from ._checks import ArgumentError, ArgumentTypeError

__all__ = ["ConfigMixin"]

C = TypeVar("C", bound="ConfigMixin")


class ConfigMixin:
    """``to_dict`` / ``from_dict`` / ``replace`` for a frozen dataclass.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo(ConfigMixin):
    ...     a: int = 1
    >>> Demo.from_dict({"a": 2}).to_dict()
    {'a': 2}
    >>> Demo.from_dict({"a": 2, "b": 3})
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: Demo keys must be among ['a'], got unknown key(s) ['b']
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[C], d: Mapping[str, Any]) -> C:
        if not isinstance(d, Mapping):
            raise ArgumentTypeError(f"{cls.__name__} must be built from a dict, got {type(d).__name__}")
        names = cls.field_names()
        extra = sorted(set(d) - set(names))
        if extra:
            raise ArgumentError(f"{cls.__name__} keys must be among {names}, got unknown key(s) {extra}")
        return cls(**dict(d))

    def replace(self: C, **changes: Any) -> C:
        names = self.field_names()
        extra = sorted(set(changes) - set(names))
        if extra:
            raise ArgumentError(f"{type(self).__name__} keys must be among {names}, got unknown key(s) {extra}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
