"""The training genes of issue 18: weight decay, learning-rate schedule, label smoothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evonas.genome import Architecture, SearchSpace, SpaceError, decode, diff, random_genome
from evonas.genome.operators import mutate_effective

SPACE = SearchSpace(max_levels=2, max_units=2)


def _with(genes: np.ndarray, **blocks: int) -> np.ndarray:
    out = genes.copy()
    for name, value in blocks.items():
        out[getattr(SPACE.layout, name)] = value
    return out


def test_genes_decode_to_their_choices_and_text():
    base = random_genome(SPACE, np.random.default_rng(0))
    arch = decode(SPACE, _with(base, weight_decay=2, lr_schedule=1, label_smoothing=1))
    assert (arch.weight_decay, arch.schedule, arch.label_smoothing) == (0.01, "cosine", 0.1)
    assert arch.describe().endswith("wd=0.01 cosine ls=0.1")
    plain = decode(SPACE, _with(base, weight_decay=0, lr_schedule=0, label_smoothing=0))
    assert (plain.weight_decay, plain.schedule, plain.label_smoothing) == (0.0, "constant", 0.0)
    assert "wd=" not in plain.describe() and "constant" not in plain.describe()
    assert diff(plain, arch) == [
        "weight decay 0 -> 0.01",
        "schedule constant -> cosine",
        "label smoothing 0 -> 0.1",
    ]
    assert "cosine" in arch.to_dot()


def test_each_gene_changes_the_key_and_defaults_keep_the_old_key():
    base = random_genome(SPACE, np.random.default_rng(1))
    base = _with(base, weight_decay=0, lr_schedule=0, label_smoothing=0)
    arch = decode(SPACE, base)
    keys = {arch.key}
    for name, value in (("weight_decay", 1), ("lr_schedule", 2), ("label_smoothing", 1)):
        keys.add(decode(SPACE, _with(base, **{name: value})).key)
    assert len(keys) == 4
    # default training genes do not enter the key: it is the key of the architecture without them,
    # and it differs from the key of the same network with any of them set
    bare = Architecture(arch.units, arch.outputs, arch.optimizer, arch.learning_rate, arch.batch_size)
    assert bare.key == arch.key
    assert dataclasses.replace(bare, weight_decay=0.001).key != arch.key


def test_bounds_and_validation_of_the_choices():
    layout = SPACE.layout
    assert layout.high[layout.weight_decay][0] == len(SPACE.weight_decays) - 1
    assert layout.high[layout.lr_schedule][0] == 2
    with pytest.raises(SpaceError, match="lr_schedules: unknown name 'linear'"):
        SearchSpace(lr_schedules=("constant", "linear"))
    with pytest.raises(SpaceError, match="weight_decays must all be in"):
        SearchSpace(weight_decays=(0.0, 1.5))
    with pytest.raises(SpaceError, match="label_smoothings must be sorted"):
        SearchSpace(label_smoothings=(0.1, 0.0))
    assert SearchSpace.from_dict(SPACE.to_dict()) == SPACE


def test_regression_runs_fix_label_smoothing_at_zero():
    regression = SPACE.for_data("regression")
    assert regression.label_smoothings == (0.0,) and SPACE.for_data("classification") is SPACE
    assert SPACE.for_data("classification", embeddable=False).embeddings == ("none",)
    assert regression.layout.size == SPACE.layout.size  # same layout: journals decode with either space
    rng = np.random.default_rng(3)
    for _ in range(50):
        genes = mutate_effective(regression, random_genome(regression, rng), rng)
        assert genes[regression.layout.label_smoothing][0] == 0
        assert decode(SPACE, genes).key == decode(regression, genes).key


def test_mutation_reaches_every_training_gene():
    rng = np.random.default_rng(5)
    layout = SPACE.layout
    touched = set()
    for _ in range(300):
        parent = random_genome(SPACE, rng)
        child = mutate_effective(SPACE, parent, rng)
        for name in ("weight_decay", "lr_schedule", "label_smoothing"):
            if child[getattr(layout, name)][0] != parent[getattr(layout, name)][0]:
                touched.add(name)
    assert touched == {"weight_decay", "lr_schedule", "label_smoothing"}
