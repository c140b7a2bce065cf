"""The search space: the bounds of every gene, validated once, saved with every run.

A :class:`SearchSpace` is a frozen, hashable dataclass. It fixes the choice
tuples that index genes point into and, through :attr:`SearchSpace.layout`,
the layout of the 1-D genome.

Example:
    >>> space = SearchSpace(max_levels=3, neuron_choices=[16, 32, 64])
    >>> space.neuron_choices
    (16, 32, 64)
    >>> SearchSpace.from_dict(space.to_dict()) == space
    True
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from evonas.genome.errors import SpaceError
from evonas.genome.layout import GeneLayout, layout_for

KNOWN_ACTIVATIONS: frozenset[str] = frozenset(
    {"relu", "elu", "gelu", "swish", "tanh", "selu", "sigmoid", "linear"}
)
KNOWN_OPTIMIZERS: frozenset[str] = frozenset({"adam", "adamw", "rmsprop", "sgd"})
# learning-rate schedules over a candidate's epoch cap (fitness.schedule computes them)
KNOWN_SCHEDULES: frozenset[str] = frozenset({"constant", "cosine", "onecycle"})
# how a network reads its numeric inputs: as they are, or also piecewise-linearly encoded (fitness.embedding)
KNOWN_EMBEDDINGS: frozenset[str] = frozenset({"none", "ple"})
# how a conv level pools after its convolution, and how the last conv level feeds the Dense lattice
KNOWN_POOLINGS: frozenset[str] = frozenset({"none", "max", "avg"})
KNOWN_READOUTS: frozenset[str] = frozenset({"flatten", "global_avg", "global_max"})

MAX_LEVELS_LIMIT = 16
MAX_UNITS_LIMIT = 16
MAX_CONV_LEVELS_LIMIT = 8
IMAGE_CONV_LEVELS = 4  # the conv levels of an image run whose space leaves max_conv_levels unset
# space.batch_scale unset: the batch-size choices double for every doubling of a training's rows past
# this many, so the smallest choice never takes more than about 2,800 steps an epoch, as many as
# batch 16 on the 43,112 rows of cpssw8, where it cost no more seconds than 64 or 256
# (python -m benchmarks.batch_rows: docs/search.md, "Large tables")
BATCH_ROWS = 32_000
MAX_BATCH_SCALE = 64


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """Bounds of the genetic search: lattice size, layer choices, training choices.

    Attributes:
        max_levels: Most levels a network may have (1..16).
        max_units: Most units in one level (1..16).
        neuron_choices: Widths a unit may take (sorted, unique, >= 1).
        activations: Activation names a unit may take.
        dropout_choices: Dropout rates after a unit (sorted, unique, in [0, 1)).
        optimizers: Optimizer names (``sgd`` means SGD with momentum 0.9).
        learning_rates: Learning-rate choices (sorted, unique, > 0).
        batch_sizes: Batch-size choices (sorted, unique, >= 1), before ``batch_scale``.
        batch_scale: Every batch-size choice is multiplied by it (a power of two, 1..64).
            Unset (``None``), a run sets it from the rows one training fits
            (:meth:`for_rows`): 1 up to :data:`BATCH_ROWS` rows, then doubling with
            every doubling of the rows, so the smallest choice keeps about as many
            steps per epoch as on a table of that size; the run's saved
            configuration holds the value it took. 1 uses ``batch_sizes`` as they are.
        weight_decays: Decoupled weight-decay choices (sorted, unique, in [0, 1)):
            each step shrinks every weight by ``weight_decay * learning_rate``
            before the optimizer's update, whatever the optimizer (as AdamW does).
        lr_schedules: Learning-rate schedule names: ``constant``; ``cosine`` (a
            linear warm-up over the first 5 % of the epoch cap's steps, then a
            cosine decay to 0); ``onecycle`` (a warm-up from a 25th of the rate
            over the first 30 %, then the cosine decay).
        label_smoothings: Label-smoothing choices for classification (sorted,
            unique, in [0, 1)); a regression run searches with ``(0.0,)``
            (:meth:`for_data`).
        embeddings: How a network reads the numeric features: ``none`` (the
            standardised values) or ``ple`` (the values and their piecewise-linear
            encoding over quantile bins of the train rows, Gorishniy et al. 2022);
            a run whose data has no numeric feature to encode searches with ``("none",)``.
        max_conv_levels: Most conv levels ahead of the Dense lattice (0..8), image
            data only: unset (``None``), a run on images takes
            :data:`IMAGE_CONV_LEVELS` and a run on a table 0 (:meth:`for_images`);
            0 on images searches Dense lattices on the scaled pixels.
        filter_choices: Filters a conv level may have (sorted, unique, >= 1).
        kernel_choices: Square kernel sizes of a conv level (sorted, unique, odd).
        poolings: What a conv level does after its convolution: ``none``, or a
            2x2 ``max`` / ``avg`` pooling that halves its height and width.
        readouts: How the last conv level feeds the Dense lattice: ``flatten``,
            ``global_avg`` or ``global_max`` pooling over its positions.
        max_params: Networks with more parameters are rejected before building.
        connection_probability: Chance of a 1 for each connection, input and
            output bit of a random genome.
    """

    max_levels: int = 4
    max_units: int = 4
    neuron_choices: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 512)
    activations: tuple[str, ...] = ("relu", "elu", "gelu", "swish", "tanh")
    dropout_choices: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    optimizers: tuple[str, ...] = ("adam", "adamw", "rmsprop", "sgd")
    learning_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    batch_sizes: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    batch_scale: int | None = None
    weight_decays: tuple[float, ...] = (0.0, 0.001, 0.01, 0.1)
    lr_schedules: tuple[str, ...] = ("constant", "cosine", "onecycle")
    label_smoothings: tuple[float, ...] = (0.0, 0.1)
    embeddings: tuple[str, ...] = ("none", "ple")
    max_conv_levels: int | None = None
    filter_choices: tuple[int, ...] = (8, 16, 32, 64, 128)
    kernel_choices: tuple[int, ...] = (3, 5)
    poolings: tuple[str, ...] = ("none", "max", "avg")
    readouts: tuple[str, ...] = ("flatten", "global_avg", "global_max")
    max_params: int = 2_000_000
    connection_probability: float = 0.2

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # the dataclass is frozen
        set_(self, "max_levels", _int(self.max_levels, "max_levels", 1, MAX_LEVELS_LIMIT))
        set_(self, "max_units", _int(self.max_units, "max_units", 1, MAX_UNITS_LIMIT))
        set_(self, "max_params", _int(self.max_params, "max_params", 1))
        if self.max_conv_levels is not None:
            set_(
                self,
                "max_conv_levels",
                _int(self.max_conv_levels, "max_conv_levels", 0, MAX_CONV_LEVELS_LIMIT),
            )
        filters = _numbers(self.filter_choices, "filter_choices", integer=True)
        _check_min(filters, "filter_choices", 1, ">= 1")
        set_(self, "filter_choices", filters)
        kernels = _numbers(self.kernel_choices, "kernel_choices", integer=True)
        if any(k < 1 or k % 2 == 0 for k in kernels):
            raise SpaceError(f"space.kernel_choices must all be odd and >= 1, got {list(kernels)}")
        set_(self, "kernel_choices", kernels)
        p = _float(self.connection_probability, "connection_probability")
        if not 0.0 <= p <= 1.0:
            raise SpaceError(f"space.connection_probability must be in [0, 1], got {p!r}")
        set_(self, "connection_probability", p)

        neurons = _numbers(self.neuron_choices, "neuron_choices", integer=True)
        _check_min(neurons, "neuron_choices", 1, ">= 1")
        set_(self, "neuron_choices", neurons)
        dropouts = _numbers(self.dropout_choices, "dropout_choices", integer=False)
        if any(not 0.0 <= x < 1.0 for x in dropouts):
            raise SpaceError(f"space.dropout_choices must all be in [0, 1), got {list(dropouts)}")
        set_(self, "dropout_choices", dropouts)
        for key in ("weight_decays", "label_smoothings"):
            values = _numbers(getattr(self, key), key, integer=False)
            if any(not 0.0 <= x < 1.0 for x in values):
                raise SpaceError(f"space.{key} must all be in [0, 1), got {list(values)}")
            set_(self, key, values)
        rates = _numbers(self.learning_rates, "learning_rates", integer=False)
        if any(x <= 0 for x in rates):
            raise SpaceError(f"space.learning_rates must all be > 0, got {list(rates)}")
        set_(self, "learning_rates", rates)
        batches = _numbers(self.batch_sizes, "batch_sizes", integer=True)
        _check_min(batches, "batch_sizes", 1, ">= 1")
        set_(self, "batch_sizes", batches)
        if self.batch_scale is not None:
            scale = _int(self.batch_scale, "batch_scale", 1, MAX_BATCH_SCALE)
            if scale & (scale - 1):
                raise SpaceError(f"space.batch_scale must be a power of two (1, 2, 4 ... 64), got {scale}")
            set_(self, "batch_scale", scale)

        set_(
            self,
            "activations",
            _names(self.activations, "activations", KNOWN_ACTIVATIONS),
        )
        set_(self, "optimizers", _names(self.optimizers, "optimizers", KNOWN_OPTIMIZERS))
        set_(self, "lr_schedules", _names(self.lr_schedules, "lr_schedules", KNOWN_SCHEDULES))
        set_(self, "embeddings", _names(self.embeddings, "embeddings", KNOWN_EMBEDDINGS))
        set_(self, "poolings", _names(self.poolings, "poolings", KNOWN_POOLINGS))
        set_(self, "readouts", _names(self.readouts, "readouts", KNOWN_READOUTS))

    @property
    def conv_levels(self) -> int:
        """The conv levels of the layout: ``max_conv_levels``, 0 while it is unset."""
        return self.max_conv_levels or 0

    @property
    def batches(self) -> tuple[int, ...]:
        """The batch sizes the batch-size gene chooses from: ``batch_sizes`` times ``batch_scale``
        (1 while it is unset)."""
        scale = self.batch_scale or 1
        return tuple(b * scale for b in self.batch_sizes)

    @property
    def layout(self) -> GeneLayout:
        """The gene layout of this space (cached per space)."""
        return layout_for(self)

    def for_rows(self, rows: int) -> SearchSpace:
        """The space a run starts with on a table whose trainings fit ``rows`` rows: an unset
        ``batch_scale`` set to :func:`batch_scale_for` ``rows`` (a set one is kept).

        Example:
            >>> SearchSpace().for_rows(100_000).batches
            (64, 128, 256, 512, 1024, 2048)
            >>> SearchSpace().for_rows(40_000).batch_scale
            1
        """
        if self.batch_scale is not None:
            return self
        return dataclasses.replace(self, batch_scale=batch_scale_for(rows))

    def for_data(self, task: str, embeddable: bool = True) -> SearchSpace:
        """The space a run searches on its data: genes that cannot matter there are fixed.

        Label smoothing exists for classification only (``"regression"`` fixes it
        at 0), the ``ple`` embedding only where the data has numeric features to
        encode (``embeddable``). So no two genomes differ only in a gene that cannot
        change the network or its training. The layout stays the same (only the
        upper bounds shrink), and genomes decode alike with either space.
        """
        changes: dict[str, Any] = {}
        if task == "regression" and self.label_smoothings != (0.0,):
            changes["label_smoothings"] = (0.0,)
        if not embeddable and self.embeddings != ("none",):
            changes["embeddings"] = ("none",)
        return dataclasses.replace(self, **changes) if changes else self

    def for_images(self, images: bool) -> SearchSpace:
        """The space a run starts with on its data: ``max_conv_levels`` set.

        Unset, it becomes :data:`IMAGE_CONV_LEVELS` on image data and 0 on a
        table. A table with conv levels asked for is refused: a conv level needs
        the height, width and channels of an image.

        Raises:
            SpaceError: ``max_conv_levels`` > 0 for a table.
        """
        if self.max_conv_levels is None:
            return dataclasses.replace(self, max_conv_levels=IMAGE_CONV_LEVELS if images else 0)
        if self.max_conv_levels and not images:
            raise SpaceError(
                f"space.max_conv_levels = {self.max_conv_levels} needs image data (data.images = true, "
                "an .npz file or a folder of class folders): set it to 0 or leave it out for a table"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able dict (lists, not tuples; an unset ``max_conv_levels`` left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        """Build a space from a mapping such as a TOML ``[space]`` table.

        Missing keys take their defaults; unknown keys raise :class:`SpaceError`.
        """
        if not isinstance(d, Mapping):
            raise SpaceError(f"space must be a table of settings, got {type(d).__name__}")
        known = [f.name for f in fields(cls)]
        for key in d:
            if key not in known:
                raise SpaceError(f"unknown key 'space.{key}' (known: {', '.join(known)})")
        return cls(**dict(d))


def batch_scale_for(rows: int) -> int:
    """The ``batch_scale`` of a table whose trainings fit ``rows`` rows: 1 up to :data:`BATCH_ROWS`,
    then the power of two nearest ``rows / BATCH_ROWS`` (on a log scale), at most :data:`MAX_BATCH_SCALE`.

    Example:
        >>> [batch_scale_for(n) for n in (500, 32_000, 45_000, 46_000, 100_000, 300_000)]
        [1, 1, 1, 2, 4, 8]
    """
    if rows <= BATCH_ROWS:
        return 1
    return min(MAX_BATCH_SCALE, 2 ** round(math.log2(rows / BATCH_ROWS)))


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _int(value: object, key: str, low: int, high: int | None = None) -> int:
    if not _is_int(value):
        raise SpaceError(f"space.{key} must be an integer, got {value!r}")
    value = int(value)  # type: ignore[arg-type]
    if value < low:
        raise SpaceError(f"space.{key} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise SpaceError(f"space.{key} must be <= {high}, got {value}")
    return value


def _float(value: object, key: str) -> float:
    if not _is_real(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise SpaceError(f"space.{key} must be a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _sequence(value: object, key: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise SpaceError(f"space.{key} must be a list, got {value!r}")
    items = tuple(value)  # type: ignore[arg-type]
    if not items:
        raise SpaceError(f"space.{key} must not be empty")
    return items


def _numbers(value: object, key: str, *, integer: bool) -> tuple[Any, ...]:
    items = _sequence(value, key)
    if integer:
        if not all(_is_int(x) for x in items):
            raise SpaceError(f"space.{key} must hold integers, got {list(items)}")
        out: tuple[Any, ...] = tuple(int(x) for x in items)
    else:
        if not all(_is_real(x) and math.isfinite(float(x)) for x in items):
            raise SpaceError(f"space.{key} must hold finite numbers, got {list(items)}")
        out = tuple(float(x) for x in items)
    if any(a >= b for a, b in itertools.pairwise(out)):
        raise SpaceError(f"space.{key} must be sorted and unique, got {list(out)}")
    return out


def _check_min(items: tuple[Any, ...], key: str, low: int, words: str) -> None:
    if any(x < low for x in items):
        raise SpaceError(f"space.{key} must all be {words}, got {list(items)}")


def _names(value: object, key: str, known: frozenset[str]) -> tuple[str, ...]:
    items = _sequence(value, key)
    for name in items:
        if not isinstance(name, str) or name not in known:
            raise SpaceError(f"space.{key}: unknown name {name!r} (known: {', '.join(sorted(known))})")
    if len(set(items)) != len(items):
        raise SpaceError(f"space.{key} must not repeat a name, got {list(items)}")
    return items
