"""The conv block of image genomes: layout, decoding rules, keys, shapes, crossover, words and DOT."""

from __future__ import annotations

import numpy as np
import pytest

from evonas.genome import (
    SearchSpace,
    SpaceError,
    crossover_unit_blocks,
    decode,
    diff,
    mutation_kinds,
    random_genome,
)
from evonas.genome.conv import ConvLevel, conv_params, conv_shapes
from evonas.genome.space import IMAGE_CONV_LEVELS

SPACE = SearchSpace(max_levels=2, max_units=2, max_conv_levels=4)
CONV_BLOCKS = ("filters", "kernel", "conv_activation", "conv_dropout", "conv_batchnorm", "pooling")


def conv_genes(space: SearchSpace = SPACE, n_conv: int = 2, **blocks: dict[int, int]) -> np.ndarray:
    """The lowest genome with ``n_conv`` conv levels and some conv genes set (``filters={1: 2}``)."""
    layout = space.layout
    g = layout.low.copy()
    g[layout.n_conv] = n_conv
    for name, values in blocks.items():
        block = getattr(layout, name)
        for index, value in values.items():
            g[block.start + index] = value
    return g


def test_a_table_space_has_no_conv_gene_and_an_image_space_has_its_blocks() -> None:
    table = SearchSpace().layout
    assert table.max_conv_levels == 0 and table.size == 228
    layout = SPACE.layout
    for name in CONV_BLOCKS:
        block = getattr(layout, name)
        assert block.stop - block.start == 4, name
    assert layout.conv_skip_pairs == ((0, 2), (0, 3), (1, 3))  # s < t - 1, ordered by (t, s)
    assert layout.low[layout.n_conv][0] == 1 and layout.high[layout.n_conv][0] == 4
    assert layout.gene_name(layout.conv_skip.start + 2) == "conv_skip[C1->C3]"
    assert layout.gene_name(layout.pooling.start + 3) == "pooling[C3]"
    assert layout.size == SearchSpace(max_levels=2, max_units=2).layout.size + 1 + 6 * 4 + 3 + 1


def test_for_images_sets_the_conv_levels_and_refuses_them_on_a_table() -> None:
    assert SearchSpace().for_images(True).max_conv_levels == IMAGE_CONV_LEVELS
    assert SearchSpace().for_images(False).max_conv_levels == 0
    assert SearchSpace(max_conv_levels=0).for_images(True).max_conv_levels == 0  # Dense on pixels
    with pytest.raises(SpaceError, match="max_conv_levels = 2 needs image data"):
        SearchSpace(max_conv_levels=2).for_images(False)
    with pytest.raises(SpaceError, match="max_conv_levels must be <= 8"):
        SearchSpace(max_conv_levels=9)
    with pytest.raises(SpaceError, match="kernel_choices must all be odd"):
        SearchSpace(kernel_choices=(2, 3))
    with pytest.raises(SpaceError, match="poolings: unknown name 'sum'"):
        SearchSpace(poolings=("none", "sum"))
    # an unset max_conv_levels is left out of the saved space and read back unset
    assert "max_conv_levels" not in SearchSpace().to_dict()
    assert SearchSpace.from_dict(SPACE.to_dict()) == SPACE


def test_decoding_rules_of_the_conv_block() -> None:
    layout = SPACE.layout
    g = conv_genes(
        n_conv=3, filters={0: 1, 1: 2, 2: 0}, kernel={1: 1}, pooling={0: 1, 2: 2}, conv_batchnorm={1: 1}
    )
    g[layout.readout] = 1
    arch = decode(SPACE, g)
    assert [level.inputs for level in arch.conv] == [("input",), (0,), (1,)]
    assert [(c.filters, c.kernel, c.pooling, c.batchnorm) for c in arch.conv] == [
        (16, 3, "max", False),
        (32, 5, "none", True),
        (8, 3, "avg", False),
    ]
    assert arch.readout == "global_avg"
    # a skip bit adds an earlier level, when both levels are active
    skip = layout.conv_skip.start + layout.conv_skip_pairs.index((0, 2))
    g[skip] = 1
    assert decode(SPACE, g).conv[2].inputs == (0, 1) and decode(SPACE, g).conv[2].skips == (0,)
    g[layout.conv_skip.start + layout.conv_skip_pairs.index((1, 3))] = 1  # level 3 is inactive
    assert len(decode(SPACE, g).conv) == 3


def test_inactive_conv_genes_do_not_change_the_key() -> None:
    layout = SPACE.layout
    base = conv_genes(n_conv=2)
    key = decode(SPACE, base).key
    changed = base.copy()
    for name in CONV_BLOCKS:
        changed[getattr(layout, name).start + 3] = layout.high[getattr(layout, name).start + 3]
    changed[layout.conv_skip.start + layout.conv_skip_pairs.index((1, 3))] = 1
    assert decode(SPACE, changed).key == key
    active = base.copy()
    active[layout.filters.start + 1] += 1
    assert decode(SPACE, active).key != key
    readout = base.copy()
    readout[layout.readout] = 2
    assert decode(SPACE, readout).key != key


def test_a_table_architecture_keeps_its_key() -> None:
    """Conv genes are empty for a table, and the key of a table network is what it was before them."""
    table = SearchSpace(max_levels=2, max_units=2)
    arch = decode(table, table.layout.low.copy())
    assert arch.conv == () and arch.key == "c8af700d5fa471a1"


