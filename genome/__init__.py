"""The search space and the genome encoding of evonas (pure numpy, no TensorFlow).

A :class:`SearchSpace` fixes the bounds; its :class:`GeneLayout` names the
slices of the 1-D ``int64`` genome; :func:`decode` turns a genome into an
:class:`Architecture` (plain data that ``fitness`` builds into Keras); the
operators create, cross and mutate genomes with an explicit numpy Generator.
"""

from evonas.genome.architecture import (
    EDGE_KINDS,
    INPUT,
    OUTPUT,
    Architecture,
    Unit,
    UnitId,
    diff,
    fmt_lr,
    unit_name,
)
from evonas.genome.conv import ConvLevel, ImageShape
from evonas.genome.decode import decode
from evonas.genome.errors import SpaceError
from evonas.genome.layout import GeneLayout, layout_for
from evonas.genome.operators import (
    crossover_two_point,
    crossover_unit_blocks,
    mutate_effective,
    mutation_kinds,
    random_genome,
)
from evonas.genome.space import KNOWN_ACTIVATIONS, KNOWN_OPTIMIZERS, SearchSpace
from evonas.genome.textbook import textbook_genome

__all__ = [
    "EDGE_KINDS",
    "INPUT",
    "KNOWN_ACTIVATIONS",
    "KNOWN_OPTIMIZERS",
    "OUTPUT",
    "Architecture",
    "ConvLevel",
    "ImageShape",
    "GeneLayout",
    "SearchSpace",
    "SpaceError",
    "Unit",
    "UnitId",
    "crossover_two_point",
    "crossover_unit_blocks",
    "decode",
    "diff",
    "fmt_lr",
    "layout_for",
    "mutate_effective",
    "mutation_kinds",
    "random_genome",
    "textbook_genome",
    "unit_name",
]
