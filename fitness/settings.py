"""How each candidate is trained: the ``[training]`` table of a run (frozen, validated on load)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


class SettingsError(ValueError):
    """Invalid training setting (one clear line naming the key)."""


@dataclass(frozen=True)
class TrainSettings:
    """How each candidate is trained.

    Attributes:
        max_epochs: Epoch cap per candidate.
        patience: Epochs without improvement of the validation loss before stopping
            (the best weights are restored).
        tf_threads: TensorFlow threads per worker. Fixed (not derived from the
            machine) so that results do not depend on where a candidate runs.
    """

    max_epochs: int = 30
    patience: int = 4
    tf_threads: int = 1

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience", "tf_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"training.{name} must be an integer >= 1, got {value!r}")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainSettings:
        known = set(cls.__dataclass_fields__)
        for k in d:
            if k not in known:
                raise SettingsError(f"unknown key 'training.{k}' (known: {', '.join(sorted(known))})")
        return cls(**dict(d))


__all__ = ["SettingsError", "TrainSettings"]
