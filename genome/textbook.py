"""The textbook network of a space: what a practitioner writes first, in the space's own choices.

A search of ``search.textbook = true`` (the default on image data) starts its
generation 0 with this genome and ``population - 1`` random ones, so the search
begins from the network a user would get without one and can only be judged on
what it adds (``docs/benchmarks.md`` measures both starts).

The network, each setting taken as the space's choice nearest to it (numbers on a
log scale, names when the space has them, else its first choice):

- image data: two conv levels of 32 and 64 filters, 3x3, relu, each followed by
  a 2x2 max pooling, then flattened;
- one Dense level of one unit of 128 neurons, relu, dropout 0.2;
- Adam, learning rate 1e-3, batch size 64 (times ``space.batch_scale`` on a large
  table), no weight decay, a constant rate, no
  label smoothing, no embedding; no extra connection.

Example:
    >>> from evonas.genome import SearchSpace, decode
    >>> decode(SearchSpace(max_conv_levels=4), textbook_genome(SearchSpace(max_conv_levels=4))).describe()
    'conv 32k3-relu+max / 64k3-relu+max -> flatten | 1 level [1] | 128-relu+d0.2 | 0 skip, 0 lateral, \
0 input, 0 extra output | adam lr=1e-3 bs=64'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from evonas.genome.space import SearchSpace


def _nearest(choices: Sequence[float], value: float, log: bool = True) -> int:
    """Index of the choice nearest to ``value`` (on a log scale for positive numbers)."""

    def distance(x: float) -> float:
        if log and x > 0 and value > 0:
            return abs(math.log(x) - math.log(value))
        return abs(x - value)

    return min(range(len(choices)), key=lambda i: (distance(float(choices[i])), i))


def _named(choices: Sequence[str], name: str) -> int:
    return choices.index(name) if name in choices else 0


def textbook_genome(space: SearchSpace) -> np.ndarray:
    """The genome of the textbook network of ``space`` (see the module docstring)."""
    layout = space.layout
    g = layout.low.copy()  # 1 level of 1 unit, every connection bit 0
    g[layout.neurons.start] = _nearest(space.neuron_choices, 128)
    g[layout.activation.start] = _named(space.activations, "relu")
    g[layout.dropout.start] = _nearest(space.dropout_choices, 0.2, log=False)
    g[layout.optimizer] = _named(space.optimizers, "adam")
    g[layout.learning_rate] = _nearest(space.learning_rates, 1e-3)
    g[layout.batch_size] = _nearest(space.batch_sizes, 64)
    g[layout.weight_decay] = _nearest(space.weight_decays, 0.0, log=False)
    g[layout.lr_schedule] = _named(space.lr_schedules, "constant")
    g[layout.label_smoothing] = _nearest(space.label_smoothings, 0.0, log=False)
    g[layout.embedding] = _named(space.embeddings, "none")
    if layout.max_conv_levels:
        levels = min(2, layout.max_conv_levels)
        g[layout.n_conv] = levels
        for c, filters in enumerate((32, 64)[:levels]):
            g[layout.filters.start + c] = _nearest(space.filter_choices, filters)
            g[layout.kernel.start + c] = _nearest(space.kernel_choices, 3)
            g[layout.conv_activation.start + c] = _named(space.activations, "relu")
            g[layout.pooling.start + c] = _named(space.poolings, "max")
            g[layout.conv_dropout.start + c] = _nearest(space.dropout_choices, 0.0, log=False)
        g[layout.readout] = _named(space.readouts, "flatten")
    return layout.validate(g)


__all__ = ["textbook_genome"]
