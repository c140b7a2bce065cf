"""Write a genome by hand, decode it, and draw the lattice (the README picture).

.venv/bin/python examples/lattice_picture.py docs/img/lattice.png
"""

from __future__ import annotations

import sys

from evonas.evolve.draw import draw_lattice
from evonas.genome import SearchSpace, decode


def main(path: str) -> None:
    space = SearchSpace()  # 4 levels x 4 units at most
    lay = space.layout
    genes = lay.low.copy()  # 1 level of 1 unit, every bit 0
    genes[lay.n_levels] = 3
    genes[lay.n_units] = [3, 2, 2, 1]  # the 4th level is inactive: its genes have no effect

    def slot(block: slice, level: int, unit: int) -> int:
        return block.start + lay.slot(level, unit)

    for (level, unit), neurons in {
        (0, 0): 128,
        (0, 1): 64,
        (0, 2): 32,
        (1, 0): 64,
        (1, 1): 32,
        (2, 0): 64,
        (2, 1): 16,
    }.items():
        genes[slot(lay.neurons, level, unit)] = space.neuron_choices.index(neurons)
    genes[slot(lay.activation, 0, 1)] = space.activations.index("gelu")
    genes[slot(lay.activation, 1, 1)] = space.activations.index("elu")
    genes[slot(lay.activation, 2, 0)] = space.activations.index("swish")
    genes[slot(lay.dropout, 1, 0)] = space.dropout_choices.index(0.2)
    genes[slot(lay.batchnorm, 1, 1)] = 1
    genes[slot(lay.input_mask, 2, 0)] = 1  # the raw input also feeds L2U0
    genes[slot(lay.output_mask, 0, 0)] = 1  # L0U0 also feeds the output head
    genes[lay.skip_mask.start + lay.skip_pairs.index(((0, 2), (2, 1)))] = 1  # skip L0U2 -> L2U1
    genes[lay.lateral_mask.start + lay.lateral_pairs.index(((1, 0), (1, 1)))] = 1  # lateral L1U0 -> L1U1
    genes[lay.learning_rate] = space.learning_rates.index(1e-3)
    genes[lay.batch_size] = space.batch_sizes.index(32)

    arch = decode(space, genes)
    print(arch.describe())
    print("key", arch.key, "| parameters for 322 inputs:", arch.n_params(322, 1))
    print(draw_lattice(arch, path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lattice.png")