def test_shapes_and_parameters_follow_pooling_and_skips() -> None:
    a = ConvLevel(0, 8, 3, "relu", 0.0, False, "max", ("input",))
    b = ConvLevel(1, 16, 5, "relu", 0.0, True, "avg", (0,))
    c = ConvLevel(2, 4, 3, "relu", 0.0, False, "none", (0, 1))
    shapes, width = conv_shapes((a, b, c), (7, 9, 3), "flatten")
    # halvings round up: 7x9 -> 4x5 -> 2x3; the skip from C0 adds its 8 channels to C2's input
    assert shapes == [(3, 8, 4, 5), (8, 16, 2, 3), (24, 4, 2, 3)]
    assert width == 2 * 3 * 4
    assert conv_shapes((a, b, c), (7, 9, 3), "global_max")[1] == 4
    assert conv_params((a, b, c), (7, 9, 3)) == (9 * 3 * 8 + 8) + (25 * 8 * 16 + 16 + 4 * 16) + (
        9 * 24 * 4 + 4
    )


def test_parameter_count_needs_the_image_shape() -> None:
    arch = decode(SPACE, conv_genes(n_conv=1))
    with pytest.raises(ValueError, match="needs the image shape"):
        arch.n_params(64, 10)
    assert arch.n_params(64, 10, image_shape=(8, 8, 1)) > 0


def test_crossover_keeps_each_conv_level_whole() -> None:
    layout = SPACE.layout
    a, b = layout.low.copy(), layout.high.copy()
    for seed in range(10):
        c1, c2 = crossover_unit_blocks(SPACE, a, b, np.random.default_rng(seed))
        for c in range(4):
            idx = [getattr(layout, name).start + c for name in CONV_BLOCKS]
            idx += [layout.conv_skip.start + k for k, (_, t) in enumerate(layout.conv_skip_pairs) if t == c]
            from_a = np.array_equal(c1[idx], a[idx])
            assert from_a or np.array_equal(c1[idx], b[idx]), (seed, c)
            assert np.array_equal(c2[idx], b[idx] if from_a else a[idx])


def test_random_genomes_and_mutations_of_an_image_space() -> None:
    rng = np.random.default_rng(5)
    assert set(mutation_kinds(SPACE)) - set(mutation_kinds()) == {
        "n_conv", "filters", "kernel", "conv_activation", "conv_dropout", "conv_batchnorm", "pooling",
        "conv_skip", "readout",
    }  # fmt: skip
    assert mutation_kinds(SearchSpace()) == mutation_kinds()
    counts = {decode(SPACE, random_genome(SPACE, rng)).conv.__len__() for _ in range(50)}
    assert counts == {1, 2, 3, 4}


def test_describe_diff_and_dot_name_the_conv_levels() -> None:
    layout = SPACE.layout
    parent = conv_genes(n_conv=2, pooling={0: 1})
    child = parent.copy()
    child[layout.n_conv] = 3
    child[layout.filters.start + 1] = 2
    child[layout.conv_skip.start + layout.conv_skip_pairs.index((0, 2))] = 1
    child[layout.readout] = 1
    a, b = decode(SPACE, parent), decode(SPACE, child)
    assert a.describe().startswith("conv 8k3-relu+max / 8k3-relu -> flatten | 1 level [1] |")
    assert b.describe().startswith("conv 8k3-relu+max / 32k3-relu / 8k3-relu (1 skip) -> global_avg |")
    assert diff(a, b)[:4] == [
        "conv levels 2 -> 3",
        "+ conv level C2 (8k3-relu)",
        "conv level C1: 8 -> 32 filters",
        "readout flatten -> global_avg",
    ]
    dot = b.to_dot()
    assert '"image" -> "C0"' in dot and '"C0" -> "C2" [style=dashed' in dot
    assert '"C2" -> "input" [color="black", label="global_avg"]' in dot


def test_the_textbook_genome_takes_the_nearest_choices() -> None:
    from evonas.genome import textbook_genome

    image = decode(SPACE, textbook_genome(SPACE))
    assert image.describe() == (
        "conv 32k3-relu+max / 64k3-relu+max -> flatten | 1 level [1] | 128-relu+d0.2 | "
        "0 skip, 0 lateral, 0 input, 0 extra output | adam lr=1e-3 bs=64"
    )
    odd = SearchSpace(
        max_conv_levels=1,
        filter_choices=(8, 24),
        kernel_choices=(5,),
        activations=("gelu", "tanh"),
        poolings=("none", "avg"),
        readouts=("global_avg",),
        neuron_choices=(100, 400),
        optimizers=("sgd", "adamw"),
        learning_rates=(1e-4, 2e-3),
        batch_sizes=(16, 512),
        weight_decays=(0.01, 0.1),
    )
    arch = decode(odd, textbook_genome(odd))
    assert [(c.filters, c.kernel, c.activation, c.pooling) for c in arch.conv] == [(24, 5, "gelu", "none")]
    assert arch.readout == "global_avg" and arch.units[0].neurons == 100  # log-nearest to 128
    assert (arch.optimizer, arch.learning_rate, arch.batch_size, arch.weight_decay) == ("sgd", 2e-3, 16, 0.01)
    table = decode(SearchSpace(), textbook_genome(SearchSpace()))
    assert table.conv == () and table.describe().startswith("1 level [1] | 128-relu+d0.2 |")
