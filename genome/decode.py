"""Decode a genome into an :class:`~genome.architecture.Architecture`.

Rules (also in the README, "The genome"):

1. Slot ``(l, u)`` is active when ``l < n_levels`` and ``u < n_units[l]``;
   genes of inactive slots have no effect.
2. Active level-0 units read the raw input. An active unit at level ``l > 0``
   always reads unit ``(l-1, min(u, n_units[l-1]-1))``. An input bit adds the
   raw input; a skip or lateral bit adds its edge when both slots are active.
3. Each unit is ``Concatenate(inputs) -> [BatchNorm] -> Dense -> [Dropout]``.
4. The output head takes every active unit of the last level and every active
   unit whose output bit is set.
5. Units with no path to the output head are dead and dropped.
6. With conv levels (image data, :mod:`genome.conv`): conv level ``c`` is
   active when ``c < n_conv``; level 0 reads the image, level ``c > 0`` reads
   level ``c - 1`` and every active earlier level whose conv skip bit is set.
   Every active conv level is live (each feeds the next, the last the readout).

Example:
    >>> import numpy as np
    >>> from evonas.genome.operators import random_genome
    >>> space = SearchSpace(max_levels=2, max_units=2)
    >>> arch = decode(space, random_genome(space, np.random.default_rng(0)))
    >>> len(arch.key)
    16
"""

from __future__ import annotations

import numpy as np

from evonas.genome.architecture import INPUT, Architecture, Unit, UnitId
from evonas.genome.conv import ConvLevel
from evonas.genome.space import SearchSpace


def decode(space: SearchSpace, genes: np.ndarray) -> Architecture:
    """Decode ``genes`` (validated against ``space``) into an Architecture.

    Raises:
        SpaceError: the genome does not fit the space's layout.
    """
    layout = space.layout
    g = layout.validate(genes)
    n_levels = int(g[layout.n_levels][0])
    n_units = [int(n) for n in g[layout.n_units][:n_levels]]
    active = [(level, u) for level in range(n_levels) for u in range(n_units[level])]
    active_set = set(active)

    def bit(block: slice, uid: UnitId) -> bool:
        return bool(g[block][layout.slot(*uid)])

    inputs: dict[UnitId, set[UnitId | str]] = {uid: set() for uid in active}
    for level, u in active:
        sources = inputs[(level, u)]
        if level == 0 or bit(layout.input_mask, (level, u)):
            sources.add(INPUT)
        if level > 0:
            sources.add((level - 1, min(u, n_units[level - 1] - 1)))
    for pairs, block in (
        (layout.skip_pairs, layout.skip_mask),
        (layout.lateral_pairs, layout.lateral_mask),
    ):
        for k in np.flatnonzero(g[block]):
            source, target = pairs[k]
            if source in active_set and target in active_set:
                inputs[target].add(source)

    last = n_levels - 1
    outputs = {uid for uid in active if uid[0] == last or bit(layout.output_mask, uid)}

    # Every edge goes to a later (level, index), so a reverse sweep finds all
    # units with a path to the output head.
    live = set(outputs)
    for uid in reversed(active):
        if uid in live:
            live.update(src for src in inputs[uid] if src != INPUT)

    units = tuple(_unit(space, g, layout.slot(*uid), uid, inputs[uid]) for uid in active if uid in live)
    return Architecture(
        units=units,
        outputs=tuple(sorted(outputs)),
        optimizer=space.optimizers[int(g[layout.optimizer][0])],
        learning_rate=space.learning_rates[int(g[layout.learning_rate][0])],
        batch_size=space.batches[int(g[layout.batch_size][0])],
        weight_decay=space.weight_decays[int(g[layout.weight_decay][0])],
        schedule=space.lr_schedules[int(g[layout.lr_schedule][0])],
        label_smoothing=space.label_smoothings[int(g[layout.label_smoothing][0])],
        embedding=space.embeddings[int(g[layout.embedding][0])],
        conv=_conv_levels(space, g),
        readout=space.readouts[int(g[layout.readout][0])] if layout.max_conv_levels else "flatten",
    )


def _conv_levels(space: SearchSpace, g: np.ndarray) -> tuple[ConvLevel, ...]:
    layout = space.layout
    if not layout.max_conv_levels:
        return ()
    n_conv = int(g[layout.n_conv][0])
    skips: dict[int, list[int]] = {c: [] for c in range(n_conv)}
    for k in np.flatnonzero(g[layout.conv_skip]):
        source, target = layout.conv_skip_pairs[k]
        if target < n_conv:
            skips[target].append(source)
    return tuple(
        ConvLevel(
            index=c,
            filters=space.filter_choices[int(g[layout.filters][c])],
            kernel=space.kernel_choices[int(g[layout.kernel][c])],
            activation=space.activations[int(g[layout.conv_activation][c])],
            dropout=space.dropout_choices[int(g[layout.conv_dropout][c])],
            batchnorm=bool(g[layout.conv_batchnorm][c]),
            pooling=space.poolings[int(g[layout.pooling][c])],
            inputs=(INPUT,) if c == 0 else (*sorted(skips[c]), c - 1),
        )
        for c in range(n_conv)
    )


def _unit(
    space: SearchSpace,
    g: np.ndarray,
    slot: int,
    uid: UnitId,
    sources: set[UnitId | str],
) -> Unit:
    layout = space.layout
    ordered: list[UnitId | str] = [INPUT] if INPUT in sources else []
    ordered += sorted(src for src in sources if src != INPUT)  # type: ignore[type-var]
    return Unit(
        level=uid[0],
        index=uid[1],
        neurons=space.neuron_choices[int(g[layout.neurons][slot])],
        activation=space.activations[int(g[layout.activation][slot])],
        dropout=space.dropout_choices[int(g[layout.dropout][slot])],
        batchnorm=bool(g[layout.batchnorm][slot]),
        inputs=tuple(ordered),
    )
